// The engine's copy of the editor's documents: opened with their text once, then followed by incremental
// changes (VS Code's contentChanges, applied in order as LSP applies them). Requests then carry only a
// window around the cursor; the monitor's language server is kept in step from here.

export interface TextChange {
  /** UTF-16 offset in the text before this change. */
  readonly offset: number;
  readonly length: number;
  readonly text: string;
}

export interface MirroredDocument {
  readonly filePath: string;
  readonly languageId: string;
  readonly version: number;
  readonly text: string;
  readonly workspaceRoot?: string;
}

export class DocumentMirror {
  private readonly docs = new Map<string, MirroredDocument>();

  constructor(private readonly maxChars = 4 * 1024 * 1024) {}

  /** Opens (or replaces) a document; false when it is too large to mirror. */
  open(doc: MirroredDocument): boolean {
    if (doc.text.length > this.maxChars) {
      this.docs.delete(doc.filePath);
      return false;
    }
    this.docs.set(doc.filePath, doc);
    return true;
  }

  /**
   * Applies changes in order. Returns the new document, or undefined when the document is unknown, a change
   * falls outside it (the host and the mirror disagree: it is dropped until reopened) or it grew too large.
   */
  change(filePath: string, version: number, changes: readonly TextChange[]): MirroredDocument | undefined {
    const doc = this.docs.get(filePath);
    if (!doc) return undefined;
    let text = doc.text;
    for (const c of changes) {
      if (c.offset < 0 || c.length < 0 || c.offset + c.length > text.length) {
        this.docs.delete(filePath);
        return undefined;
      }
      text = text.slice(0, c.offset) + c.text + text.slice(c.offset + c.length);
    }
    if (text.length > this.maxChars) {
      this.docs.delete(filePath);
      return undefined;
    }
    const next = { ...doc, version, text };
    this.docs.set(filePath, next);
    return next;
  }

  close(filePath: string): boolean {
    return this.docs.delete(filePath);
  }

  get(filePath: string): MirroredDocument | undefined {
    return this.docs.get(filePath);
  }

  all(): MirroredDocument[] {
    return [...this.docs.values()];
  }

  get size(): number {
    return this.docs.size;
  }
}
