import type { DocumentEvent } from '../engineWorker/protocol.js';

/** The editor's view of a document (a vscode.TextDocument, adapted by the host). */
export interface EditorDocument {
  /** The document's URI as a string. */
  readonly key: string;
  /** Path on disk for `file:` documents; others are not mirrored (the engine keys documents by path). */
  readonly filePath?: string;
  readonly languageId: string;
  readonly version: number;
  readonly workspaceRoot?: string;
  /** Read only when the document is opened in the engine (once), never per keystroke. */
  getText(): string;
}

/** One of VS Code's contentChanges: a replaced range as UTF-16 offsets of the text before the change. */
export interface ContentChange {
  readonly rangeOffset: number;
  readonly rangeLength: number;
  readonly text: string;
}

/** Characters before and after the cursor a completion request carries (a 2,048-token prompt fits in them). */
export const WINDOW_BEFORE_CHARS = 8 * 1024;
export const WINDOW_AFTER_CHARS = 2 * 1024;
/** The engine's mirror refuses larger documents (engine/documentMirror.ts). */
export const MAX_MIRRORED_CHARS = 4 * 1024 * 1024;

/** The bounded window around `offset` in a document of `length` characters: [start, end). */
export function windowRange(offset: number, length: number, before = WINDOW_BEFORE_CHARS, after = WINDOW_AFTER_CHARS): { start: number; end: number } {
  const at = Math.max(0, Math.min(offset, length));
  return { start: Math.max(0, at - before), end: Math.min(length, at + after) };
}

/**
 * Keeps the engine's mirror of the editor's documents: an open event with the text once per document in
 * the configured languages, then its changes as they happen, and a close. Also remembers when each
 * document last changed (the keystroke a completion request answers).
 */
export class DocumentSync {
  /** Mirrored documents by key: the version the engine has. */
  private readonly mirrored = new Map<string, { filePath: string; version: number }>();
  private readonly changedAt = new Map<string, number>();

  constructor(
    private readonly post: (event: DocumentEvent) => void,
    private readonly languages: () => readonly string[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the engine mirrors this document at this version (then a request's window is enough). */
  mirrors(doc: Pick<EditorDocument, 'key' | 'version'>): boolean {
    return this.mirrored.get(doc.key)?.version === doc.version;
  }

  /** When the document last changed (Date.now()), if it did since it was opened. */
  lastChange(key: string): number | undefined {
    return this.changedAt.get(key);
  }

  get size(): number {
    return this.mirrored.size;
  }

  opened(doc: EditorDocument): void {
    if (!doc.filePath || !this.languages().includes(doc.languageId)) return;
    const text = doc.getText();
    if (text.length > MAX_MIRRORED_CHARS) return;
    this.mirrored.set(doc.key, { filePath: doc.filePath, version: doc.version });
    this.post({ kind: 'open', filePath: doc.filePath, languageId: doc.languageId, version: doc.version, text, workspaceRoot: doc.workspaceRoot });
  }

  changed(doc: EditorDocument, changes: readonly ContentChange[]): void {
    if (changes.length === 0) return; // a save or a dirty-state change: nothing to send
    this.changedAt.set(doc.key, this.now());
    const m = this.mirrored.get(doc.key);
    if (!m) return;
    m.version = doc.version;
    this.post({ kind: 'change', filePath: m.filePath, version: doc.version, changes: changes.map((c) => ({ offset: c.rangeOffset, length: c.rangeLength, text: c.text })) });
  }

  closed(doc: Pick<EditorDocument, 'key'>): void {
    this.changedAt.delete(doc.key);
    const m = this.mirrored.get(doc.key);
    if (!m) return;
    this.mirrored.delete(doc.key);
    this.post({ kind: 'close', filePath: m.filePath });
  }

  /** The configured languages changed: opens what now qualifies, closes what no longer does. */
  reconcile(open: readonly EditorDocument[]): void {
    const wanted = new Set(open.filter((d) => d.filePath && this.languages().includes(d.languageId)).map((d) => d.key));
    for (const key of [...this.mirrored.keys()]) if (!wanted.has(key)) this.closed({ key });
    for (const d of open) if (wanted.has(d.key) && !this.mirrored.has(d.key)) this.opened(d);
  }

  /** The engine lost its mirror (a model was (re)loaded): sends every document again. */
  reopenAll(open: readonly EditorDocument[]): void {
    this.mirrored.clear();
    for (const d of open) this.opened(d);
  }
}
