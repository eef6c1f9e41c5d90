// Declarations of the imported names, found through the real TypeScript 7 server on a fixture project:
// main.ts imports Ledger (a class with real method bodies) and type Money; unrelated.ts is never imported.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MonitorService } from '../../../language-monitor/index.js';

const ROOT = path.resolve(__dirname, '../../fixtures/language-monitor/context-project');
const uriOf = (file: string) => pathToFileURL(path.join(ROOT, file)).href;
const MAIN = uriOf('src/main.ts');
const LEDGER = uriOf('src/ledger.ts');
const MONEY = uriOf('src/money.ts');
const text = fs.readFileSync(fileURLToPath(MAIN), 'utf8');
const offset = text.indexOf('book.') + 'book.'.length;

/** Reads files inside the fixture project only, recording what was asked for. */
function projectReader(read: string[], refuse: readonly string[] = []) {
  return (uri: string): string | undefined => {
    read.push(uri);
    const file = fileURLToPath(uri);
    if (refuse.includes(uri) || path.relative(ROOT, file).startsWith('..')) return undefined;
    return fs.readFileSync(file, 'utf8');
  };
}

void describe('declarations over typescript7', () => {
  let service: MonitorService;
  const logs: string[] = [];

  before(async () => {
    service = await MonitorService.create({ servers: { typescript: 'typescript7' }, log: (m) => logs.push(m) });
    assert.ok(await service.prepare({ languageId: 'typescript', uri: MAIN, text }), 'server started');
  });
  after(async () => { await service.dispose(); });

  void test('Ledger comes first, with its signatures and without its bodies; Money follows; nothing from unrelated.ts', async () => {
    const read: string[] = [];
    const chunks = await service.declarations({ languageId: 'typescript', uri: MAIN, text, offset, readFile: projectReader(read) });
    assert.deepEqual(chunks.map((c) => [c.name, c.uri]), [['Ledger', LEDGER], ['Money', MONEY]]);
    const [ledger, money] = chunks;
    assert.equal(ledger.rank, 0);
    assert.ok(ledger.text.startsWith('export class Ledger {'), ledger.text);
    for (const signature of ['constructor(currency: Currency, opening: readonly Entry[] = []);', 'post(account: string, cents: number, memo?: string): Entry;', 'balanceOf(account: string): Money;', 'get size(): number;']) {
      assert.ok(ledger.text.includes(signature), `${signature} in\n${ledger.text}`);
    }
    assert.ok(!ledger.text.includes("throw new Error('ledger is full')"), 'a statement from post() is left out');
    assert.ok(!ledger.text.includes('#entries'), 'the private field is left out');
    assert.ok(!ledger.text.includes('double-entry'), 'the JSDoc is left out');
    assert.ok(ledger.text.endsWith('\n}'));
    const source = fs.readFileSync(fileURLToPath(LEDGER), 'utf8').split('\n');
    assert.match(source[ledger.startLine], /^export class Ledger/);
    assert.equal(source[ledger.endLine], '}');
    assert.ok(money.text.includes('export interface Money {') && money.text.includes('readonly cents: number;'), money.text);
    assert.ok(!read.some((uri) => uri.endsWith('unrelated.ts')) && !read.includes(MAIN), read.join(', '));
    assert.equal(logs.length, 0, logs.join('\n'));
  });

  void test('a file readFile refuses gives no chunk; the others still come', async () => {
    const read: string[] = [];
    const chunks = await service.declarations({ languageId: 'typescript', uri: MAIN, text, offset, readFile: projectReader(read, [LEDGER]) });
    assert.ok(read.includes(LEDGER), 'the server pointed to ledger.ts');
    assert.deepEqual(chunks.map((c) => c.uri), [MONEY]);
  });

  void test("the server's copy the editor opened is left as it is; the bindings are found in it", async () => {
    const edited = text.replace('for (const p', 'let n = 0;\n  for (const p');
    service.syncDocument({ languageId: 'typescript', uri: MAIN, text });
    const chunks = await service.declarations({ languageId: 'typescript', uri: MAIN, text: edited, offset: edited.indexOf('book.') + 5, readFile: projectReader([]) });
    assert.deepEqual(chunks.map((c) => c.name), ['Ledger', 'Money']);
    assert.equal(service.sessionFor('typescript', MAIN)!.documentText(MAIN), text);
    service.closeDocument(MAIN);
  });
});

void test('declarations: no server that runs, or no grammar, gives []', async () => {
  const service = await MonitorService.create({ servers: { typescript: { command: path.join(ROOT, 'no-such-server') } }, session: { maxRestarts: 0 } });
  try {
    const req = { languageId: 'typescript', uri: MAIN, text, offset, readFile: projectReader([]) };
    await service.sessionFor('typescript', MAIN)!.start().catch(() => undefined);
    assert.deepEqual(await service.declarations(req), []);
    assert.deepEqual(await service.declarations({ ...req, languageId: 'rust' }), []);
    assert.deepEqual(await service.declarations({ ...req, uri: 'untitled:Untitled-1' }), []);
  } finally {
    await service.dispose();
  }
});

void describe('declarations over pyright', () => {
  let service: MonitorService;
  const PY_ROOT = uriOf('py');
  const PY_MAIN = uriOf('py/main.py');
  const pyText = fs.readFileSync(fileURLToPath(PY_MAIN), 'utf8');

  before(async () => {
    service = await MonitorService.create({ servers: { python: 'pyright' } });
    assert.ok(await service.prepare({ languageId: 'python', uri: PY_MAIN, text: pyText, rootUri: PY_ROOT }), 'server started');
  });
  after(async () => { await service.dispose(); });

  void test('Ledger comes back as its header, class field and def signatures, without bodies or private helpers', async () => {
    const read: string[] = [];
    const chunks = await service.declarations({ languageId: 'python', uri: PY_MAIN, rootUri: PY_ROOT, text: pyText, offset: pyText.indexOf('book.') + 5, readFile: projectReader(read) });
    assert.deepEqual(chunks.map((c) => [c.name, c.uri]), [['Ledger', uriOf('py/ledger.py')]]);
    assert.equal(chunks[0].text, [
      'class Ledger:',
      '    max_entries = 10_000',
      '    def __init__(self, currency: str) -> None: ...',
      '    def post(self, account: str, cents: int, memo: str = "") -> Entry: ...',
      '    def balance_of(self, account: str) -> int: ...',
      '    @property',
      '    def size(self) -> int: ...',
    ].join('\n'));
    assert.ok(!read.some((uri) => uri.endsWith('unrelated.py')));
  });
});
