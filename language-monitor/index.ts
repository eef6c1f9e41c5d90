/**
 * language-monitor: monitor-guided decoding over real language servers.
 *
 * One entry point for the command line, the extension and the evaluation harness:
 *
 * ```ts
 * const monitors = await MonitorService.create({ timeoutMs: 300, log: (m) => output.appendLine(m) });
 * await monitors.prepare({ languageId, uri, text });          // optional: start the server early
 * const processors = monitors.createProcessors({ languageId, uri, text, offset, tokenizer, signal });
 * for await (const t of engine.generate(prompt, { maxTokens, processors })) { ... }
 * const report = monitors.finish(processors);   // roll the server's copy back; per-trigger outcomes
 * monitors.syncDocument({ languageId, uri, text });           // the editor's edits (didOpen/didChange)
 * monitors.closeDocument(uri);                                 // the editor closed it (didClose)
 * monitors.statistics();  // triggers, server ms, masked steps, argmax changes, fast-forward savings
 * const context = await monitors.declarations({ languageId, uri, text, offset, readFile }); // imported declarations, bodies elided
 * await monitors.dispose();                                   // stops every server
 * ```
 *
 * - Sessions: one language server per (language, workspace root), started lazily on first use, restarted
 *   with backoff after a crash, stopped by `dispose()`. Built-in: TypeScript/JavaScript through
 *   TypeScript 7 (`tsc --lsp --stdio`; `'typescript-language-server'` + TypeScript 6 as the alternative),
 *   Python through `pyright-langserver --stdio`; others through `servers: { languageId: { command, args,
 *   initializationOptions } }` (the `typeguide.monitor.servers` setting's shape).
 * - `createProcessors` returns logits processors (model/types.ts) for one completion at `offset` in
 *   `text`. The processor reads the generated tokens, mirrors them into a shadow copy of the document
 *   held by the server (the user's file is never touched), detects triggers with tree-sitter
 *   (`expr.`, `new `, argument lists, `case ` over an enum or literal union, named imports), asks the
 *   server, masks tokens that cannot lead to a legal identifier and forces the rest of an identifier when
 *   only one is left (ProcessResult.force). Monitors nest (`save(store.`: the dereference runs inside the
 *   argument monitor). With vocabularies that merge the dot with names (`.get`), `.name` tokens are
 *   constrained as `.` followed by `name`.
 * - The server's copy of a document follows the editor (`syncDocument`); a completion edits it on top and
 *   its rollback restores the editor's latest text.
 * - Never stalls: a server slower than `timeoutMs` (default 300) leaves that trigger unconstrained; a
 *   crashed or not-yet-started server means no constraint; answers are cached across steps and keystrokes.
 *   A reply read within the bound is used however long a forward pass blocked the thread (lspSession.ts).
 * - Returns no processors for languages without a server or URIs outside `file:`.
 * - `declarations` asks the server where the names the file imports are declared (the ones used nearest
 *   the cursor first) and renders those declarations with their bodies left out (declarations.ts), for
 *   the prompt; it reads the files only through the caller's `readFile`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LogitsProcessor, TextTokenizer } from '../model/types.js';
import { importBindingsOf, importedNames, languageOfUri, OutlineCache } from './declarations.js';
import { identifierByteTable, languageFamily, MaskBuilder } from './identifierMask.js';
import { LspSession, type LspClient, type LspSessionOptions } from './lspSession.js';
import { AnswerCache } from './monitors.js';
import { emptyStatistics, MonitorProcessor, type MonitorReport, type MonitorStatistics } from './monitorProcessor.js';
import { ServerDocuments } from './serverDocuments.js';
import { ServerRegistry, type BuiltinServerName, type CustomServerSetting } from './serverRegistry.js';
import { positionAt } from './shadowDocument.js';
import { TokenIndex } from './tokenIndex.js';
import { TriggerDetector, grammarFor, type TriggerKind } from './triggers.js';

export { LspSession, type LspClient, type DefinitionAnswer } from './lspSession.js';
export { importedNames, declarationOutline, type ImportedName, type DeclarationOutline } from './declarations.js';
export { ServerRegistry, builtinServer, type ServerSpec, type CustomServerSetting } from './serverRegistry.js';
export { TriggerDetector, lexicalState, type Trigger, type TriggerKind } from './triggers.js';
export { TokenIndex } from './tokenIndex.js';
export { CandidateSet, MaskBuilder, identifierByteTable } from './identifierMask.js';
export { MonitorProcessor, emptyStatistics, type MonitorStatistics, type MonitorReport, type TriggerReport, type TriggerOutcome } from './monitorProcessor.js';
export { ServerDocuments } from './serverDocuments.js';
export { ShadowDocument, changeBetween, setServerText } from './shadowDocument.js';
export * from './monitors.js';

export interface MonitorServiceOptions {
  /** Per-language server override: a built-in name or a custom command. */
  servers?: Record<string, CustomServerSetting | BuiltinServerName>;
  /** Bound on one server answer before decoding goes on unconstrained (ms). */
  timeoutMs?: number;
  /** Trigger kinds to monitor (default: all implemented). */
  kinds?: readonly TriggerKind[];
  log?: (message: string) => void;
  session?: LspSessionOptions;
  /** Builds the client for a server (tests pass fakes); defaults to a real LspSession. */
  clientFactory?: (registry: ServerRegistry, languageId: string, rootUri: string) => LspClient | undefined;
}

export interface CompletionRequest {
  languageId: string;
  /** file: URI of the document (its folder tree decides the workspace root). */
  uri: string;
  /** The document's current text (the editor buffer, not the file on disk). */
  text: string;
  /** Cursor offset in `text` (UTF-16 code units). */
  offset: number;
  tokenizer: TextTokenizer;
  signal?: AbortSignal;
  /** Workspace root URI; found from tsconfig.json / package.json / pyproject.toml / .git when omitted. */
  rootUri?: string;
}

export interface DeclarationsRequest {
  languageId: string;
  /** file: URI of the document being completed. */
  uri: string;
  /** The document's current text and the cursor offset in it. */
  text: string;
  offset: number;
  rootUri?: string;
  /** Reads a file the server pointed to; undefined refuses it (the engine allows only files inside the workspace and serves open documents from its own copy). Never read files any other way. */
  readFile: (uri: string) => string | undefined;
  /** Most imported names asked about (default 8). */
  maxNames?: number;
  /** Most characters of one declaration (default 1200), cut on a line boundary. */
  maxChars?: number;
  /** Bound on each definition request (ms, default 1500). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A declaration an imported name points to, rendered with its bodies left out. */
export interface DeclarationChunk {
  readonly uri: string;
  /** The imported (local) name that led to it. */
  readonly name: string;
  /** Lines (0-based) the declaration spans in its file. */
  readonly startLine: number;
  readonly endLine: number;
  readonly text: string;
  /** Position of its name in the ranking: 0 is the name used nearest before the cursor. */
  readonly rank: number;
}

const ROOT_MARKERS = ['tsconfig.json', 'jsconfig.json', 'package.json', 'pyproject.toml', 'setup.py', 'pyrightconfig.json', '.git'];

/** The nearest folder above the file that looks like a project root (else the file's folder). */
export function findRootUri(uri: string): string {
  const file = fileURLToPath(uri);
  let dir = path.dirname(file);
  for (;;) {
    if (ROOT_MARKERS.some((m) => fs.existsSync(path.join(dir, m)))) return pathToFileURL(dir).href;
    const up = path.dirname(dir);
    if (up === dir) return pathToFileURL(path.dirname(file)).href;
    dir = up;
  }
}

export class MonitorService {
  private readonly registry: ServerRegistry;
  private readonly sessions = new Map<string, LspClient>();
  private readonly cache = new AnswerCache();
  private readonly documents = new ServerDocuments();
  private readonly masks = new WeakMap<TokenIndex, Map<string, MaskBuilder>>();
  private readonly outlines = new OutlineCache();
  private stats = emptyStatistics();
  private readonly kinds: ReadonlySet<TriggerKind>;
  private disposed = false;

  private constructor(private readonly detector: TriggerDetector, private readonly options: MonitorServiceOptions) {
    this.registry = new ServerRegistry({ servers: options.servers });
    this.kinds = new Set(options.kinds ?? ['dereference', 'new', 'case', 'namedImport', 'arguments']);
  }

  /** Loads the tree-sitter grammars; servers start later, on first use. */
  static async create(options: MonitorServiceOptions = {}): Promise<MonitorService> {
    return new MonitorService(await TriggerDetector.create(), options);
  }

  get timeoutMs(): number { return this.options.timeoutMs ?? 300; }

  /** Whether this language has a server and a grammar. */
  supports(languageId: string): boolean {
    return grammarFor(languageId) !== undefined && this.registry.serverFor(languageId) !== undefined;
  }

  /** The session for a document's language and root, created (not awaited) on first use. */
  sessionFor(languageId: string, uri: string, rootUri?: string): LspClient | undefined {
    if (this.disposed || !uri.startsWith('file:')) return undefined;
    const root = rootUri ?? findRootUri(uri);
    const spec = this.registry.serverFor(languageId);
    if (!spec) return undefined;
    const key = `${spec.name}\u0000${root}`;
    let session = this.sessions.get(key);
    if (!session) {
      session = this.options.clientFactory
        ? this.options.clientFactory(this.registry, languageId, root)
        : new LspSession(spec, root, { log: this.options.log, ...this.options.session });
      if (!session) return undefined;
      this.sessions.set(key, session);
      session.start().catch(() => undefined); // failures are logged by the session; decoding goes on
    }
    return session;
  }

  /** Starts the server for this document and opens it, resolving when the server is ready. */
  async prepare(req: { languageId: string; uri: string; text: string; rootUri?: string; warmupMs?: number }): Promise<boolean> {
    const session = this.sessionFor(req.languageId, req.uri, req.rootUri);
    if (!session) return false;
    try { await session.start(); } catch { return false; }
    this.documents.ensureOpen(session, req.uri, req.languageId, req.text);
    // One throwaway completion makes the server load the project now: a cold project load takes far
    // longer than the per-answer bound, so otherwise the first trigger would go unconstrained.
    if (req.warmupMs !== 0) {
      try { await session.completion(req.uri, { line: 0, character: 0 }, req.warmupMs ?? 20_000); } catch { /* a slow or failing warm-up only costs that trigger */ }
    }
    return true;
  }

  /**
   * The declarations of the imported names the code near the cursor uses, nearest use first (rank),
   * bodies left out. Empty when the language has no grammar or server, or the session is not running;
   * a name whose definition fails, times out or lies in this file or a refused file gives nothing.
   */
  async declarations(req: DeclarationsRequest): Promise<DeclarationChunk[]> {
    if (!grammarFor(req.languageId)) return [];
    const client = this.sessionFor(req.languageId, req.uri, req.rootUri);
    if (!client?.definition || client.state !== 'ready' || req.signal?.aborted) return [];
    // A warm-up's didOpen only: the editor's copy, or a running completion's shadow, stays as it is.
    this.documents.ensureOpen(client, req.uri, req.languageId, req.text);
    const ranked = (await importedNames(req.languageId, req.text, req.offset)).slice(0, req.maxNames ?? 8);
    if (ranked.length === 0) return [];
    // Ask at the binding in the text the server holds (the editor's may differ from the request's).
    const serverText = client.documentText(req.uri) ?? req.text;
    const bindings = serverText === req.text ? ranked : await importBindingsOf(req.languageId, serverText);
    const timeoutMs = req.timeoutMs ?? 1500;
    const answers = await Promise.all(ranked.map(async ({ name }, rank) => {
      const binding = bindings.find((b) => b.name === name);
      if (!binding) return [];
      try {
        const answer = await client.definition!(req.uri, positionAt(serverText, binding.offset), timeoutMs, req.signal);
        return answer.locations.map((location) => ({ name, rank, location }));
      } catch {
        return []; // a failing client costs that name only
      }
    }));
    const chunks: DeclarationChunk[] = [];
    const seen = new Set<string>();
    const texts = new Map<string, string | undefined>();
    for (const { name, rank, location } of answers.flat()) {
      if (req.signal?.aborted) return [];
      if (location.uri === req.uri) continue;
      const languageId = languageOfUri(location.uri);
      if (!languageId) continue;
      if (!texts.has(location.uri)) {
        try { texts.set(location.uri, req.readFile(location.uri)); } catch { texts.set(location.uri, undefined); }
      }
      const text = texts.get(location.uri);
      if (text === undefined) continue;
      const { line, character } = location.range.start;
      const outline = await this.outlines.outline(languageId, location.uri, text, line, character, req.maxChars ?? 1200);
      if (!outline) continue;
      const key = `${location.uri}\u0000${outline.startLine}\u0000${outline.endLine}`;
      if (seen.has(key)) continue;
      seen.add(key);
      chunks.push({ uri: location.uri, name, startLine: outline.startLine, endLine: outline.endLine, text: outline.text, rank });
    }
    return chunks;
  }

  /** Logits processors for one completion; empty when the language is not monitored. */
  createProcessors(req: CompletionRequest): LogitsProcessor[] {
    if (!grammarFor(req.languageId)) return [];
    const client = this.sessionFor(req.languageId, req.uri, req.rootUri);
    if (!client) return [];
    const index = TokenIndex.for(req.tokenizer);
    const family = languageFamily(req.languageId);
    let byFamily = this.masks.get(index);
    if (!byFamily) { byFamily = new Map(); this.masks.set(index, byFamily); }
    const identByte = identifierByteTable(family);
    // One mask buffer per processor: completions may overlap (a new keystroke while one finishes).
    const mask = new MaskBuilder(index, identByte);
    const shadow = this.documents.shadow(client, req.uri, req.languageId, req.text, req.offset);
    return [new MonitorProcessor({
      client, shadow, detector: this.detector, index, mask, identByte, tokenizer: req.tokenizer,
      languageId: req.languageId, cache: this.cache, cacheSalt: String(this.documents.editsElsewhere(req.uri)),
      stats: this.stats, timeoutMs: this.timeoutMs, kinds: this.kinds, signal: req.signal,
    })];
  }

  /**
   * Ends a completion: stops its server requests, puts the server's copy of the document back to the
   * editor's latest text, and reports each trigger (kind, candidates, answer ms, outcome).
   */
  finish(processors: readonly LogitsProcessor[]): MonitorReport {
    const triggers: MonitorReport['triggers'][number][] = [];
    let maskedSteps = 0, changed = 0, forcedTokens = 0;
    for (const p of processors) {
      if (!(p instanceof MonitorProcessor)) continue;
      p.finish();
      const r = p.report();
      triggers.push(...r.triggers);
      maskedSteps += r.maskedSteps;
      changed += r.changed;
      forcedTokens += r.forcedTokens;
    }
    return { triggers, maskedSteps, changed, forcedTokens };
  }

  /**
   * The editor's text of an open document: the server's copy follows it (incremental didChange when the
   * session has it open, didOpen otherwise). Starts the session when needed (not awaited).
   */
  syncDocument(req: { languageId: string; uri: string; text: string; rootUri?: string }): void {
    if (!grammarFor(req.languageId)) return;
    const session = this.sessionFor(req.languageId, req.uri, req.rootUri);
    if (session) this.documents.sync(session, req.uri, req.languageId, req.text);
  }

  /** The editor closed the document: didClose (the server reads the file from disk again). */
  closeDocument(uri: string): void {
    this.documents.close(uri);
  }

  statistics(): MonitorStatistics { return this.stats; }
  resetStatistics(): void {
    const fresh = emptyStatistics();
    Object.assign(this.stats, fresh);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.dispose()));
    this.detector.dispose();
  }
}
