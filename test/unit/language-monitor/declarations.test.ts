// Project context for the prompt: which imported names the code near the cursor uses (ranked by the
// nearest use), declarations rendered with their bodies left out (TypeScript, .d.ts, Python), and
// MonitorService.declarations over a scripted client whose definitions fail, repeat or point home.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Position, TextDocumentContentChangeEvent } from 'vscode-languageserver-protocol';
import { declarationOutline, importedNames, MonitorService, type DefinitionAnswer, type LspClient } from '../../../language-monitor/index.js';

const at = (text: string, marker: string) => {
  const i = text.indexOf(marker);
  assert.ok(i >= 0, `marker ${marker}`);
  return i;
};
/** Line and character of the first `marker` in `text`. */
const positionOf = (text: string, marker: string) => {
  const before = text.slice(0, at(text, marker)).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
};

void test('importedNames (TypeScript): used before the cursor nearest first, then used after; unused, namespace and member-only names dropped', async () => {
  const text = [
    "import Def, { A, B as C, type D } from './x';",
    "import type { E } from './y';",
    "import F = require('f');",
    "import * as ns from 'ns';",
    '',
    'function g(e: E): void {',
    '  // D is only mentioned in a comment, and "A" in a string',
    '  const c = new C(obj.Def, ns.x);',
    '  c.',
    '}',
    'F.run();',
  ].join('\n');
  const names = await importedNames('typescript', text, at(text, 'c.\n') + 2);
  assert.deepEqual(names.map((n) => n.name), ['C', 'E', 'F']);
  assert.equal(names[0].offset, at(text, 'C, type D'), 'the binding is the local name');
  assert.equal(names[2].offset, at(text, 'F ='));
  assert.deepEqual(await importedNames('typescript', text, 0).then((n) => n.map((x) => x.name)), ['E', 'C', 'F'], 'all after the cursor: nearest first');
  assert.deepEqual(await importedNames('rust', text, 0), []);
});

void test('importedNames (Python): from-imports with aliases; plain module imports and attributes do not count', async () => {
  const text = [
    'from m import A, B as C',
    'from .rel import (D,',
    '    E)',
    'import os',
    '',
    'def f(x: E):',
    '    y = C(os.getcwd(), x.D)',
    '    return y.',
    'A()',
  ].join('\n');
  const names = await importedNames('python', text, at(text, 'y.\n') + 2);
  assert.deepEqual(names.map((n) => n.name), ['C', 'E', 'A']);
  assert.equal(names[0].offset, at(text, 'C\n'));
});

const LEDGER = `import type { Money } from './money';

/** A book. */
@sealed()
export class Ledger<T> extends Base implements Book {
  /** Entries, oldest first. */
  #entries: T[] = [];
  private secret = 1;
  readonly currency: string;
  static readonly max = 10; // the most entries
  onPost = (entry: T): void => {
    notify(entry);
  };

  constructor(currency: string) {
    super();
    this.currency = currency;
  }

  @logged()
  post(entry: T): number {
    if (this.#entries.length >= Ledger.max) throw new Error('full');
    return this.#entries.push(entry);
  }

  find(id: number): T;
  find(id: string): T;
  find(id: number | string): T {
    return this.#entries[Number(id)];
  }

  get size(): number {
    return this.#entries.length;
  }

  private rebalance(): void {
    this.#entries.sort();
  }
}

export interface Money {
  // minor units
  readonly cents: number;
  readonly currency: string;
}

export function total(items: Money[]): number {
  return items.reduce((n, m) => n + m.cents, 0);
}

export const double = (n: number): number => {
  return n * 2;
};
`;

void test('declarationOutline (TypeScript): a class keeps header, fields and signatures; bodies, comments and private members go', async () => {
  const outline = await declarationOutline('typescript', LEDGER, positionOf(LEDGER, 'Ledger<').line, positionOf(LEDGER, 'Ledger<').character, 2000);
  assert.ok(outline);
  assert.equal(outline.name, 'Ledger');
  assert.equal(outline.startLine, positionOf(LEDGER, '@sealed').line);
  assert.equal(outline.endLine, positionOf(LEDGER, '}\n\nexport interface').line);
  assert.equal(outline.text, [
    '@sealed()',
    'export class Ledger<T> extends Base implements Book {',
    '  readonly currency: string;',
    '  static readonly max = 10;',
    '  onPost = (entry: T): void => { ... };',
    '  constructor(currency: string);',
    '  @logged()',
    '  post(entry: T): number;',
    '  find(id: number): T;',
    '  find(id: string): T;',
    '  get size(): number;',
    '}',
  ].join('\n'));
});

void test('declarationOutline (TypeScript): interfaces stay whole without comments, functions keep their signature, arrow consts lose their body', async () => {
  const pos = (m: string) => positionOf(LEDGER, m);
  const outline = (m: string) => declarationOutline('typescript', LEDGER, pos(m).line, pos(m).character, 2000).then((o) => o?.text);
  assert.equal(await outline('Money {'), 'export interface Money {\n  readonly cents: number;\n  readonly currency: string;\n}');
  assert.equal(await outline('total('), 'export function total(items: Money[]): number;');
  assert.equal(await outline('double ='), 'export const double = (n: number): number => { ... };');
  assert.equal(await outline('reduce'), 'export function total(items: Money[]): number;', 'a position inside the body gives its declaration');
  assert.equal(await outline("import type"), undefined, 'an import is not a declaration');
});

void test('declarationOutline: capped on a whole line, an open class closed; undefined when not even the header fits', async () => {
  const { line, character } = positionOf(LEDGER, 'Ledger<');
  const capped = await declarationOutline('typescript', LEDGER, line, character, 120);
  assert.equal(capped?.text, '@sealed()\nexport class Ledger<T> extends Base implements Book {\n  readonly currency: string;\n}');
  assert.ok(capped.text.length <= 120);
  assert.equal(await declarationOutline('typescript', LEDGER, line, character, 20), undefined);
});

void test('declarationOutline (.d.ts): declared classes, functions and module members render the same way', async () => {
  const dts = [
    'export declare class Store<K> {',
    '    private constructor();',
    '    get(key: K): string | undefined;',
    '    readonly size: number;',
    '}',
    'export declare function open(path: string): Store<string>;',
    "declare module 'plugin' {",
    '    export interface Options { verbose?: boolean }',
    '}',
  ].join('\n');
  const outline = (m: string) => declarationOutline('typescript', dts, positionOf(dts, m).line, positionOf(dts, m).character, 2000).then((o) => o?.text);
  assert.equal(await outline('Store<K>'), 'export declare class Store<K> {\n    get(key: K): string | undefined;\n    readonly size: number;\n}');
  assert.equal(await outline('open('), 'export declare function open(path: string): Store<string>;');
  assert.equal(await outline('Options'), '    export interface Options { verbose?: boolean }');
});

void test('declarationOutline (Python): class header, fields and def signatures with `...`; docstrings and private helpers go', async () => {
  const py = [
    'from dataclasses import dataclass',
    '',
    '@dataclass',
    'class Ledger(Base):',
    '    """A book."""',
    '    currency: str = "EUR"',
    '    # the most entries',
    '    limit = 10',
    '',
    '    def __init__(self, currency: str) -> None:',
    '        self.currency = currency',
    '',
    '    @property',
    '    def size(self) -> int:',
    '        return len(self.entries)',
    '',
    '    def _rebalance(self):',
    '        self.entries.sort()',
    '',
    'def total(items: list[int], *, start: int = 0) -> int:',
    '    """Sum."""',
    '    return sum(items, start)',
  ].join('\n');
  const outline = (m: string) => declarationOutline('python', py, positionOf(py, m).line, positionOf(py, m).character, 2000).then((o) => o?.text);
  assert.equal(await outline('Ledger('), [
    '@dataclass',
    'class Ledger(Base):',
    '    currency: str = "EUR"',
    '    limit = 10',
    '    def __init__(self, currency: str) -> None: ...',
    '    @property',
    '    def size(self) -> int: ...',
  ].join('\n'));
  assert.equal(await outline('total('), 'def total(items: list[int], *, start: int = 0) -> int: ...');
  assert.equal(await outline('from dataclasses'), undefined);
});

/** A ready client whose definitions are scripted per line of the asking document. */
class FakeDefinitionClient implements LspClient {
  readonly state = 'ready' as const;
  readonly asked: Position[] = [];
  private readonly docs = new Map<string, string>();
  constructor(private readonly answers: (position: Position) => Promise<DefinitionAnswer>) {}
  start(): Promise<void> { return Promise.resolve(); }
  openDocument(uri: string, _languageId: string, text: string): void { this.docs.set(uri, text); }
  changeDocument(uri: string, _changes: TextDocumentContentChangeEvent[], text: string): void { this.docs.set(uri, text); }
  closeDocument(uri: string): void { this.docs.delete(uri); }
  documentText(uri: string): string | undefined { return this.docs.get(uri); }
  completion(): never { throw new Error('not used'); }
  signatureHelp(): never { throw new Error('not used'); }
  hover(): never { throw new Error('not used'); }
  definition(_uri: string, position: Position): Promise<DefinitionAnswer> { this.asked.push(position); return this.answers(position); }
  dispose(): Promise<void> { return Promise.resolve(); }
}

void test('MonitorService.declarations: failing and timed-out names are skipped, same-file and repeated declarations dropped', async () => {
  const MAIN = 'file:///w/src/main.ts';
  const LIB = 'file:///w/src/lib.ts';
  const main = "import { Broken, Slow, Here, Lib, LibAlias } from './lib';\nconst x: Lib = new LibAlias(Broken, Slow, Here);\n";
  const lib = 'export class Lib {\n  m(): void {\n    work();\n  }\n}\nexport class Later {}\n';
  const libName = { start: { line: 0, character: 13 }, end: { line: 0, character: 16 } };
  const client = new FakeDefinitionClient(async ({ character }) => {
    const name = /\w+/.exec(main.slice(character))![0];
    switch (name) {
      case 'Broken': throw new Error('connection lost');
      case 'Slow': return { locations: [], outcome: 'timeout', ms: 1500 };
      case 'Here': return { locations: [{ uri: MAIN, range: { start: { line: 1, character: 6 }, end: { line: 1, character: 7 } } }], outcome: 'ok', ms: 1 };
      default: return { locations: [{ uri: LIB, range: libName }, { uri: LIB, range: libName }], outcome: 'ok', ms: 1 };
    }
  });
  const service = await MonitorService.create({ clientFactory: () => client });
  try {
    const read: string[] = [];
    const chunks = await service.declarations({ languageId: 'typescript', uri: MAIN, rootUri: 'file:///w', text: main, offset: main.length, readFile: (uri) => { read.push(uri); return uri === LIB ? lib : undefined; } });
    // Lib and LibAlias lead to one declaration: it comes once, under the better-ranked name.
    assert.deepEqual(chunks, [{ uri: LIB, name: 'LibAlias', startLine: 0, endLine: 4, text: 'export class Lib {\n  m(): void;\n}', rank: 3 }]);
    assert.equal(client.asked.length, 5, 'every used name was asked about');
    assert.deepEqual(read, [LIB], 'the same file is read once and the document itself never');
    assert.equal(client.documentText(MAIN), main, 'the document was opened for the server');
    assert.deepEqual(await service.declarations({ languageId: 'typescript', uri: MAIN, rootUri: 'file:///w', text: main, offset: main.length, readFile: () => undefined }), []);
    assert.deepEqual(await service.declarations({ languageId: 'typescript', uri: MAIN, rootUri: 'file:///w', text: main, offset: main.length, maxNames: 0, readFile: () => lib }), []);
  } finally {
    await service.dispose();
  }
});
