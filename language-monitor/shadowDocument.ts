// The server's private copy of the document being completed: the user's text with the generated text
// spliced in at the cursor, kept in step by incremental didChange and rolled back after the completion.
// The file on disk and in the editor are never touched (the server only sees in-memory text).
import type { Position } from 'vscode-languageserver-protocol';
import type { LspClient } from './lspSession.js';

/** LSP position (UTF-16 code units, like JS strings) of `offset` in `text`, scanning from a known point. */
export function positionAt(text: string, offset: number, from: { offset: number; position: Position } = { offset: 0, position: { line: 0, character: 0 } }): Position {
  let { line, character } = from.position;
  for (let i = from.offset; i < offset; i++) {
    if (text.charCodeAt(i) === 10) { line++; character = 0; } else character++;
  }
  return { line, character };
}

export class ShadowDocument {
  private inserted = '';
  private rolledBack = false;
  private readonly cursorPosition: Position;

  constructor(
    private readonly client: LspClient,
    readonly uri: string,
    readonly languageId: string,
    readonly base: string,
    readonly cursor: number,
  ) {
    this.cursorPosition = positionAt(base, cursor);
    client.openDocument(uri, languageId, base); // sends a full change when the server's copy differs
  }

  /** The text the server sees now. */
  get text(): string { return this.base.slice(0, this.cursor) + this.inserted + this.base.slice(this.cursor); }
  get insertedText(): string { return this.inserted; }

  /** Makes the server's copy hold `inserted` at the cursor, sending only the changed tail. */
  sync(inserted: string): void {
    if (inserted === this.inserted || this.rolledBack) return; // a late answer must not undo the rollback
    const old = this.inserted;
    let k = 0;
    const max = Math.min(old.length, inserted.length);
    while (k < max && old.charCodeAt(k) === inserted.charCodeAt(k)) k++;
    // Do not split a surrogate pair between the kept and replaced parts.
    if (k > 0 && k < max && (old.charCodeAt(k - 1) & 0xfc00) === 0xd800) k--;
    const start = this.positionOfInserted(old, k);
    const end = this.positionOfInserted(old, old.length);
    this.inserted = inserted;
    this.client.changeDocument(this.uri, [{ range: { start, end }, text: inserted.slice(k) }], this.text);
  }

  /** Position of an offset in the full text (offsets past the cursor count the inserted text). */
  positionAt(offset: number): Position {
    if (offset <= this.cursor) return positionAt(this.base, offset);
    return this.positionOfInserted(this.inserted, offset - this.cursor);
  }

  private positionOfInserted(inserted: string, k: number): Position {
    return positionAt(inserted, k, { offset: 0, position: this.cursorPosition });
  }

  /** Restores the user's text in the server's copy. */
  rollback(): void {
    this.sync('');
    this.rolledBack = true;
  }
}
