// Entry of the engine worker thread (bundled to dist/engineWorker.js). Never imports vscode: the model,
// its ONNX session and the monitor's language servers all live here, off the extension host's event loop.
import { parentPort } from 'node:worker_threads';
import { CodeModelWorker } from './codeModelWorker.js';
import { serveEngine, type Port } from './serveEngine.js';

if (!parentPort) throw new Error('engineWorker.js must run in a worker thread');
serveEngine(parentPort as unknown as Port, (spec, log) => CodeModelWorker.load(spec, log));
