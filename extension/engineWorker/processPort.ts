import type { FromWorker, ToWorker } from './protocol.js';
import type { Port } from './serveEngine.js';

/**
 * serveEngine's port over a forked process's IPC channel. The process ends when the host goes away (the
 * channel disconnects) and after it reported a finished shutdown.
 */
export function processPort(): Port {
  if (!process.send) throw new Error('the engine must run as a forked process (it talks over the IPC channel)');
  process.on('disconnect', () => process.exit(0));
  return {
    postMessage: (m: FromWorker) => {
      if (!process.connected) return;
      process.send!(m, undefined, undefined, () => {
        if (m.type === 'shutdownComplete') process.exit(0);
      });
    },
    on: (_event: 'message', listener: (m: ToWorker) => void) => {
      process.on('message', (m) => listener(m as ToWorker));
    },
  };
}
