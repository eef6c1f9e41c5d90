// Context from the rest of the project, put in the prompt before the current file: what the code near the
// cursor refers to, from other files. Three sources, each bounded and ranked:
//  - declarations of the symbols the file imports, nearest use to the cursor first, found through the
//    language server the monitor runs (go to definition) and rendered as signatures (bodies elided);
//  - ranges the user recently edited in other files;
//  - snippets of other open files most similar to the lines before the cursor.
// Chunks form a ring ordered by when each first entered the prompt (oldest first, newest next to the
// file), so a chunk added, dropped or changed leaves every other chunk's tokens, and the whole current
// file's, in the same order: the prompt cache keeps them and PIE repositions them instead of re-encoding.
//
// Files are read only inside the request's workspace root (real paths, so a link cannot lead out of it),
// and only when the request allows it (`readFiles`: false in an untrusted workspace, where no language
// server runs either). Open documents are served from the engine's own copy.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TextTokenizer } from '../model/types.js';
import type { DocumentMirror } from './documentMirror.js';

export type ContextSource = 'declaration' | 'edit' | 'open-file';

export interface ContextChunk {
  readonly source: ContextSource;
  /** Absolute path of the file the chunk comes from. */
  readonly file: string;
  /** 0-based, inclusive. */
  readonly startLine: number;
  readonly endLine: number;
  readonly text: string;
}

export interface ContextRequest {
  readonly file: string;
  readonly languageId: string;
  /** The document's text and the cursor's offset in it. */
  readonly text: string;
  readonly offset: number;
  readonly workspaceRoot?: string;
  readonly budgetTokens: number;
  /** Read files from disk and ask the language server (false in an untrusted workspace). */
  readonly readFiles: boolean;
}

/** What one prompt's context held: the engine reports it with each completion. */
export interface ContextReport {
  readonly tokens: number;
  readonly budgetTokens: number;
  readonly chunks: readonly { readonly source: ContextSource; readonly path: string; readonly lines: string; readonly tokens: number }[];
}

/** How chunks are written for a model family. */
export type ContextFormat =
  /** Qwen2.5-Coder's repository format: <|repo_name|>name\n<|file_sep|>path\ncode … <|file_sep|>current path\n, before the FIM markers. */
  | { readonly kind: 'qwen-repo'; readonly repoName: number; readonly fileSep: number }
  /** StarCoder2's: <repo_name>name<file_sep>path\ncode … <file_sep>current path\n, before the FIM markers. */
  | { readonly kind: 'starcoder-repo'; readonly repoName: number; readonly fileSep: number }
  /** Every other model: a comment with the path, then the code, as the start of the prefix. */
  | { readonly kind: 'comments' };

/** What the engine's monitor offers for declarations (language-monitor's MonitorService.declarations). */
export interface DeclarationProvider {
  declarations?(req: {
    languageId: string; uri: string; text: string; offset: number; rootUri?: string;
    readFile: (uri: string) => string | undefined; maxNames?: number; maxChars?: number; timeoutMs?: number; signal?: AbortSignal;
  }): Promise<readonly { uri: string; name: string; startLine: number; endLine: number; text: string; rank: number }[]>;
}

/** Least time between two lookups a completion starts for the same file (warm-ups are not limited). */
const BACKGROUND_INTERVAL_MS = 5_000;

/** `promise`'s value, or `onAbort` as soon as `signal` fires (the promise runs on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort: T): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve(onAbort);
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => resolve(onAbort);
    signal.addEventListener('abort', stop, { once: true });
    promise.then(
      (v) => { signal.removeEventListener('abort', stop); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', stop); reject(e instanceof Error ? e : new Error(String(e))); },
    );
  });
}

/** Files larger than this are never read for context. */
const MAX_READ_BYTES = 1024 * 1024;
/** Lines around a recent edit shown as its chunk. */
const EDIT_BEFORE = 4;
const EDIT_AFTER = 8;
/** Lines per open-file snippet, and the step between candidate snippets. */
const SNIPPET_LINES = 16;
const SNIPPET_STEP = 8;
/** Lines before the cursor that open-file snippets are compared with. */
const QUERY_LINES = 24;
/** Least Jaccard similarity of identifiers for an open-file snippet to count. */
const MIN_SIMILARITY = 0.15;
const MAX_EDITS = 12;

interface Declarations {
  readonly key: string;
  readonly chunks: readonly ContextChunk[];
  /** Files whose text the chunks were made from: an edit in one of them makes the set stale. */
  readonly files: ReadonlySet<string>;
  stale: boolean;
}

export class ProjectContext {
  private readonly declarations = new Map<string, Declarations>();
  private readonly gathering = new Map<string, Promise<void>>();
  private readonly attempted = new Map<string, number>();
  private readonly edits: { file: string; line: number }[] = [];
  private readonly ring = new Map<string, number>();
  private ringSeq = 0;
  private snippetChoice: { file: string; line: number; chunks: ContextChunk[] } | undefined;
  private readonly tokenCache = new Map<string, readonly number[]>();
  /** Per open document and version: its lines and the identifier sets of its candidate snippets. */
  private readonly docIndex = new Map<string, { version: number; length: number; lines: string[]; windows: { start: number; end: number; words: Set<string> }[] }>();

  constructor(private readonly deps: {
    readonly mirror: DocumentMirror;
    readonly tokenizer: TextTokenizer;
    readonly format: ContextFormat;
    readonly provider?: DeclarationProvider;
    readonly log?: (message: string) => void;
    /** Makes the language server ready for a document (the engine's warm()); resolves false when there is none. */
    readonly ready?: (req: ContextRequest) => Promise<boolean>;
  }) {}

  /**
   * A document changed, its last change ending at `offset` of the new `text`: remembers where (other files'
   * recent edits), and marks declarations made from it stale.
   */
  noteChange(filePath: string, text: string, offset: number): void {
    for (const d of this.declarations.values()) if (d.files.has(filePath)) d.stale = true;
    if (this.snippetChoice && this.snippetChoice.file !== filePath) this.snippetChoice = undefined; // another file changed: choose again
    const line = lineOf(text, Math.min(offset, text.length));
    const i = this.edits.findIndex((e) => e.file === filePath && Math.abs(e.line - line) <= EDIT_AFTER);
    if (i >= 0) this.edits.splice(i, 1);
    this.edits.push({ file: filePath, line });
    if (this.edits.length > MAX_EDITS) this.edits.shift();
  }

  forget(filePath: string): void {
    this.declarations.delete(filePath);
    this.attempted.delete(filePath);
    this.docIndex.delete(filePath);
    this.snippetChoice = undefined; // it may hold a snippet of the closed file
    for (let i = this.edits.length - 1; i >= 0; i--) if (this.edits[i].file === filePath) this.edits.splice(i, 1);
  }

  /** Whether declarations for this document's imports are known and current. */
  hasDeclarations(req: ContextRequest): boolean {
    const d = this.declarations.get(req.file);
    return d !== undefined && !d.stale && d.key === importsKey(req.text);
  }

  /**
   * Finds the declarations the document's imports point to (through the language server): the slow part,
   * run when a file is opened or the cursor jumps (the editor's warm-up) and by batch fronts before a
   * completion, never inside the keystroke's own request. One at a time per document. The promise
   * settles when `signal` fires, though the lookup runs on (and stores nothing): an awaiter never waits
   * past an abort.
   */
  gather(req: ContextRequest, signal?: AbortSignal, options: { background?: boolean } = {}): Promise<void> {
    if (!req.readFiles || !this.deps.provider?.declarations || !req.workspaceRoot || !path.isAbsolute(req.file)) return Promise.resolve();
    if (this.hasDeclarations(req)) return Promise.resolve();
    const running = this.gathering.get(req.file);
    if (running) return untilAborted(running, signal, undefined);
    // A completion's own lookup (the file had none yet) runs beside its generation, competing for the
    // server and the thread: at most one per file every BACKGROUND_INTERVAL_MS (typing an import line
    // changes the key at every keystroke).
    const now = Date.now();
    if (options.background && now - (this.attempted.get(req.file) ?? -Infinity) < BACKGROUND_INTERVAL_MS) return Promise.resolve();
    this.attempted.set(req.file, now);
    const run = this.gatherNow(req, signal)
      .catch((e: unknown) => this.deps.log?.(`context: declarations for ${req.file} failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => this.gathering.delete(req.file));
    this.gathering.set(req.file, run);
    return untilAborted(run, signal, undefined);
  }

  private async gatherNow(req: ContextRequest, signal?: AbortSignal): Promise<void> {
    const key = importsKey(req.text);
    // A cold server can take seconds to load the project: an abort (the user typed) ends the wait at once.
    if (this.deps.ready && !(await untilAborted(this.deps.ready(req), signal, false))) return;
    if (signal?.aborted) return;
    const root = req.workspaceRoot!;
    const files = new Set<string>();
    const found = await this.deps.provider!.declarations!({
      languageId: req.languageId,
      uri: pathToFileURL(req.file).href,
      text: req.text,
      offset: req.offset,
      rootUri: pathToFileURL(root).href,
      readFile: (uri) => {
        const file = this.readInside(uri, root);
        if (file) files.add(file.path);
        return file?.text;
      },
      signal,
    });
    if (signal?.aborted) return; // what an aborted lookup found is partial: look again next time
    // Nothing found although the file imports something: the server may still be loading, restarting or
    // slower than the bound. Not kept, so the next warm-up asks again.
    if (found.length === 0 && key !== '') return;
    const chunks = found
      .filter((d) => d.uri.startsWith('file:'))
      .map((d): ContextChunk => ({ source: 'declaration', file: fileURLToPath(d.uri), startLine: d.startLine, endLine: d.endLine, text: d.text }));
    this.declarations.set(req.file, { key, chunks, files, stale: false });
  }

  /** A file's text when it lies inside `root`: the editor's copy when it is open, else read from disk. */
  private readInside(uri: string, root: string): { path: string; text: string } | undefined {
    if (!uri.startsWith('file:')) return undefined;
    let file: string;
    try { file = fileURLToPath(uri); } catch { return undefined; }
    const open = this.deps.mirror.get(file);
    if (open && isInside(file, root)) return { path: file, text: open.text };
    try {
      const real = fs.realpathSync(file);
      if (!isInside(real, fs.realpathSync(root))) return undefined;
      if (fs.statSync(real).size > MAX_READ_BYTES) return undefined;
      return { path: file, text: fs.readFileSync(real, 'utf8') };
    } catch {
      return undefined;
    }
  }

  /**
   * The context for one prompt, within the budget: the ranked candidates of every source, the best that
   * fit, laid out in ring order. Synchronous and cheap: it uses only what gather() found and the editor's
   * documents.
   */
  select(req: ContextRequest): { ids: number[]; placement: 'head' | 'prefix'; report: ContextReport } {
    const placement = this.deps.format.kind === 'comments' ? 'prefix' : 'head';
    const empty = { ids: [], placement, report: { tokens: 0, budgetTokens: req.budgetTokens, chunks: [] } } as const;
    if (req.budgetTokens <= 0) return { ...empty, ids: [] };
    const candidates = this.candidates(req);
    const overhead = this.assemble([], req).length;
    let left = req.budgetTokens - overhead;
    const chosen: { chunk: ContextChunk; key: string; ids: readonly number[] }[] = [];
    for (const chunk of candidates) {
      if (left <= 8) break;
      const key = `${chunk.source}\u0000${chunk.file}\u0000${chunk.startLine}`;
      if (chosen.some((c) => c.key === key || (c.chunk.file === chunk.file && overlaps(c.chunk, chunk)))) continue;
      let fitted = chunk;
      // The repository formats put a separator token before each chunk: it counts against the budget.
      const sep = this.deps.format.kind === 'comments' ? 0 : 1;
      let ids = this.tokens(this.renderChunk(fitted, req));
      if (ids.length + sep > left) {
        // Cut the chunk at a line end so that it fits (declarations are ranked; the first matters most).
        const lines = fitted.text.split('\n');
        const keep = Math.floor(lines.length * (left / ids.length)) - 1;
        if (keep < 3) continue;
        fitted = { ...fitted, text: lines.slice(0, keep).join('\n'), endLine: fitted.startLine + keep - 1 };
        ids = this.tokens(this.renderChunk(fitted, req));
        if (ids.length + sep > left) continue;
      }
      chosen.push({ chunk: fitted, key, ids });
      left -= ids.length + sep;
    }
    if (chosen.length === 0) return { ...empty, ids: [] };
    for (const c of chosen) if (!this.ring.has(c.key)) this.ring.set(c.key, this.ringSeq++);
    chosen.sort((a, b) => this.ring.get(a.key)! - this.ring.get(b.key)!);
    this.trimRing();
    const ids = this.assemble(chosen.map((c) => c.ids), req);
    return {
      ids,
      placement,
      report: {
        tokens: ids.length,
        budgetTokens: req.budgetTokens,
        chunks: chosen.map((c) => ({ source: c.chunk.source, path: displayPath(c.chunk.file, req.workspaceRoot), lines: `${c.chunk.startLine + 1}-${c.chunk.endLine + 1}`, tokens: c.ids.length })),
      },
    };
  }

  /** Candidates in priority order: declarations (ranked by the provider), recent edits (newest first), similar open-file snippets. */
  private candidates(req: ContextRequest): ContextChunk[] {
    const out: ContextChunk[] = [];
    const d = this.declarations.get(req.file);
    if (d && req.readFiles) out.push(...d.chunks.filter((c) => c.file !== req.file));
    for (const e of [...this.edits].reverse()) {
      if (e.file === req.file) continue;
      const doc = this.deps.mirror.get(e.file);
      if (!doc || !sameFamily(doc.languageId, req.languageId)) continue;
      const { lines } = this.indexOf(doc);
      const start = Math.max(0, e.line - EDIT_BEFORE);
      const end = Math.min(lines.length - 1, e.line + EDIT_AFTER);
      const text = lines.slice(start, end + 1).join('\n');
      if (text.trim()) out.push({ source: 'edit', file: e.file, startLine: start, endLine: end, text });
    }
    out.push(...this.similarSnippets(req));
    return out;
  }

  /**
   * The open-file snippets most like the lines before the cursor. Chosen again only when the cursor's line
   * changes: typing within a line must not swap a chunk in the middle of the prompt at every keystroke
   * (each swap re-encodes the chunk).
   */
  private similarSnippets(req: ContextRequest): ContextChunk[] {
    const line = lineOf(req.text, req.offset);
    const known = this.snippetChoice;
    if (known && known.file === req.file && known.line === line) return known.chunks;
    const chunks = this.rankSnippets(req);
    this.snippetChoice = { file: req.file, line, chunks };
    return chunks;
  }

  private rankSnippets(req: ContextRequest): ContextChunk[] {
    const before = req.text.slice(0, req.offset).split('\n');
    const query = words(before.slice(-QUERY_LINES).join('\n'));
    if (query.size === 0) return [];
    const scored: { chunk: ContextChunk; score: number }[] = [];
    for (const doc of this.deps.mirror.all()) {
      if (doc.filePath === req.file || !sameFamily(doc.languageId, req.languageId) || doc.text.length > MAX_READ_BYTES) continue;
      const { lines, windows } = this.indexOf(doc);
      let best: { start: number; end: number; score: number } | undefined;
      for (const w of windows) {
        const score = jaccard(query, w.words);
        if (!best || score > best.score) best = { start: w.start, end: w.end, score };
      }
      if (!best || best.score < MIN_SIMILARITY) continue;
      const text = lines.slice(best.start, best.end + 1).join('\n');
      if (text.trim()) scored.push({ chunk: { source: 'open-file', file: doc.filePath, startLine: best.start, endLine: best.end, text }, score: best.score });
    }
    return scored.sort((a, b) => b.score - a.score).slice(0, 3).map((s) => s.chunk);
  }

  /** A document's lines and snippet windows, computed once per version (select() runs at every keystroke). */
  private indexOf(doc: { filePath: string; version: number; text: string }): { lines: string[]; windows: { start: number; end: number; words: Set<string> }[] } {
    const known = this.docIndex.get(doc.filePath);
    if (known && known.version === doc.version && known.length === doc.text.length) return known;
    const lines = doc.text.split('\n');
    const windows: { start: number; end: number; words: Set<string> }[] = [];
    for (let start = 0; start < lines.length; start += SNIPPET_STEP) {
      const end = Math.min(lines.length, start + SNIPPET_LINES) - 1;
      windows.push({ start, end, words: words(lines.slice(start, end + 1).join('\n')) });
      if (end === lines.length - 1) break;
    }
    const entry = { version: doc.version, length: doc.text.length, lines, windows };
    this.docIndex.set(doc.filePath, entry);
    return entry;
  }

  private renderChunk(chunk: ContextChunk, req: ContextRequest): string {
    const p = displayPath(chunk.file, req.workspaceRoot);
    const code = chunk.text.endsWith('\n') ? chunk.text : `${chunk.text}\n`;
    if (this.deps.format.kind !== 'comments') return `${p}\n${code}`;
    return `${commentFor(req.languageId)} ${p}\n${code}\n`;
  }

  private assemble(chunkIds: readonly (readonly number[])[], req: ContextRequest): number[] {
    const f = this.deps.format;
    const p = displayPath(req.file, req.workspaceRoot);
    if (f.kind === 'comments') return [...chunkIds.flat(), ...this.tokens(`${commentFor(req.languageId)} ${p}\n`)];
    const sep = f.fileSep;
    const ids: number[] = [f.repoName, ...this.tokens(f.kind === 'qwen-repo' ? `${repoName(req)}\n` : repoName(req))];
    for (const c of chunkIds) ids.push(sep, ...c);
    ids.push(sep, ...this.tokens(`${p}\n`));
    return ids;
  }

  private tokens(text: string): readonly number[] {
    let ids = this.tokenCache.get(text);
    if (!ids) {
      ids = this.deps.tokenizer.encode(text);
      if (this.tokenCache.size >= 512) this.tokenCache.delete(this.tokenCache.keys().next().value!);
      this.tokenCache.set(text, ids);
    } else {
      this.tokenCache.delete(text);
      this.tokenCache.set(text, ids);
    }
    return ids;
  }

  private trimRing(): void {
    while (this.ring.size > 256) this.ring.delete(this.ring.keys().next().value!);
  }
}

/** The context format a model's tokenizer and FIM family support. */
export function contextFormat(tokenizer: { tokenId(text: string): number | undefined }, family: string | undefined): ContextFormat {
  if (family === 'qwen2.5-coder') {
    const repoName = tokenizer.tokenId('<|repo_name|>');
    const fileSep = tokenizer.tokenId('<|file_sep|>');
    if (repoName !== undefined && fileSep !== undefined) return { kind: 'qwen-repo', repoName, fileSep };
  }
  if (family === 'starcoder') {
    const repoName = tokenizer.tokenId('<repo_name>');
    const fileSep = tokenizer.tokenId('<file_sep>');
    if (repoName !== undefined && fileSep !== undefined) return { kind: 'starcoder-repo', repoName, fileSep };
  }
  return { kind: 'comments' };
}

/** The import lines of a text: declarations are looked up again when they change. */
function importsKey(text: string): string {
  const lines: string[] = [];
  for (const m of text.matchAll(/^[ \t]*(?:import\b|from\s+\S+\s+import\b|export\s+(?:\*|\{[^}]*\}|type\s*\{[^}]*\})\s*from\b).*$/gm)) lines.push(m[0]);
  return lines.join('\n');
}

function isInside(file: string, root: string): boolean {
  const rel = path.relative(root, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function displayPath(file: string, root: string | undefined): string {
  if (root && isInside(file, root)) return path.relative(root, file).split(path.sep).join('/');
  return path.basename(file);
}

function repoName(req: ContextRequest): string {
  return req.workspaceRoot ? path.basename(req.workspaceRoot) : 'project';
}

function commentFor(languageId: string): string {
  return languageId === 'python' ? '#' : '//';
}

function sameFamily(a: string, b: string): boolean {
  const family = (id: string) => (/^(typescript|javascript)(react)?$/.test(id) ? 'js' : id);
  return family(a) === family(b);
}

function lineOf(text: string, offset: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function overlaps(a: ContextChunk, b: ContextChunk): boolean {
  return a.startLine <= b.endLine && b.startLine <= a.endLine;
}

function words(text: string): Set<string> {
  const s = new Set<string>();
  for (const m of text.matchAll(/[A-Za-z_$][\w$]{2,}/g)) s.add(m[0]);
  return s;
}

function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let both = 0;
  for (const w of a) if (b.has(w)) both++;
  return both / (a.size + b.size - both);
}
