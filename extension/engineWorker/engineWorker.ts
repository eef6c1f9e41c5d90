// Entry of the engine process (bundled to dist/engineWorker.js, forked by EngineClient). Never imports
// vscode: the model, its ONNX session and the monitor's language servers all live here, off the extension
// host's event loop and out of its process.
import { CodeModelWorker } from './codeModelWorker.js';
import { processPort } from './processPort.js';
import { serveEngine } from './serveEngine.js';

serveEngine(processPort(), (spec, log) => CodeModelWorker.load(spec, log));
