// The server's copy of the editor's documents (ServerDocuments, ShadowDocument) over a recording fake
// client: one incremental change per edit, positions in UTF-16 units, surrogate pairs never split, the
// rollback restoring the editor's latest text, a shadow that lost its document to an edit staying quiet.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver-protocol';
import { changeBetween, ServerDocuments, type LspClient } from '../../../language-monitor/index.js';

/** Applies LSP changes to a text as a server does. */
function apply(text: string, changes: TextDocumentContentChangeEvent[]): string {
  for (const c of changes) {
    if (!('range' in c)) { text = c.text; continue; }
    const lines = text.split('\n');
    const offset = (p: { line: number; character: number }) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
    text = text.slice(0, offset(c.range.start)) + c.text + text.slice(offset(c.range.end));
  }
  return text;
}

/** A client that keeps the text a server would hold, computed from the events it was sent. */
class FakeLspClient implements LspClient {
  readonly state = 'ready' as const;
  readonly server = new Map<string, string>();
  readonly events: string[] = [];
  private readonly docs = new Map<string, string>();
  start(): Promise<void> { return Promise.resolve(); }
  openDocument(uri: string, _languageId: string, text: string): void { this.docs.set(uri, text); this.server.set(uri, text); this.events.push('open'); }
  changeDocument(uri: string, changes: TextDocumentContentChangeEvent[], text: string): void {
    this.docs.set(uri, text);
    this.server.set(uri, apply(this.server.get(uri)!, changes));
    this.events.push(changes.every((c) => 'range' in c) ? 'change' : 'full');
  }
  closeDocument(uri: string): void { this.docs.delete(uri); this.server.delete(uri); this.events.push('close'); }
  documentText(uri: string): string | undefined { return this.docs.get(uri); }
  completion(): never { throw new Error('not used'); }
  signatureHelp(): never { throw new Error('not used'); }
  hover(): never { throw new Error('not used'); }
  dispose(): Promise<void> { return Promise.resolve(); }
}

const URI = 'file:///w/a.ts';

void test('changeBetween: the span between the common prefix and suffix, never inside a surrogate pair', () => {
  assert.equal(changeBetween('abc', 'abc'), undefined);
  assert.deepEqual(changeBetween('one\ntwo\nthree', 'one\ntwo!\nthree'), { range: { start: { line: 1, character: 3 }, end: { line: 1, character: 3 } }, text: '!' });
  for (const [from, to] of [['x😀y', 'x😁y'], ['😀', '😁'], ['a😀', 'a'], ['😀b', 'b'], ['ab', '😀ab']]) {
    const change = changeBetween(from, to)!;
    assert.equal(apply(from, [change]), to, `${from} -> ${to}`);
    assert.ok(!/[\udc00-\udfff]/.test(change.text[0] ?? '') && !/[\ud800-\udbff]/.test(change.text.at(-1) ?? ''), `whole characters: ${JSON.stringify(change)}`);
  }
});

void test('sync: didOpen once, then one incremental change per edit; the server holds the editor text', () => {
  const client = new FakeLspClient();
  const docs = new ServerDocuments();
  docs.sync(client, URI, 'typescript', 'const a = 1;\n');
  docs.sync(client, URI, 'typescript', 'const a = 12;\n');
  docs.sync(client, URI, 'typescript', 'const a = 12;\nconst b = a;\n');
  assert.deepEqual(client.events, ['open', 'change', 'change']);
  assert.equal(client.server.get(URI), 'const a = 12;\nconst b = a;\n');
  docs.close(URI);
  assert.deepEqual(client.events.at(-1), 'close');
});

void test('a completion\'s rollback restores the editor\'s latest text, also when the editor changed meanwhile', () => {
  const client = new FakeLspClient();
  const docs = new ServerDocuments();
  docs.sync(client, URI, 'typescript', 'store.cou;\n');
  // The completion's document lacks the healed `cou`.
  const shadow = docs.shadow(client, URI, 'typescript', 'store.;\n', 'store.'.length);
  shadow.sync('count');
  assert.equal(client.server.get(URI), 'store.count;\n');
  shadow.rollback();
  assert.equal(client.server.get(URI), 'store.cou;\n');

  const late = docs.shadow(client, URI, 'typescript', 'store.cou;\n', 'store.cou'.length);
  late.sync('nt');
  docs.sync(client, URI, 'typescript', 'store.coun;\n'); // the user typed `n`
  late.sync('ntX'); // the old completion goes on: it must not touch the document now
  late.rollback();
  assert.equal(client.server.get(URI), 'store.coun;\n');
  assert.ok(client.events.every((e) => e !== 'full'), client.events.join(' '));
});

void test('editsElsewhere changes with edits to other documents only', () => {
  const client = new FakeLspClient();
  const docs = new ServerDocuments();
  docs.sync(client, URI, 'typescript', 'a');
  const before = docs.editsElsewhere(URI);
  docs.sync(client, URI, 'typescript', 'ab');
  assert.equal(docs.editsElsewhere(URI), before);
  docs.sync(client, 'file:///w/b.ts', 'typescript', 'b');
  const afterOther = docs.editsElsewhere(URI);
  assert.notEqual(afterOther, before);
  docs.close('file:///w/b.ts');
  assert.notEqual(docs.editsElsewhere(URI), afterOther);
});
