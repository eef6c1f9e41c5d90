// One language server process over stdio, spoken to with vscode-languageserver-protocol (the protocol
// layer vscode-languageclient is built on, usable in plain Node). Owns the child process, restarts it
// with backoff when it dies, re-opens the shadow documents it knew, and never lets a request block
// longer than the caller's bound: a late, failed or garbled answer is reported as `undefined`.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createProtocolConnection,
  type Message,
  type ProtocolConnection,
  type CompletionItem,
  type CompletionList,
  type Hover,
  type InitializeParams,
  type Location,
  type LocationLink,
  type Position,
  type Range,
  type SignatureHelp,
  type TextDocumentContentChangeEvent,
} from 'vscode-languageserver-protocol/node';
import { SyncMessageReader, SyncMessageWriter } from './rpcStreams.js';
import type { ServerSpec } from './serverRegistry.js';

export type SessionState = 'idle' | 'starting' | 'ready' | 'restarting' | 'failed' | 'disposed';

export interface LspSessionOptions {
  /** Log sink (an output channel in the extension, stderr or a list in tests). */
  log?: (message: string) => void;
  /** First restart delay; doubles per consecutive crash up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Give up after this many consecutive failed starts (the session then answers nothing). */
  maxRestarts?: number;
  /** Bound on initialize (ms). */
  startTimeoutMs?: number;
}

interface OpenDocument { languageId: string; version: number; text: string }

/** Why a request produced no answer (counted by the caller's statistics). */
export type RequestOutcome = 'ok' | 'timeout' | 'error' | 'garbage' | 'notReady' | 'aborted';

export interface CompletionAnswer { items: CompletionItem[] | undefined; outcome: RequestOutcome; ms: number }
export interface SignatureAnswer { help: SignatureHelp | undefined; outcome: RequestOutcome; ms: number }
/** `text`: the hover's contents as plain text (code fences kept), undefined when none came in time. */
export interface HoverAnswer { text: string | undefined; outcome: RequestOutcome; ms: number }
/** Where a symbol is declared: each location's range is the declaration's name (empty when none came in time). */
export interface DefinitionAnswer { locations: { uri: string; range: Range }[]; outcome: RequestOutcome; ms: number }

/** The session as monitors see it; `FakeLspClient` in the tests implements the same shape. */
export interface LspClient {
  readonly state: SessionState;
  start(): Promise<void>;
  openDocument(uri: string, languageId: string, text: string): void;
  /** Applies incremental edits in order; `text` is the full text after them (kept for re-opening). */
  changeDocument(uri: string, changes: TextDocumentContentChangeEvent[], text: string): void;
  closeDocument(uri: string): void;
  documentText(uri: string): string | undefined;
  completion(uri: string, position: Position, timeoutMs: number, signal?: AbortSignal): Promise<CompletionAnswer>;
  signatureHelp(uri: string, position: Position, timeoutMs: number, signal?: AbortSignal): Promise<SignatureAnswer>;
  hover(uri: string, position: Position, timeoutMs: number, signal?: AbortSignal): Promise<HoverAnswer>;
  /** Optional: clients without it (test fakes) give no declarations. */
  definition?(uri: string, position: Position, timeoutMs: number, signal?: AbortSignal): Promise<DefinitionAnswer>;
  dispose(): Promise<void>;
}

/** A server up this long before it exits counts as healthy (its backoff starts over). */
const STABLE_MS = 60_000;
/** Ids of bounded requests start here; the connection numbers its own (initialize, shutdown) from 0. */
const FIRST_REQUEST_ID = 1_000_000;
/** Most extra turns a deadline waits while a reply is still being read from the pipe. */
const MAX_DRAIN_TURNS = 8;

type Settled =
  | { kind: 'reply'; msg: { result?: unknown; error?: { code?: number; message?: string } }; at: number }
  | { kind: 'timeout' | 'aborted' | 'error' };

/**
 * Resolves after the event loop has run an I/O poll phase that began after the call. One setImmediate
 * is not enough: called from an I/O callback it runs in the same loop iteration, before the next poll.
 */
export function ioTurn(): Promise<void> {
  return new Promise((resolve) => { setImmediate(() => setImmediate(resolve)); });
}

export class LspSession implements LspClient {
  private proc: ChildProcess | undefined;
  private conn: ProtocolConnection | undefined;
  private readonly docs = new Map<string, OpenDocument>();
  private startPromise: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private readyAt = 0;
  private loggedOnce = new Set<string>();
  private _state: SessionState = 'idle';
  /** Number of times the process was (re)started; tests wait on it. */
  starts = 0;
  /** The delay before the latest scheduled restart (ms); 0 before any crash. */
  lastRestartDelayMs = 0;
  private readyWaiters: { minStarts: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private readonly log: (message: string) => void;
  private reader: SyncMessageReader | undefined;
  private writer: SyncMessageWriter | undefined;
  /** Bounded requests in flight, by id: settled by the reader the moment their reply is read. */
  private readonly pending = new Map<number, (s: Settled) => void>();
  private nextRequestId = FIRST_REQUEST_ID;
  /** `$/cancelRequest` notifications sent (tests read it). */
  cancelsSent = 0;

  constructor(readonly spec: ServerSpec, readonly rootUri: string, private readonly opts: LspSessionOptions = {}) {
    this.log = opts.log ?? (() => undefined);
  }

  get state(): SessionState { return this._state; }
  /** The server process id while one runs. */
  get pid(): number | undefined { return this.proc?.pid; }

  /** Starts the server (idempotent); resolves when initialized, rejects when the start failed. */
  start(): Promise<void> {
    if (this._state === 'disposed') return Promise.reject(new Error('session disposed'));
    if (this._state === 'ready') return Promise.resolve();
    if (!this.startPromise) {
      this.startPromise = this.launch().finally(() => { this.startPromise = undefined; });
    }
    return this.startPromise;
  }

  private async launch(): Promise<void> {
    this._state = 'starting';
    this.starts++;
    const proc = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const reader = new SyncMessageReader(proc.stdout!, (msg) => this.intercept(msg));
    const writer = new SyncMessageWriter(proc.stdin!);
    const conn = createProtocolConnection(reader, writer);
    this.conn = conn;
    this.reader = reader;
    this.writer = writer;
    proc.stderr?.on('data', () => undefined); // drain; servers log noisily
    proc.stdin?.on('error', () => undefined); // EPIPE after a crash is handled by 'exit'
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err) => reject(err));
      proc.once('exit', (code, sig) => reject(new Error(`${this.spec.name} exited (code ${code}, signal ${sig}) during start`)));
    });
    proc.once('exit', (code, signal) => this.onExit(proc, code, signal));
    proc.once('error', (err) => this.onExit(proc, null, null, err));
    conn.onError(([err]) => this.logOnce('protocol', `${this.spec.name}: protocol error: ${err.message}`));
    // Requests servers make of a client; answered minimally so they proceed.
    conn.onRequest('workspace/configuration', (params: { items?: { section?: string }[] }) =>
      (params.items ?? []).map((item) => this.configurationFor(item.section)));
    conn.onRequest('client/registerCapability', () => null);
    conn.onRequest('client/unregisterCapability', () => null);
    conn.onRequest('window/workDoneProgress/create', () => null);
    conn.onRequest('window/showMessageRequest', () => null);
    conn.onRequest('workspace/workspaceFolders', () => [{ uri: this.rootUri, name: 'root' }]);
    conn.listen();

    const params: InitializeParams = {
      processId: process.pid,
      rootUri: this.rootUri,
      workspaceFolders: [{ uri: this.rootUri, name: 'root' }],
      capabilities: {
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: false },
          completion: {
            completionItem: { snippetSupport: false, labelDetailsSupport: true, documentationFormat: ['plaintext'] },
            contextSupport: true,
          },
          signatureHelp: { signatureInformation: { parameterInformation: { labelOffsetSupport: true } } },
          definition: { dynamicRegistration: false, linkSupport: true },
        },
        workspace: { configuration: true, workspaceFolders: true },
        window: { workDoneProgress: false },
      },
      initializationOptions: this.spec.initializationOptions ?? {},
    };
    const timeoutMs = this.opts.startTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        conn.sendRequest('initialize', params),
        exited,
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${this.spec.name} did not initialize within ${timeoutMs} ms`)), timeoutMs); }),
      ]);
      await conn.sendNotification('initialized', {});
    } catch (err) {
      this.logOnce('start', `${this.spec.name}: start failed: ${(err as Error).message}`);
      this.kill(proc);
      throw err;
    } finally {
      clearTimeout(timer);
      exited.catch(() => undefined);
    }
    if (this.proc !== proc) throw new Error('session restarted during start');
    this._state = 'ready';
    this.readyAt = performance.now();
    this.settleWaiters();
    for (const [uri, doc] of this.docs) {
      void this.notify('textDocument/didOpen', { textDocument: { uri, languageId: doc.languageId, version: doc.version, text: doc.text } });
    }
  }

  private configurationFor(section: string | undefined): unknown {
    const settings = this.spec.settings ?? {};
    if (!section) return settings;
    let value: unknown = settings;
    for (const part of section.split('.')) {
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
    }
    return value ?? null;
  }

  /** Replies to our bounded requests settle them here, in the I/O callback that read them. */
  private intercept(msg: Message): boolean {
    const m = msg as { id?: unknown; method?: unknown };
    if (typeof m.id !== 'number' || m.id < FIRST_REQUEST_ID || m.method !== undefined) return false;
    const settle = this.pending.get(m.id);
    this.pending.delete(m.id);
    settle?.({ kind: 'reply', msg: msg as { result?: unknown; error?: { code?: number; message?: string } }, at: performance.now() });
    return true; // a reply to a request that timed out or was cancelled is dropped
  }

  private onExit(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null, err?: Error): void {
    if (this.proc !== proc) return;
    this.conn?.dispose();
    this.conn = undefined;
    this.reader = undefined;
    this.writer = undefined;
    this.proc = undefined;
    for (const settle of this.pending.values()) settle({ kind: 'error' });
    this.pending.clear();
    if (this._state === 'disposed') return;
    this.logOnce('exit', `${this.spec.name}: server ${err ? `failed: ${err.message}` : `exited (code ${code}, signal ${signal})`}; restarting with backoff, completions continue unconstrained`);
    // A crash after a long healthy run starts the backoff over.
    if (this._state === 'ready' && performance.now() - this.readyAt > STABLE_MS) this.consecutiveFailures = 0;
    this.consecutiveFailures++;
    const max = this.opts.maxRestarts ?? 5;
    if (this.consecutiveFailures > max) {
      this._state = 'failed';
      this.logOnce('failed', `${this.spec.name}: gave up after ${max} restarts`);
      this.settleWaiters();
      return;
    }
    this._state = 'restarting';
    const base = this.opts.initialBackoffMs ?? 200;
    const delay = Math.min(base * 2 ** (this.consecutiveFailures - 1), this.opts.maxBackoffMs ?? 10_000);
    this.lastRestartDelayMs = delay;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start().catch(() => undefined); // a failed start exits the process, which schedules the next try
    }, delay);
    this.settleWaiters();
  }

  /** Resolves once the server is ready after at least `minStarts` starts (e.g. `starts + 1`: after the
   *  next restart); rejects when the session gives up or is disposed first. */
  whenReady(minStarts = 0): Promise<void> {
    if (this._state === 'idle') this.start().catch(() => undefined);
    return new Promise((resolve, reject) => {
      this.readyWaiters.push({ minStarts, resolve, reject });
      this.settleWaiters();
    });
  }

  private settleWaiters(): void {
    const ended = this._state === 'failed' || this._state === 'disposed';
    this.readyWaiters = this.readyWaiters.filter((w) => {
      if (this._state === 'ready' && this.starts >= w.minStarts) w.resolve();
      else if (ended) w.reject(new Error(`${this.spec.name}: session ${this._state}`));
      else return true;
      return false;
    });
    // A pending restart keeps the process alive only while someone waits for it.
    if (this.readyWaiters.length > 0) this.restartTimer?.ref();
    else this.restartTimer?.unref();
  }

  private logOnce(key: string, message: string): void {
    if (this.loggedOnce.has(key)) return;
    this.loggedOnce.add(key);
    this.log(message);
  }

  private async notify(method: string, params: unknown): Promise<void> {
    try {
      await this.conn?.sendNotification(method, params);
    } catch (err) {
      this.logOnce('notify', `${this.spec.name}: ${method} failed: ${(err as Error).message}`);
    }
  }

  openDocument(uri: string, languageId: string, text: string): void {
    const existing = this.docs.get(uri);
    if (existing) {
      if (existing.text !== text) this.changeDocument(uri, [{ text }], text);
      return;
    }
    const doc = { languageId, version: 1, text };
    this.docs.set(uri, doc);
    if (this._state === 'ready') void this.notify('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text } });
  }

  changeDocument(uri: string, changes: TextDocumentContentChangeEvent[], text: string): void {
    const doc = this.docs.get(uri);
    if (!doc) throw new Error(`document not open: ${uri}`);
    doc.version++;
    doc.text = text;
    if (this._state === 'ready') void this.notify('textDocument/didChange', { textDocument: { uri, version: doc.version }, contentChanges: changes });
  }

  closeDocument(uri: string): void {
    if (!this.docs.delete(uri)) return;
    if (this._state === 'ready') void this.notify('textDocument/didClose', { textDocument: { uri } });
  }

  documentText(uri: string): string | undefined { return this.docs.get(uri)?.text; }

  /** Completion items at a position, validated; `items` is undefined when none came in time. */
  async completion(uri: string, position: Position, timeoutMs: number, signal?: AbortSignal): Promise<CompletionAnswer> {
    const answer = await this.request('textDocument/completion', { textDocument: { uri }, position, context: { triggerKind: 1 } }, timeoutMs, signal);
    if (answer.outcome !== 'ok') return { items: undefined, outcome: answer.outcome, ms: answer.ms };
    const items = completionItems(answer.value);
    if (!items) {
      this.logOnce('garbage', `${this.spec.name}: completion answer is not a CompletionItem[] or CompletionList; ignored`);
      return { items: undefined, outcome: 'garbage', ms: answer.ms };
    }
    return { items, outcome: 'ok', ms: answer.ms };
  }

  async signatureHelp(uri: string, position: Position, timeoutMs: number, signal?: AbortSignal): Promise<SignatureAnswer> {
    const answer = await this.request('textDocument/signatureHelp', { textDocument: { uri }, position, context: { triggerKind: 1, isRetrigger: false } }, timeoutMs, signal);
    if (answer.outcome !== 'ok') return { help: undefined, outcome: answer.outcome, ms: answer.ms };
    const value = answer.value as SignatureHelp | null;
    if (value !== null && (typeof value !== 'object' || !Array.isArray(value.signatures))) {
      this.logOnce('garbage', `${this.spec.name}: signatureHelp answer is malformed; ignored`);
      return { help: undefined, outcome: 'garbage', ms: answer.ms };
    }
    return { help: value ?? undefined, outcome: 'ok', ms: answer.ms };
  }

  async hover(uri: string, position: Position, timeoutMs: number, signal?: AbortSignal): Promise<HoverAnswer> {
    const answer = await this.request('textDocument/hover', { textDocument: { uri }, position }, timeoutMs, signal);
    if (answer.outcome !== 'ok') return { text: undefined, outcome: answer.outcome, ms: answer.ms };
    const text = hoverText(answer.value);
    if (text === undefined && answer.value !== null) {
      this.logOnce('garbage', `${this.spec.name}: hover answer is malformed; ignored`);
      return { text: undefined, outcome: 'garbage', ms: answer.ms };
    }
    return { text, outcome: 'ok', ms: answer.ms };
  }

  /** Where the symbol at `position` is declared (Location, Location[] or LocationLink[] answers). */
  async definition(uri: string, position: Position, timeoutMs: number, signal?: AbortSignal): Promise<DefinitionAnswer> {
    const answer = await this.request('textDocument/definition', { textDocument: { uri }, position }, timeoutMs, signal);
    if (answer.outcome !== 'ok') return { locations: [], outcome: answer.outcome, ms: answer.ms };
    const locations = definitionLocations(answer.value);
    if (!locations) {
      this.logOnce('garbage', `${this.spec.name}: definition answer is not a Location, Location[] or LocationLink[]; ignored`);
      return { locations: [], outcome: 'garbage', ms: answer.ms };
    }
    return { locations, outcome: 'ok', ms: answer.ms };
  }

  /**
   * One request bounded by `timeoutMs`; a late answer is dropped (the caller goes on unconstrained) and
   * the server is told to stop working on it (`$/cancelRequest`), as it is when `signal` aborts.
   *
   * The bound is judged by when the reply was read, and the deadline lets the pipe be read first. A
   * model's forward pass blocks this thread for longer than the bound; when the loop resumes, its timers
   * run before its I/O, so a plain timeout would fire before the reply that sat in the pipe all along is
   * read. Here the timer only starts the end: after it fires, the loop gets an I/O turn (more while a
   * reply is still arriving), the reader settles any reply it reads at once (rpcStreams.ts), and only a
   * request still unanswered then is a timeout. `ms` is measured at the read, so it includes the block.
   */
  async request(method: string, params: unknown, timeoutMs: number, signal?: AbortSignal): Promise<{ value: unknown; outcome: RequestOutcome; ms: number }> {
    const t0 = performance.now();
    const done = (value: unknown, outcome: RequestOutcome, at = performance.now()) => ({ value, outcome, ms: at - t0 });
    const writer = this.writer;
    if (this._state !== 'ready' || !writer) {
      if (this._state === 'idle') this.start().catch(() => undefined);
      return done(undefined, 'notReady');
    }
    if (signal?.aborted) return done(undefined, 'aborted');
    const id = this.nextRequestId++;
    let settle!: (s: Settled) => void;
    const settled = new Promise<Settled>((resolve) => { settle = resolve; });
    this.pending.set(id, settle);
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => settle({ kind: 'aborted' });
    try {
      writer.write({ jsonrpc: '2.0', id, method, params } as Message).catch(() => settle({ kind: 'error' }));
      timer = setTimeout(() => { void this.drain().then(() => settle({ kind: 'timeout' })); }, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      const result = await settled;
      if (result.kind !== 'reply') {
        if (this.pending.delete(id) && result.kind !== 'error') this.cancel(id);
        if (result.kind === 'timeout') this.logOnce('timeout', `${this.spec.name}: ${method} slower than ${timeoutMs} ms; decoding continues unconstrained`);
        return done(undefined, result.kind);
      }
      if (result.msg.error) {
        this.logOnce('request', `${this.spec.name}: ${method} failed: ${result.msg.error.message ?? `code ${result.msg.error.code}`}`);
        return done(undefined, 'error', result.at);
      }
      // Only a server that answers counts as recovered: one that crashes on every request backs off further.
      this.consecutiveFailures = 0;
      return done(result.msg.result ?? null, 'ok', result.at);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Lets the loop read what the server already wrote: one I/O turn, more while a reply is mid-read. */
  private async drain(): Promise<void> {
    for (let turn = 0; turn < MAX_DRAIN_TURNS; turn++) {
      const before = this.reader?.bytesRead ?? 0;
      await ioTurn();
      const reader = this.reader;
      if (!reader?.midMessage || reader.bytesRead === before) return;
    }
  }

  private cancel(id: number): void {
    this.cancelsSent++;
    void this.notify('$/cancelRequest', { id });
  }

  private kill(proc: ChildProcess): void {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }

  async dispose(): Promise<void> {
    if (this._state === 'disposed') return;
    const wasReady = this._state === 'ready';
    this._state = 'disposed';
    this.settleWaiters();
    clearTimeout(this.restartTimer);
    const proc = this.proc;
    const conn = this.conn;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    if (wasReady && conn) {
      try {
        await Promise.race([conn.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 500))]);
        await conn.sendNotification('exit');
      } catch { /* the process goes anyway */ }
    }
    const timer = setTimeout(() => this.kill(proc), wasReady ? 1000 : 0);
    await exited;
    clearTimeout(timer);
    conn?.dispose();
    this.proc = undefined;
    this.conn = undefined;
  }
}

/** Validates a completion answer's shape; undefined when it is neither a list nor an item array. */
export function completionItems(value: unknown): CompletionItem[] | undefined {
  const isItem = (x: unknown): x is CompletionItem => !!x && typeof x === 'object' && typeof (x as CompletionItem).label === 'string';
  if (value === null) return [];
  if (Array.isArray(value)) return value.every(isItem) ? value : undefined;
  if (value && typeof value === 'object' && Array.isArray((value as CompletionList).items)) {
    const items = (value as CompletionList).items;
    return items.every(isItem) ? items : undefined;
  }
  return undefined;
}

/** The text of a hover answer (MarkupContent, MarkedString or MarkedString[]); undefined when malformed. */
export function hoverText(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const part = (c: unknown): string | undefined => {
    if (typeof c === 'string') return c;
    if (c && typeof c === 'object' && typeof (c as { value?: unknown }).value === 'string') return (c as { value: string }).value;
    return undefined;
  };
  const contents = (value as Hover).contents as unknown;
  if (Array.isArray(contents)) {
    const parts = contents.map(part);
    return parts.every((p) => p !== undefined) ? parts.join('\n') : undefined;
  }
  return part(contents);
}

function isRange(x: unknown): x is Range {
  const isPosition = (p: unknown) => !!p && typeof p === 'object' && typeof (p as Position).line === 'number' && typeof (p as Position).character === 'number';
  return !!x && typeof x === 'object' && isPosition((x as Range).start) && isPosition((x as Range).end);
}

/**
 * The locations of a definition answer, validated; a LocationLink gives its target's name
 * (targetSelectionRange, else targetRange). Undefined when the answer has another shape.
 */
export function definitionLocations(value: unknown): { uri: string; range: Range }[] | undefined {
  if (value === null) return [];
  const locations: { uri: string; range: Range }[] = [];
  for (const x of Array.isArray(value) ? value : [value]) {
    if (!x || typeof x !== 'object') return undefined;
    const location = x as Partial<Location>;
    const link = x as Partial<LocationLink>;
    if (typeof location.uri === 'string' && isRange(location.range)) locations.push({ uri: location.uri, range: location.range });
    else if (typeof link.targetUri === 'string' && (isRange(link.targetSelectionRange) || isRange(link.targetRange))) {
      locations.push({ uri: link.targetUri, range: isRange(link.targetSelectionRange) ? link.targetSelectionRange : link.targetRange! });
    } else return undefined;
  }
  return locations;
}
