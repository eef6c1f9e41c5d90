import { fork, type ChildProcess } from 'node:child_process';
import type { DocumentEvent, FromWorker, ModelInfo, ModelSpec, ToWorker } from '../engineWorker/protocol.js';
import { silentLog, type CompletionEngine, type GenerateRequest, type GenerateSummary, type GenerationStream, type Log } from './types.js';

export type EngineState = { kind: 'idle' } | { kind: 'loading'; dir: string } | { kind: 'ready'; info: ModelInfo } | { kind: 'error'; message: string };

interface Pending {
  chunks: string[];
  wake: (() => void) | undefined;
  ended: boolean;
  resolveSummary: (s: GenerateSummary) => void;
  rejectSummary: (e: Error) => void;
}

/** Requests fail with this when the engine process ended under them (the crash itself is reported by onCrash). */
export class EngineCrashError extends Error {
  override readonly name = 'EngineCrashError';
}

/** Crashes in a row (each within CRASH_WINDOW_MS of the last) after which the worker is not restarted again. */
const MAX_RESTARTS = 3;
const CRASH_WINDOW_MS = 5 * 60_000;

export interface EngineProcessOptions {
  /** Node options for the engine process (tests run TypeScript entries with `['--import', 'tsx']`). */
  readonly execArgv?: readonly string[];
  /** Extra environment for the engine process. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * glibc's allocator for the engine process: two malloc arenas instead of one per thread onnxruntime runs
 * on, and blocks of 4 MiB or more (a prefill chunk's logits and attention scores) mapped on their own and
 * unmapped on free instead of raising the heap's high-water mark. Measured (24 completions through the
 * engine, 2 threads): RSS 326-332 against 341-346 MiB, ms per token unchanged. A 256 KiB threshold (every
 * KV array of a decode step mapped afresh) cut RSS to ~293 MiB but cost 20-50 % per token in page faults,
 * and without onnxruntime's arena on top ~253 MiB at +70-100 %: latency first. Only settable before the
 * process starts, one reason the engine is a process of its own and not a worker thread.
 */
export const ENGINE_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '4194304', MALLOC_TRIM_THRESHOLD_: '8388608' };

/**
 * V8's young generation for the engine process: 8 MiB semi-spaces. Node 24 (the extension host's runtime
 * in VS Code 1.139 and code-server) sizes them from the heap limit, and the engine's short-lived objects
 * (token arrays, processor state, JSON-RPC messages) then kept a 157 MiB V8 heap. Measured with
 * `npm run bench:storm -- --node <Node 24> --semi default,8,default,8` (600 completions through the
 * engine with the monitor, most aborted as typing does): RSS 403-437 -> 341-357 MiB, V8 heap 157 -> 45
 * MiB, ms per token unchanged (15.6-17.4 default, 16.4-16.6 with the flag); 2 MiB semi-spaces saved
 * ~15 MiB more in a first try, 16 MiB ~25 MiB less.
 */
export const ENGINE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * The extension host's handle on the engine process (dist/engineWorker.js, forked): the model, its ONNX
 * session and the language servers run there, so typing never waits on them, a native crash in
 * onnxruntime ends that process and not the extension host, and its memory is its own (and bounded, see
 * ENGINE_MALLOC_ENV). Generations stream back as IPC messages; aborting a request's signal aborts it in
 * the engine.
 */
export class EngineClient implements CompletionEngine {
  private worker!: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private loadWaiters: { resolve: (i: ModelInfo) => void; reject: (e: Error) => void }[] = [];
  private stateValue: EngineState = { kind: 'idle' };
  private readonly stateListeners = new Set<(s: EngineState) => void>();
  private exited = false;
  private disposing = false;
  /** The model the worker was last asked to load: a restarted worker loads it again. */
  private lastSpec: ModelSpec | undefined;
  private crashes: number[] = [];
  private readonly crashListeners = new Set<(c: { message: string; restarting: boolean }) => void>();

  constructor(private readonly entryFile: string, private readonly log: Log = silentLog, private readonly processOptions: EngineProcessOptions = {}) {
    this.spawn();
  }

  private spawn(): void {
    const worker = fork(this.entryFile, [], {
      // Structured clone over IPC (typed arrays, undefined, Map) like worker_threads' messages.
      serialization: 'advanced',
      execArgv: [...ENGINE_V8_FLAGS, ...(this.processOptions.execArgv ?? [])],
      // ELECTRON_RUN_AS_NODE: in desktop VS Code process.execPath is Electron; this makes it plain Node.
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1', ELECTRON_RUN_AS_NODE: '1', ...ENGINE_MALLOC_ENV, ...this.processOptions.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.worker = worker;
    this.exited = false;
    let error: Error | undefined;
    let stderr = '';
    worker.stderr?.setEncoding('utf8');
    worker.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
      for (const line of chunk.split('\n')) if (line.trim()) this.log.warn(`engine: ${line}`);
    });
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e) => {
      error = e instanceof Error ? e : new Error(String(e));
      this.log.error('engine process failed', e);
      // A process that could not start emits no 'exit'.
      if (worker.pid === undefined && worker === this.worker && !this.exited) {
        this.exited = true;
        if (!this.disposing) this.crashed(error.message);
      }
    });
    worker.on('exit', (code, signal) => {
      if (worker !== this.worker || this.exited) return;
      this.exited = true;
      if (this.disposing || (code === 0 && !error)) return;
      const last = stderr.trim().split('\n').pop();
      this.crashed(error?.message ?? `the engine process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${last ? ` (${last})` : ''}`);
    });
  }

  /**
   * The engine process ended (an uncaught error, out of memory, a native crash in onnxruntime, killed):
   * every request in flight fails, and a new process loads the same model, unless it keeps crashing
   * (MAX_RESTARTS within CRASH_WINDOW_MS of each other), when the error state stays and the user is told.
   */
  private crashed(message: string): void {
    this.failAll(new EngineCrashError(message));
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    const restarting = this.lastSpec !== undefined && this.crashes.length <= MAX_RESTARTS;
    for (const l of [...this.crashListeners]) l({ message, restarting });
    if (!restarting) return;
    this.log.warn(`engine process stopped (${message}); starting a new one`);
    this.spawn();
    this.load(this.lastSpec!).catch(() => undefined); // a failed load reports itself through the state
  }

  /** The worker crashed: `restarting` says whether a new one is loading the model. */
  onCrash(listener: (c: { message: string; restarting: boolean }) => void): { dispose(): void } {
    this.crashListeners.add(listener);
    return { dispose: () => this.crashListeners.delete(listener) };
  }

  get state(): EngineState {
    return this.stateValue;
  }

  onStateChange(listener: (s: EngineState) => void): { dispose(): void } {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  /** Loads (or replaces) the model; resolves when the worker has it ready. */
  load(spec: ModelSpec): Promise<ModelInfo> {
    this.lastSpec = spec;
    if (this.exited) return Promise.reject(new Error('the engine worker has stopped'));
    this.setState({ kind: 'loading', dir: spec.dir });
    return new Promise((resolve, reject) => {
      this.loadWaiters.push({ resolve, reject });
      this.post({ type: 'load', spec });
    });
  }

  warm(request: GenerateRequest): void {
    if (this.state.kind === 'ready') this.post({ type: 'warm', request });
  }

  generate(request: GenerateRequest, signal: AbortSignal): GenerationStream {
    const id = this.nextId++;
    let resolveSummary!: (s: GenerateSummary) => void;
    let rejectSummary!: (e: Error) => void;
    const summary = new Promise<GenerateSummary>((res, rej) => {
      resolveSummary = res;
      rejectSummary = rej;
    });
    summary.catch(() => undefined); // consumers that stop early may never read it
    const p: Pending = { chunks: [], wake: undefined, ended: false, resolveSummary, rejectSummary };
    if (this.exited) {
      // No worker to answer (it crashed and was not restarted): fail now rather than wait forever.
      p.ended = true;
      rejectSummary(new Error('the engine worker has stopped'));
    } else this.pending.set(id, p);
    const abort = (): void => this.post({ type: 'abort', id });
    if (signal.aborted) queueMicrotask(abort);
    else signal.addEventListener('abort', abort, { once: true });
    this.post({ type: 'generate', id, request });

    const post = (m: ToWorker): void => this.post(m);
    async function* stream(): AsyncGenerator<string> {
      try {
        for (;;) {
          if (p.chunks.length > 0) {
            yield p.chunks.shift()!;
            continue;
          }
          if (p.ended) break;
          await new Promise<void>((r) => (p.wake = r));
          p.wake = undefined;
        }
        await summary;
      } finally {
        // A consumer that stops early (a filter ended the completion) stops the worker too.
        if (!p.ended) post({ type: 'abort', id });
        signal.removeEventListener('abort', abort);
      }
    }
    return Object.assign(stream(), { summary });
  }

  /** An editor document opened, changed or closed: the worker mirrors it (requests then carry a window only). */
  document(event: DocumentEvent): void {
    this.post({ type: 'document', event });
  }

  clearCaches(): void {
    this.post({ type: 'clearCaches' });
  }

  restartLanguageServers(): void {
    this.post({ type: 'restartLanguageServers' });
  }

  /** Lets the engine dispose its model (and stop its language servers), then ends the process. */
  async dispose(): Promise<void> {
    this.disposing = true;
    if (this.exited) return;
    const worker = this.worker;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const done = new Promise<void>((resolve) => {
      const onMsg = (m: FromWorker): void => {
        if (m.type === 'shutdownComplete') resolve();
      };
      worker.on('message', onMsg);
      void exited.then(resolve);
      setTimeout(resolve, 5000).unref();
    });
    this.post({ type: 'shutdown' });
    await done;
    if (!this.exited) {
      worker.kill();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    }
    this.exited = true;
  }

  private post(m: ToWorker): void {
    if (this.exited || !this.worker.connected) return;
    // The channel can close between the check and the send (the process is dying): its 'exit' reports it.
    this.worker.send(m, (err) => {
      if (err) this.log.debug(`engine message not delivered: ${err.message}`);
    });
  }

  private setState(s: EngineState): void {
    this.stateValue = s;
    for (const l of [...this.stateListeners]) l(s);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'loaded': {
        this.setState({ kind: 'ready', info: m.info });
        for (const w of this.loadWaiters.splice(0)) w.resolve(m.info);
        break;
      }
      case 'loadFailed': {
        this.setState({ kind: 'error', message: m.message });
        for (const w of this.loadWaiters.splice(0)) w.reject(new Error(m.message));
        break;
      }
      case 'text': {
        const p = this.pending.get(m.id);
        if (p) {
          p.chunks.push(m.text);
          p.wake?.();
        }
        break;
      }
      case 'done':
      case 'failed': {
        const p = this.pending.get(m.id);
        if (!p) break;
        this.pending.delete(m.id);
        p.ended = true;
        if (m.type === 'done') p.resolveSummary(m.summary);
        else p.rejectSummary(new Error(m.message));
        p.wake?.();
        break;
      }
      case 'log':
        if (m.level === 'error') this.log.error(m.message);
        else this.log[m.level](m.message);
        break;
      case 'shutdownComplete':
        break;
    }
  }

  private failAll(e: Error): void {
    this.setState({ kind: 'error', message: e.message });
    for (const w of this.loadWaiters.splice(0)) w.reject(e);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.ended = true;
      p.rejectSummary(e);
      p.wake?.();
    }
  }
}
