import type { FromWorker, ToWorker } from './protocol.js';
import type { LoadWorkerModel, WorkerModel } from './workerModel.js';

/** The side of a message channel the engine talks through (its process's IPC channel, see processPort, or a test's port). */
export interface Port {
  postMessage(message: FromWorker): void;
  on(event: 'message', listener: (message: ToWorker) => void): void;
}

/**
 * The engine worker's loop: loads models on request and runs one generation at a time, streaming text
 * back. A generation is cancelled by an 'abort' message (the host's AbortSignal crossing the thread).
 */
export function serveEngine(port: Port, load: LoadWorkerModel): void {
  let model: WorkerModel | undefined;
  let loading: Promise<WorkerModel | undefined> = Promise.resolve(undefined);
  const running = new Map<number, AbortController>();
  const warming = new Set<AbortController>();
  let queue: Promise<void> = Promise.resolve();
  const log = (level: 'error' | 'warn' | 'info' | 'debug', message: string): void => port.postMessage({ type: 'log', level, message });

  port.on('message', (msg) => {
    switch (msg.type) {
      case 'load': {
        const previous = loading;
        loading = (async () => {
          const old = await previous.catch(() => undefined);
          for (const c of running.values()) c.abort();
          for (const w of warming) w.abort();
          await queue;
          model = undefined;
          await old?.dispose().catch((e: unknown) => log('warn', `disposing the previous model failed: ${String(e)}`));
          const t0 = performance.now();
          try {
            const m = await load(msg.spec, log);
            model = m;
            port.postMessage({ type: 'loaded', info: { ...m.info, loadMs: performance.now() - t0 } });
            return m;
          } catch (e) {
            port.postMessage({ type: 'loadFailed', message: e instanceof Error ? e.message : String(e) });
            return undefined;
          }
        })();
        break;
      }
      case 'document': {
        // Without a model the event is dropped: the host opens every document again once one has loaded
        // (DocumentSync.reopenAll), so the engine's mirror is the only copy in the worker.
        try {
          model?.document(msg.event);
        } catch (err) {
          log('warn', `document event failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        break;
      }
      case 'warm': {
        const controller = new AbortController();
        warming.add(controller);
        queue = queue.then(async () => {
          const m = await loading;
          try {
            if (m && m === model && !controller.signal.aborted) await m.warm?.(msg.request, controller.signal);
          } catch (e) {
            log('debug', `warming a prompt failed: ${e instanceof Error ? e.message : String(e)}`);
          } finally {
            warming.delete(controller);
          }
        });
        break;
      }
      case 'generate': {
        // A real request outranks every warm-up: they stop within one forward pass.
        for (const w of warming) w.abort();
        const controller = new AbortController();
        running.set(msg.id, controller);
        const arrived = Date.now();
        // One generation at a time: the model's session is not re-entrant and two would halve the speed.
        queue = queue.then(async () => {
          const m = await loading;
          try {
            if (!m || m !== model) throw new Error('no model is loaded');
            // Time behind other work, from the keystroke when the host says when it was.
            const msQueue = Date.now() - Math.min(arrived, msg.request.requestedAt ?? arrived);
            if (controller.signal.aborted) {
              port.postMessage({ type: 'done', id: msg.id, summary: { stopReason: 'aborted', tokens: 0, promptTokens: 0, msFirstToken: 0, msTotal: 0, msQueue } });
              return;
            }
            const summary = await m.complete(msg.request, controller.signal, (text) => port.postMessage({ type: 'text', id: msg.id, text }));
            port.postMessage({ type: 'done', id: msg.id, summary: { ...summary, msQueue } });
          } catch (e) {
            port.postMessage({ type: 'failed', id: msg.id, message: e instanceof Error ? e.message : String(e) });
          } finally {
            running.delete(msg.id);
          }
        });
        break;
      }
      case 'abort':
        running.get(msg.id)?.abort();
        break;
      case 'clearCaches':
        model?.clearCaches();
        break;
      case 'restartLanguageServers':
        void model?.restartLanguageServers().catch((e: unknown) => log('error', `restarting language servers failed: ${String(e)}`));
        break;
      case 'shutdown':
        for (const c of running.values()) c.abort();
        for (const w of warming) w.abort();
        void queue
          .then(() => model?.dispose())
          .catch((e: unknown) => log('warn', `dispose failed: ${String(e)}`))
          .finally(() => port.postMessage({ type: 'shutdownComplete' }));
        break;
    }
  });
}
