// The one completion engine: model + prompt cache (PIE) + monitor, composed once. The extension's worker,
// the CLI and demo, and the evaluation harness all complete through it, so what is measured is what ships.
//
// Order of work for one request, chosen for latency:
//  1. the prompt is tokenized (a bounded window; healing decides what the model re-types);
//  2. the monitor's processors are created at once: a trigger at the cursor (the user's own `.`) sends its
//     server query now, so the answer comes back while the prompt is being encoded;
//  3. the prompt's KV cache is built by the prompt cache (reuse / prefix / PIE) in chunks that an abort
//     stops between two forward passes, and that let the server's reply be read between them;
//  4. decoding streams tokens; the monitor's report (one entry per trigger) comes back with the result.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeModel } from '../model/codeModel.js';
import { AbortedError } from '../model/generate.js';
import type { KvCache } from '../model/kvCache.js';
import { PromptCache, type PromptPath } from '../model/pie/promptCache.js';
import type { GeneratedToken, GenerationResult, LogitsProcessor, StopRule, TextTokenizer } from '../model/types.js';
import type { MonitorReport, TriggerOutcome, TriggerReport } from '../language-monitor/index.js';
import { DocumentMirror, type TextChange } from './documentMirror.js';
import { IdleTrim, mallocTrim } from './memoryTrim.js';
import { ProjectContext, contextFormat, type ContextReport, type ContextRequest, type DeclarationProvider } from './projectContext.js';

export type EngineLog = (level: 'error' | 'warn' | 'info' | 'debug', message: string) => void;

/** What the engine needs of the monitor (language-monitor/'s MonitorService provides it). */
export interface EngineMonitor extends DeclarationProvider {
  supports(languageId: string): boolean;
  prepare(req: { languageId: string; uri: string; text: string; rootUri?: string; warmupMs?: number }): Promise<boolean>;
  createProcessors(req: { languageId: string; uri: string; text: string; offset: number; tokenizer: TextTokenizer; signal?: AbortSignal; rootUri?: string }): LogitsProcessor[];
  /** Ends a completion (rolls the server's copy back); returns the per-trigger report when it has one. */
  finish(processors: readonly LogitsProcessor[]): MonitorReport | undefined;
  /** Keeps the server's copy of an open document in step with the editor. */
  syncDocument?(req: { languageId: string; uri: string; text: string; rootUri?: string }): void;
  closeDocument?(uri: string): void;
  /** Stops the servers; they start again on the next use. */
  restart?(): Promise<void>;
  dispose(): Promise<void>;
}

/** What one completion's monitoring did: language-monitor/ defines it, the engine passes it on. */
export type { MonitorReport, TriggerOutcome, TriggerReport };
export type { ContextReport };

export interface CompletionEngineOptions {
  readonly model: CodeModel;
  /** Monitor-guided decoding; absent: never monitored. */
  readonly monitor?: EngineMonitor;
  readonly log?: EngineLog;
  /**
   * Most prompt tokens (the window around the cursor). Default: 1,024 (a cold prompt of that size is
   * encoded in about half a second on one laptop core by the built-in model; 2,048 doubles that and the
   * memory), less when the model's context is shorter or when a document's KV cache would not fit a
   * quarter of `cacheBytes` (a 1.3 B float32 model: ~256).
   */
  readonly promptWindowTokens?: number;
  /** Tokens per forward pass while encoding a prompt (default 256): bounds how long an abort waits. */
  readonly prefillChunkTokens?: number;
  /**
   * Bytes of KV cache the prompt cache keeps over all documents. Default, with float32 caches whose
   * documents not in use are parked as float16: 64 MiB or two full windows in float32, whichever is more
   * (the built-in model: the document in use and six parked; a 1.3 B float32 model: one and two parked),
   * 96 MiB otherwise. The default prompt window is sized from 96 MiB either way.
   * bench:memory shows what it bounds.
   */
  readonly cacheBytes?: number;
  /** Park inactive documents' float32 caches as float16 (PromptCacheOptions.parkFloat16; default true). */
  readonly parkFloat16?: boolean;
  /** Documents whose prompt caches are kept (default 8). */
  readonly maxDocuments?: number;
  /** Bound on the warm-up query that loads a project into a freshly started server (default 20 s). */
  readonly warmupMs?: number;
  /**
   * Hand the allocator's free heap pages back to the system once the engine has been idle for
   * `trimIdleMs` (default 1,000 ms): glibc's malloc_trim through koffi, Linux only (engine/memoryTrim.ts).
   * Default true.
   */
  readonly trimMemory?: boolean;
  readonly trimIdleMs?: number;
  /** Whether dispose() also disposes the model (default true; false when engines share one model). */
  readonly ownsModel?: boolean;
}

export interface EngineRequest {
  /** The document: an absolute file path (keys the prompt cache, and is what the language server sees). */
  readonly file: string;
  readonly languageId: string;
  /** Text before the cursor: the whole document's or a window's tail. */
  readonly prefix: string;
  /** Text after the cursor: the whole document's or a window's head. */
  readonly suffix: string;
  /** When prefix/suffix are a window: the cursor's offset in the mirrored document (see `documents`). */
  readonly documentOffset?: number;
  readonly workspaceRoot?: string;
  readonly maxTokens: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly seed?: number;
  /** Default: EOS and the end of the block. */
  readonly stop?: readonly StopRule[];
  /** Token healing (default true). */
  readonly heal?: boolean;
  /** Keep and reposition the document's KV cache across requests (default true); false: `cache: 'none'`. */
  readonly pie?: boolean;
  /**
   * How the document's KV cache is reused: 'pie' (prefix reuse, and PIE repositioning after an edit),
   * 'prefix' (only the unchanged prefix is reused), 'none' (the prompt is computed in full, nothing kept).
   * Default: from `pie`.
   */
  readonly cache?: 'pie' | 'prefix' | 'none';
  /** Monitor-guided decoding (default true; nothing happens without a monitor or a server). */
  readonly monitor?: boolean;
  /** Fill in the middle when the model can (default true); false: left context only. */
  readonly fim?: boolean;
  readonly fimOrder?: 'psm' | 'spm';
  /** Overrides the engine's prompt window for this request. */
  readonly maxPromptTokens?: number;
  /** More logits processors, after the monitor's. */
  readonly processors?: readonly LogitsProcessor[];
  /**
   * Greedy decoding goes on while the monitor waits for its server, and the monitor's answer is then
   * checked against what was decoded (GenerationOptions.speculate; the output is the same either way).
   * Default false: measured slower on a 2-core machine, where the forward passes delay the server.
   */
  readonly speculate?: boolean;
  /**
   * Context from other files of the project before the current file (engine/projectContext.ts), within
   * `budgetTokens` on top of the window; absent: none. `readFiles` false (an untrusted workspace): only
   * the editor's open documents are used; nothing is read from disk and no server is asked.
   */
  readonly context?: { readonly budgetTokens: number; readonly readFiles?: boolean };
}

export interface EngineHooks {
  readonly signal?: AbortSignal;
  /** Streamed text (never runs ahead of what a stop rule could still cut). */
  readonly onText?: (text: string) => void;
  readonly onToken?: (token: GeneratedToken) => void;
}

export interface EngineResult {
  readonly text: string;
  readonly tokens: readonly number[];
  /** Tokens the monitor forced (fast-forward). */
  readonly forcedTokens: number;
  readonly stopReason: GenerationResult['stopReason'];
  readonly promptTokens: number;
  /** 'fim:<family>' or 'plain'. */
  readonly format: string;
  /** Text token healing cut off the prompt; the model re-typed it and it is not part of `text`. */
  readonly healed: string;
  readonly prompt: { readonly path: PromptPath | 'uncached'; readonly reason: string; readonly encodedTokens: number; readonly keptTokens: number; readonly rotatedTokens: number };
  /** ms from the request to the prompt's cache being ready (tokenizing + PIE / prefix reuse / prefill). */
  readonly msPrompt: number;
  /** ms from the request to the first generated token (what a user waits for). */
  readonly msFirstToken: number;
  readonly msTotal: number;
  /** Present when the monitor took part. */
  readonly monitor?: MonitorReport;
  /** Present when tokens were decoded ahead of a pending monitor answer (GenerationResult.speculation). */
  readonly speculation?: GenerationResult['speculation'];
  /** Present when the request asked for project context: what went in. */
  readonly context?: ContextReport;
}

const DEFAULT_WINDOW = 1024;
const DEFAULT_CACHE_BYTES = 96 * 1024 * 1024;
/** The prompt cache's default when inactive documents are parked as float16 (see cacheBytes). */
const DEFAULT_PARKED_CACHE_BYTES = 64 * 1024 * 1024;

export class CompletionEngine {
  readonly documents: {
    open(doc: { filePath: string; languageId: string; version: number; text: string; workspaceRoot?: string }): void;
    change(filePath: string, version: number, changes: readonly TextChange[]): void;
    close(filePath: string): void;
  };
  private readonly mirror = new DocumentMirror();
  private readonly promptCache: PromptCache;
  private readonly warming = new Map<string, Promise<boolean>>();
  private readonly log: EngineLog;
  private readonly projectContext: ProjectContext;
  private readonly idleTrim: IdleTrim;
  readonly promptWindowTokens: number;

  constructor(private readonly options: CompletionEngineOptions) {
    const { model } = options;
    this.log = options.log ?? (() => undefined);
    this.idleTrim = new IdleTrim(options.trimMemory === false ? null : mallocTrim(), options.trimIdleMs);
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    const c = model.config;
    const bytesPerToken = 2 * c.numLayers * c.numKvHeads * c.headDim * (model.session.kvDtype === 'float16' ? 2 : 4);
    this.promptWindowTokens = options.promptWindowTokens
      ?? Math.max(128, Math.min(DEFAULT_WINDOW, c.maxPositions - 64, Math.floor(cacheBytes / 4 / bytesPerToken)));
    const park = (options.parkFloat16 ?? true) && model.session.kvDtype === 'float32';
    // Parked: room for the document in use and at least two parked ones, whatever the model's size.
    const parkedCap = Math.max(DEFAULT_PARKED_CACHE_BYTES, 2 * this.promptWindowTokens * bytesPerToken);
    this.promptCache = new PromptCache(
      { config: model.config, forward: (tokens, cache, o) => model.session.forward(tokens, cache, o) },
      {
        maxBytes: options.cacheBytes ?? (park ? parkedCap : DEFAULT_CACHE_BYTES),
        maxDocuments: options.maxDocuments ?? 8, chunkTokens: options.prefillChunkTokens ?? 256, parkFloat16: park,
      },
    );
    this.projectContext = new ProjectContext({
      mirror: this.mirror,
      tokenizer: model.tokenizer,
      format: contextFormat(model.tokenizer, model.fim?.family),
      provider: options.monitor,
      log: (m) => this.log('debug', m),
      ready: (req) => this.warm({ file: req.file, languageId: req.languageId, text: req.text, workspaceRoot: req.workspaceRoot }),
    });
    this.documents = {
      open: (doc) => {
        if (!this.mirror.open(doc)) {
          this.log('info', `${doc.filePath} is too large to mirror; its completions send their own window`);
          return;
        }
        this.syncServer(doc.filePath);
      },
      change: (filePath, version, changes) => {
        const doc = this.mirror.change(filePath, version, changes);
        if (!doc) return;
        const last = changes[changes.length - 1];
        if (last) this.projectContext.noteChange(filePath, doc.text, last.offset + last.text.length);
        this.syncServer(filePath);
      },
      close: (filePath) => {
        this.mirror.close(filePath);
        this.promptCache.forget(filePath);
        this.projectContext.forget(filePath);
        const uri = fileUri(filePath);
        if (uri) this.options.monitor?.closeDocument?.(uri);
      },
    };
  }

  get model(): CodeModel {
    return this.options.model;
  }

  get hasMonitor(): boolean {
    return this.options.monitor !== undefined;
  }

  /** KV cache held by the prompt cache (bytes) and the documents it covers. */
  cacheUsage(): { bytes: number; documents: number; parked: number; mirrored: number } {
    return { bytes: this.promptCache.cachedBytes, documents: this.promptCache.documents, parked: this.promptCache.parkedDocuments, mirrored: this.mirror.size };
  }

  /**
   * Starts the language server for a document and loads its project; resolves when it is ready (false: no
   * server for it). Batch fronts (CLI, harness) await it; the editor never does: its first completions in a
   * project go unmonitored until the server is up rather than wait.
   */
  warm(req: { file: string; languageId: string; text: string; workspaceRoot?: string }): Promise<boolean> {
    const monitor = this.options.monitor;
    const uri = fileUri(req.file);
    if (!monitor || !uri || !monitor.supports(req.languageId)) return Promise.resolve(false);
    const rootUri = req.workspaceRoot ? pathToFileURL(req.workspaceRoot).href : undefined;
    const key = `${req.languageId}\u0000${rootUri ?? path.dirname(req.file)}`;
    let ready = this.warming.get(key);
    if (!ready) {
      ready = monitor.prepare({ languageId: req.languageId, uri, text: req.text, rootUri, warmupMs: this.options.warmupMs ?? 20_000 })
        .catch((e: unknown) => {
          this.log('warn', `language server for ${req.languageId} failed to start: ${e instanceof Error ? e.message : String(e)}`);
          return false;
        });
      this.warming.set(key, ready);
      void ready.then((ok) => {
        this.log(ok ? 'info' : 'warn', ok ? `language server ready for ${req.languageId}` : `no language server for ${req.languageId}; completions are unmonitored`);
        if (!ok) this.warming.delete(key); // try again later
      });
    }
    return ready;
  }

  /** One completion at the cursor between `prefix` and `suffix`. Aborting `signal` stops it within one forward pass. */
  async complete(req: EngineRequest, hooks: EngineHooks = {}): Promise<EngineResult> {
    this.idleTrim.begin();
    try {
      return await this.completeNow(req, hooks);
    } finally {
      this.idleTrim.end();
    }
  }

  private async completeNow(req: EngineRequest, hooks: EngineHooks): Promise<EngineResult> {
    const t0 = performance.now();
    const since = (): number => performance.now() - t0;
    const signal = hooks.signal ?? new AbortController().signal;
    const model = this.options.model;
    const ctxReq = this.contextRequest(req);
    // Declarations are looked up off the keystroke's path: this completion uses what is known now.
    if (ctxReq) void this.projectContext.gather(ctxReq, undefined, { background: true });
    const prompt = this.buildPrompt(req, ctxReq);

    // The monitor first: its query for a trigger at the cursor then overlaps the prompt's encoding.
    const processors = req.monitor === false ? [] : this.monitorProcessors(req, prompt.healed, signal);
    let cache: KvCache | undefined;
    let promptInfo: EngineResult['prompt'] = { path: 'uncached', reason: 'PIE is off for this request', encodedTokens: 0, keptTokens: 0, rotatedTokens: 0 };
    const aborted = (): EngineResult => this.abortedResult(prompt, promptInfo, since(), processors);
    try {
      const reuse = req.cache ?? (req.pie === false ? 'none' : 'pie');
      if (reuse !== 'none' && prompt.ids.length > 1) {
        try {
          const prepared = await this.promptCache.prepare(req.file, prompt.ids, { signal, pie: reuse === 'pie' });
          cache = prepared.cache;
          promptInfo = { path: prepared.path, reason: prepared.reason, encodedTokens: prepared.encodedTokens, keptTokens: prepared.keptTokens, rotatedTokens: prepared.rotatedTokens };
        } catch (e) {
          if (e instanceof AbortedError || signal.aborted) return aborted();
          this.log('warn', `prompt cache failed, computing the prompt in full: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      const msPrompt = since();
      let forcedTokens = 0;
      let msFirstToken = -1;
      let streamed = '';
      const it = model.generate({ ...prompt, cache }, {
        maxTokens: req.maxTokens,
        temperature: req.temperature,
        topP: req.topP,
        seed: req.seed,
        stop: req.stop ?? [{ kind: 'eos' }, { kind: 'endOfBlock' }],
        processors: [...processors, ...(req.processors ?? [])],
        signal,
        prefillChunkTokens: this.options.prefillChunkTokens,
        speculate: req.speculate,
      });
      let step = await it.next();
      while (!step.done) {
        const token = step.value;
        if (msFirstToken < 0) msFirstToken = since();
        if (token.forced) forcedTokens++;
        hooks.onToken?.(token);
        if (token.text) {
          streamed += token.text;
          hooks.onText?.(token.text);
        }
        step = await it.next();
      }
      const result = step.value;
      // The generator holds back text a stop rule might still cut; the result has the final tail.
      if (result.text.length > streamed.length && result.text.startsWith(streamed)) hooks.onText?.(result.text.slice(streamed.length));
      const monitor = this.endMonitor(processors);
      return {
        text: result.text,
        tokens: result.tokens,
        forcedTokens,
        stopReason: result.stopReason,
        promptTokens: prompt.ids.length,
        format: prompt.format,
        healed: prompt.healed,
        prompt: promptInfo,
        msPrompt,
        msFirstToken: msFirstToken < 0 ? since() : msFirstToken,
        msTotal: since(),
        ...(monitor ? { monitor } : {}),
        ...(result.speculation ? { speculation: result.speculation } : {}),
        ...(prompt.context ? { context: prompt.context } : {}),
      };
    } finally {
      this.endMonitor(processors); // also on errors: rolls the server's copy of the document back
    }
  }

  /**
   * Encodes the prompt `req` would have into the document's KV cache, generating nothing: the editor calls
   * it when the user opens a file or jumps far, so that the completion that follows costs a few tokens
   * instead of the whole window. Resolves false when aborted (a real request arrived) or not cacheable.
   */
  async warmPrompt(req: EngineRequest, signal?: AbortSignal): Promise<boolean> {
    this.idleTrim.begin();
    try {
      return await this.warmPromptNow(req, signal);
    } finally {
      this.idleTrim.end();
    }
  }

  private async warmPromptNow(req: EngineRequest, signal?: AbortSignal): Promise<boolean> {
    const reuse = req.cache ?? (req.pie === false ? 'none' : 'pie');
    const ctxReq = this.contextRequest(req);
    if (reuse === 'none') {
      if (ctxReq) void this.projectContext.gather(ctxReq, signal);
      return false;
    }
    const encode = async (): Promise<boolean> => {
      const prompt = this.buildPrompt(req, ctxReq);
      if (prompt.ids.length <= 1 || signal?.aborted) return false;
      try {
        await this.promptCache.prepare(req.file, prompt.ids, { signal, pie: reuse === 'pie' });
        return true;
      } catch (e) {
        if (e instanceof AbortedError || signal?.aborted) return false;
        throw e;
      }
    };
    if (!ctxReq || this.projectContext.hasDeclarations(ctxReq)) return encode();
    // The file's own window first, with the context known now: the keystroke that follows may come before
    // the language server has answered. Then the declarations, and the prompt again with them (PIE
    // repositions the file's rows behind the new chunks instead of encoding them again).
    if (!(await encode())) return false;
    await this.projectContext.gather(ctxReq, signal); // settles at an abort, however long the server takes
    return signal?.aborted ? false : encode();
  }

  /**
   * Finds the declarations the document's imports point to (through the language server), so that the
   * next completion's context has them. The editor's warm-up (warmPrompt) does this when a file is opened or
   * the cursor jumps; batch fronts (the CLI, the harness) await it before a completion, as the editor's
   * warm-up precedes the user's keystroke.
   */
  async prepareContext(req: EngineRequest, signal?: AbortSignal): Promise<void> {
    const ctxReq = this.contextRequest(req);
    if (ctxReq) await this.projectContext.gather(ctxReq, signal);
  }

  /** The prompt `req` would have now (token ids, format, and its project context): for tests and diagnostics. */
  promptFor(req: EngineRequest): { readonly ids: readonly number[]; readonly format: string; readonly context?: ContextReport } {
    return this.buildPrompt(req, this.contextRequest(req));
  }

  private contextRequest(req: EngineRequest): ContextRequest | undefined {
    const budget = req.context?.budgetTokens ?? 0;
    if (budget <= 0) return undefined;
    const doc = this.monitorDocument(req);
    return {
      file: req.file, languageId: req.languageId, text: doc.text, offset: doc.offset, workspaceRoot: req.workspaceRoot,
      readFiles: req.context?.readFiles ?? true,
      // Context comes on top of the window: never past the model's positions.
      budgetTokens: Math.min(budget, this.options.model.config.maxPositions - (req.maxPromptTokens ?? this.promptWindowTokens) - req.maxTokens - 8),
    };
  }

  private buildPrompt(req: EngineRequest, ctxReq?: ContextRequest): ReturnType<CodeModel['buildPrompt']> & { context?: ContextReport } {
    const windowTokens = req.maxPromptTokens ?? this.promptWindowTokens;
    const docStart = req.documentOffset !== undefined ? Math.max(0, req.documentOffset - req.prefix.length) : 0;
    const { prefix, suffix } = anchoredWindow(req.prefix, req.suffix, docStart, windowTokens, req.fim !== false && this.options.model.fim !== undefined);
    const selected = ctxReq && ctxReq.budgetTokens > 0 ? this.projectContext.select(ctxReq) : undefined;
    const prompt = this.options.model.buildPrompt(prefix, suffix, {
      maxTokens: req.maxTokens,
      maxPromptTokens: windowTokens,
      heal: req.heal ?? true,
      noFim: req.fim === false,
      fimOrder: req.fimOrder,
      ...(selected && selected.ids.length > 0 ? { context: { ids: selected.ids, placement: selected.placement } } : {}),
    });
    return ctxReq ? { ...prompt, context: selected?.report ?? { tokens: 0, budgetTokens: ctxReq.budgetTokens, chunks: [] } } : prompt;
  }

  clearCaches(): void {
    this.promptCache.clear();
  }

  /** Stops the language servers; they start again on the next document or completion. */
  async restartMonitor(): Promise<void> {
    await this.options.monitor?.restart?.();
    this.warming.clear();
    // The new servers know nothing of the editor's documents: give them the mirrored texts.
    for (const doc of this.mirror.all()) this.syncServer(doc.filePath);
  }

  /** Idle trims of the allocator's heaps so far (see engine/memoryTrim.ts); enabled = glibc and koffi found. */
  memoryTrims(): { enabled: boolean; trims: number; ms: number } {
    return { enabled: this.idleTrim.enabled, trims: this.idleTrim.trims, ms: Math.round(this.idleTrim.trimMs * 10) / 10 };
  }

  async dispose(): Promise<void> {
    this.idleTrim.dispose();
    this.promptCache.dispose();
    await this.options.monitor?.dispose();
    if (this.options.ownsModel ?? true) await this.options.model.dispose();
  }

  private monitorProcessors(req: EngineRequest, healed: string, signal: AbortSignal): LogitsProcessor[] {
    const monitor = this.options.monitor;
    const uri = fileUri(req.file);
    if (!monitor || !uri || !monitor.supports(req.languageId)) return [];
    const doc = this.monitorDocument(req);
    // Never waits: a server that is not up yet leaves this completion unmonitored.
    void this.warm({ file: req.file, languageId: req.languageId, text: doc.text, workspaceRoot: req.workspaceRoot });
    // The monitor sees the healed text as generated text, so its document must not contain it.
    const cut = doc.offset - healed.length;
    try {
      return monitor.createProcessors({
        languageId: req.languageId,
        uri,
        text: healed ? doc.text.slice(0, cut) + doc.text.slice(doc.offset) : doc.text,
        offset: cut,
        tokenizer: this.options.model.tokenizer,
        signal,
        rootUri: req.workspaceRoot ? pathToFileURL(req.workspaceRoot).href : undefined,
      });
    } catch (e) {
      this.log('warn', `monitor unavailable for this completion: ${e instanceof Error ? e.message : String(e)}`);
      return [];
    }
  }

  /** The whole document when the mirror holds the one the window was cut from, else the window itself. */
  private monitorDocument(req: EngineRequest): { text: string; offset: number } {
    const at = req.documentOffset;
    const doc = at === undefined ? undefined : this.mirror.get(req.file);
    if (doc && at !== undefined && at >= req.prefix.length && doc.text.startsWith(req.prefix, at - req.prefix.length) && doc.text.startsWith(req.suffix, at)) {
      return { text: doc.text, offset: at };
    }
    return { text: req.prefix + req.suffix, offset: req.prefix.length };
  }

  private readonly ended = new WeakSet<readonly LogitsProcessor[]>();

  private endMonitor(processors: readonly LogitsProcessor[]): MonitorReport | undefined {
    if (processors.length === 0 || this.ended.has(processors)) return undefined;
    this.ended.add(processors);
    return this.options.monitor?.finish(processors) ?? NO_REPORT;
  }

  private abortedResult(prompt: { ids: readonly number[]; format: string; healed: string }, info: EngineResult['prompt'], ms: number, processors: readonly LogitsProcessor[]): EngineResult {
    const monitor = this.endMonitor(processors);
    return {
      text: '', tokens: [], forcedTokens: 0, stopReason: 'aborted', promptTokens: prompt.ids.length, format: prompt.format,
      healed: prompt.healed, prompt: info, msPrompt: ms, msFirstToken: ms, msTotal: ms, ...(monitor ? { monitor } : {}),
    };
  }

  private syncServer(filePath: string): void {
    const monitor = this.options.monitor;
    const doc = this.mirror.get(filePath);
    const uri = fileUri(filePath);
    if (!monitor || !doc || !uri || !monitor.supports(doc.languageId)) return;
    const rootUri = doc.workspaceRoot ? pathToFileURL(doc.workspaceRoot).href : undefined;
    void this.warm({ file: filePath, languageId: doc.languageId, text: doc.text, workspaceRoot: doc.workspaceRoot });
    monitor.syncDocument?.({ languageId: doc.languageId, uri, text: doc.text, rootUri });
  }
}

/** Characters per token assumed when cutting windows (code averages ~3.5; less leaves room to spare). */
const CHARS_PER_TOKEN = 3;

/**
 * Cuts the text around the cursor to what a prompt of `windowTokens` holds, at ends that stay put while
 * the user types at the cursor, so that each keystroke only appends to the cached prompt:
 *  - the prefix starts at a line start at or after a block boundary in document offsets (the text before
 *    the cursor does not move when the user types there); it moves by a whole block, rarely;
 *  - the suffix is whole lines after the cursor, as many as fit (the text after the cursor does not change
 *    when the user types).
 * A window that slid with each character would change the prompt's first tokens at every keystroke, and
 * every keystroke would re-encode or reposition the whole prompt. `docStart`: the document offset of
 * `prefix[0]` (the editor may send a window of its own).
 */
export function anchoredWindow(prefix: string, suffix: string, docStart: number, windowTokens: number, fim: boolean): { prefix: string; suffix: string } {
  const room = Math.max(16, windowTokens - 4);
  const prefixTokens = fim ? Math.floor(room * 0.75) : room;
  const maxPrefix = prefixTokens * CHARS_PER_TOKEN;
  let cutPrefix = prefix;
  const cursor = docStart + prefix.length;
  if (prefix.length > maxPrefix) {
    const block = Math.max(64, Math.floor(maxPrefix / 4));
    const startDoc = Math.ceil((cursor - maxPrefix) / block) * block;
    let start = Math.max(0, startDoc - docStart);
    const nl = prefix.indexOf('\n', start);
    if (nl >= 0 && nl < start + block && nl + 1 < prefix.length) start = nl + 1;
    cutPrefix = prefix.slice(start);
  }
  let cutSuffix = suffix;
  const maxSuffix = (room - prefixTokens) * CHARS_PER_TOKEN;
  if (fim && suffix.length > maxSuffix) {
    const nl = suffix.lastIndexOf('\n', maxSuffix);
    cutSuffix = suffix.slice(0, nl > 0 ? nl + 1 : maxSuffix);
  }
  return { prefix: cutPrefix, suffix: cutSuffix };
}

function fileUri(file: string): string | undefined {
  return path.isAbsolute(file) ? pathToFileURL(file).href : undefined;
}

/** The report of a monitor that took part but reports nothing. */
const NO_REPORT: MonitorReport = { triggers: [], maskedSteps: 0, changed: 0, forcedTokens: 0 };

/** Trigger counts by outcome, the shape statistics and the harness's JSON use. */
export function countTriggers(report: MonitorReport | undefined): { total: number; constrained: number; timeout: number; noAnswer: number; unconstrainedAny: number; error: number } {
  const c = { total: 0, constrained: 0, timeout: 0, noAnswer: 0, unconstrainedAny: 0, error: 0 };
  for (const t of report?.triggers ?? []) {
    c.total++;
    if (t.outcome === 'constrained') c.constrained++;
    else if (t.outcome === 'timeout') c.timeout++;
    else if (t.outcome === 'no-answer') c.noAnswer++;
    else if (t.outcome === 'unconstrained-any') c.unconstrainedAny++;
    else c.error++;
  }
  return c;
}
