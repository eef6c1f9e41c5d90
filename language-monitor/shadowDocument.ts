// The server's private copy of the document being completed: the user's text with the generated text
// spliced in at the cursor, kept in step by incremental didChange and rolled back after the completion.
// The file on disk and in the editor are never touched (the server only sees in-memory text).
import type { Position, TextDocumentContentChangeEvent } from 'vscode-languageserver-protocol';
import type { LspClient } from './lspSession.js';
import { hashString } from './textHash.js';

/** LSP position (UTF-16 code units, like JS strings) of `offset` in `text`, scanning from a known point. */
export function positionAt(text: string, offset: number, from: { offset: number; position: Position } = { offset: 0, position: { line: 0, character: 0 } }): Position {
  let { line, character } = from.position;
  for (let i = from.offset; i < offset; i++) {
    if (text.charCodeAt(i) === 10) { line++; character = 0; } else character++;
  }
  return { line, character };
}

const isHigh = (c: number) => (c & 0xfc00) === 0xd800;
const isLow = (c: number) => (c & 0xfc00) === 0xdc00;

/**
 * The one incremental change that turns `from` into `to` (the span between their common prefix and
 * suffix), or undefined when they are equal. `hint`: a known position at or before the change.
 */
export function changeBetween(from: string, to: string, hint?: { offset: number; position: Position }): TextDocumentContentChangeEvent | undefined {
  if (from === to) return undefined;
  const max = Math.min(from.length, to.length);
  let k = 0;
  while (k < max && from.charCodeAt(k) === to.charCodeAt(k)) k++;
  if (k > 0 && k < max && isHigh(from.charCodeAt(k - 1))) k--; // never split a surrogate pair
  let e = 0;
  while (e < max - k && from.charCodeAt(from.length - 1 - e) === to.charCodeAt(to.length - 1 - e)) e++;
  if (e > 0 && isLow(from.charCodeAt(from.length - e))) e--;
  const start = positionAt(from, k, hint && hint.offset <= k ? hint : undefined);
  const end = positionAt(from, from.length - e, { offset: k, position: start });
  return { range: { start, end }, text: to.slice(k, to.length - e) };
}

/** Makes the server's copy of `uri` hold `text`: didOpen when the session does not have it, else one incremental didChange. */
export function setServerText(client: LspClient, uri: string, languageId: string, text: string, hint?: { offset: number; position: Position }): void {
  const current = client.documentText(uri);
  if (current === undefined) { client.openDocument(uri, languageId, text); return; }
  const change = changeBetween(current, text, hint);
  if (change) client.changeDocument(uri, [change], text);
}

/** Who decides what the server's copy goes back to, and whether a shadow still owns the document. */
export interface ShadowOwner {
  /** The text to restore when the completion ends: the editor's latest (undefined: the shadow's base). */
  restoreText(uri: string): string | undefined;
  released(shadow: ShadowDocument): void;
}

export class ShadowDocument {
  private inserted = '';
  private rolledBack = false;
  private detached = false;
  private readonly cursorPosition: Position;

  constructor(
    private readonly client: LspClient,
    readonly uri: string,
    readonly languageId: string,
    readonly base: string,
    readonly cursor: number,
    private readonly owner?: ShadowOwner,
  ) {
    this.cursorPosition = positionAt(base, cursor);
    setServerText(client, uri, languageId, base);
  }

  /** Hash of the user's text after the cursor (part of answer-cache keys; computed once). */
  get suffixHash(): string {
    this.suffixHashMemo ??= hashString(this.base.slice(this.cursor));
    return this.suffixHashMemo;
  }
  private suffixHashMemo: string | undefined;

  /** The text the server sees now. */
  get text(): string { return this.base.slice(0, this.cursor) + this.inserted + this.base.slice(this.cursor); }
  get insertedText(): string { return this.inserted; }
  /** False once the editor's text changed under this completion or another took the document. */
  get attached(): boolean { return !this.detached && !this.rolledBack; }

  /** Makes the server's copy hold `inserted` at the cursor, sending only the changed span. */
  sync(inserted: string): void {
    if (inserted === this.inserted || !this.attached) return; // a late answer must not undo the rollback
    this.inserted = inserted;
    setServerText(this.client, this.uri, this.languageId, this.text, { offset: this.cursor, position: this.cursorPosition });
  }

  /** Position of an offset in the full text (offsets past the cursor count the inserted text). */
  positionAt(offset: number): Position {
    if (offset <= this.cursor) return positionAt(this.base, offset);
    return positionAt(this.inserted, offset - this.cursor, { offset: 0, position: this.cursorPosition });
  }

  /** The editor's text changed (or another completion took the document): positions here are stale,
   *  and the server's copy is no longer this shadow's to change. */
  detach(): void { this.detached = true; }

  /** Restores the user's latest text in the server's copy. */
  rollback(): void {
    if (this.rolledBack) return;
    if (!this.detached) {
      const restore = this.owner?.restoreText(this.uri) ?? this.base;
      if (this.client.documentText(this.uri) !== undefined) setServerText(this.client, this.uri, this.languageId, restore, { offset: this.cursor, position: this.cursorPosition });
    }
    this.rolledBack = true;
    this.owner?.released(this);
  }
}
