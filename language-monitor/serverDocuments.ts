// What the language servers hold of the editor's documents: the editor's latest text of each one
// (kept in step by syncDocument: one incremental didChange per edit, didOpen the first time, didClose
// when the editor closes it), plus at most one completion's shadow edit on top. A completion's rollback
// restores the editor's latest text, not the text its completion started from; an edit that arrives
// during a completion takes the document from that completion's shadow.
import type { LspClient } from './lspSession.js';
import { setServerText, ShadowDocument, type ShadowOwner } from './shadowDocument.js';

interface Entry {
  client: LspClient;
  languageId: string;
  /** The editor's latest text; undefined while only completions (CLI, harness) have opened it. */
  editorText: string | undefined;
  shadow: ShadowDocument | undefined;
  /** `edits` when the editor last changed or closed it. */
  editedAt: number;
}

export class ServerDocuments implements ShadowOwner {
  private readonly docs = new Map<string, Entry>();
  private edits = 0;

  /** The editor's text of `uri` now: the server's copy follows it. */
  sync(client: LspClient, uri: string, languageId: string, text: string): void {
    const entry = this.entry(client, uri, languageId);
    entry.shadow?.detach();
    entry.shadow = undefined;
    if (entry.editorText !== text || client.documentText(uri) !== text) entry.editedAt = ++this.edits;
    entry.editorText = text;
    entry.languageId = languageId;
    setServerText(client, uri, languageId, text);
  }

  /** The editor closed `uri`: the server reads it from disk again. */
  close(uri: string): void {
    const entry = this.docs.get(uri);
    if (!entry) return;
    entry.shadow?.detach();
    this.docs.delete(uri);
    this.edits++;
    this.closed.set(uri, this.edits);
    entry.client.closeDocument(uri);
  }

  private readonly closed = new Map<string, number>();

  /** Opens `text` for a warm-up unless the editor's text or a completion already holds the document. */
  ensureOpen(client: LspClient, uri: string, languageId: string, text: string): void {
    const entry = this.entry(client, uri, languageId);
    if (entry.editorText !== undefined || entry.shadow || client.documentText(uri) !== undefined) return;
    setServerText(client, uri, languageId, text);
  }

  /** A completion's shadow copy of `uri`; a previous completion's shadow there stops editing it. */
  shadow(client: LspClient, uri: string, languageId: string, base: string, cursor: number): ShadowDocument {
    const entry = this.entry(client, uri, languageId);
    entry.shadow?.detach();
    const shadow = new ShadowDocument(client, uri, languageId, base, cursor, this);
    entry.shadow = shadow;
    return shadow;
  }

  restoreText(uri: string): string | undefined { return this.docs.get(uri)?.editorText; }

  released(shadow: ShadowDocument): void {
    const entry = this.docs.get(shadow.uri);
    if (entry?.shadow === shadow) entry.shadow = undefined;
  }

  /**
   * Changes whenever the editor changed or closed a document other than `uri` (a salt for cache keys:
   * the answers at `uri` may depend on the other documents' text).
   */
  editsElsewhere(uri: string): number {
    let latest = 0;
    for (const [other, entry] of this.docs) if (other !== uri && entry.editedAt > latest) latest = entry.editedAt;
    for (const [other, at] of this.closed) if (other !== uri && at > latest) latest = at;
    return latest;
  }

  /** Forgets a session's documents (the session was disposed). */
  forget(client: LspClient): void {
    for (const [uri, entry] of this.docs) if (entry.client === client) this.docs.delete(uri);
  }

  private entry(client: LspClient, uri: string, languageId: string): Entry {
    let entry = this.docs.get(uri);
    if (!entry || entry.client !== client) {
      entry?.shadow?.detach();
      entry = { client, languageId, editorText: undefined, shadow: undefined, editedAt: 0 };
      this.docs.set(uri, entry);
    }
    return entry;
  }
}
