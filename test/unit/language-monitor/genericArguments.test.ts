// Argument counting: only a comma at the list's own level separates arguments; commas inside type
// arguments, brackets, strings, template literals and comments do not.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ArgumentLexer, requiredParameter } from '../../../language-monitor/monitors.js';
import { identifierByteTable, utf8 } from '../../../language-monitor/identifierMask.js';
import { TriggerDetector } from '../../../language-monitor/triggers.js';

function scan(text: string, python = false): { commas: number; closed: boolean } {
  const lexer = new ArgumentLexer(python, identifierByteTable(python ? 'python' : 'js'));
  for (const b of utf8(text)) lexer.push(b);
  return { commas: lexer.commas, closed: lexer.closed };
}

void test('commas that separate arguments, and commas that do not', () => {
  assert.deepEqual(scan('a, b, '), { commas: 2, closed: false });
  assert.deepEqual(scan('new Map<string, number>(), x'), { commas: 1, closed: false });
  assert.deepEqual(scan('f<A, B>(x, y), z'), { commas: 1, closed: false });
  assert.deepEqual(scan('g<Array<Map<K, V>>>(), h'), { commas: 1, closed: false }, '`>>>` closes three');
  assert.deepEqual(scan('new Map<string, () => void>(), 1'), { commas: 1, closed: false }, '`=>` closes nothing');
  assert.deepEqual(scan("[1, 2], { a: 1, b: 2 }, 'x, y', \"p, q\""), { commas: 3, closed: false });
  assert.deepEqual(scan('`a, ${f(b, c)}, ${`d, ${e}`}`, z'), { commas: 1, closed: false });
  assert.deepEqual(scan('x /* a, b */, y // c, d\n, z'), { commas: 2, closed: false });
  assert.deepEqual(scan('a < b, c > d'), { commas: 1, closed: false }, 'spaced comparisons are not type arguments');
  assert.deepEqual(scan('a, b) + f(c, d'), { commas: 1, closed: true });
  assert.deepEqual(scan('a<b, c)'), { commas: 0, closed: true }, 'an unclosed `<` ends with the list');
});

void test('arguments written: a trailing comma adds none, a spread may fill any number', () => {
  const lex = (text: string) => {
    const lexer = new ArgumentLexer(false, identifierByteTable('js'));
    for (const b of utf8(text)) lexer.push(b);
    return { args: lexer.args, spread: lexer.spread, closed: lexer.closed };
  };
  assert.deepEqual(lex(')'), { args: 0, spread: false, closed: true });
  assert.deepEqual(lex(' a, f(b, c) )'), { args: 2, spread: false, closed: true });
  assert.deepEqual(lex('a, b,\n)'), { args: 2, spread: false, closed: true });
  assert.deepEqual(lex('a, ...rest)'), { args: 2, spread: true, closed: true });
  assert.deepEqual(lex('a.b, c?.d)'), { args: 2, spread: false, closed: true }, 'a member access is not a spread');
});

void test('Python: `#` comments, no type arguments', () => {
  assert.deepEqual(scan('a,  # b, c\n b', true), { commas: 1, closed: false });
  assert.deepEqual(scan('x<y, z', true), { commas: 1, closed: false });
});

let detector: TriggerDetector;
before(async () => { detector = await TriggerDetector.create(); });

void test('constructor calls are argument lists; the list starts at its own `(` after the type arguments', () => {
  const text = 'const m = new Map<string, number>(';
  const t = detector.detect('typescript', text);
  assert.equal(t?.kind, 'arguments');
  assert.equal(text.slice(t.openParen), '(');
  assert.equal(detector.detect('typescript', 'f<A, B>(x, ')?.openParen, 7);
  assert.equal(detector.detect('typescript', 'const x = new Foo(a, ')?.kind, 'arguments');
  assert.equal(detector.detect('typescript', 'class A extends B<C, ')?.kind, undefined);
});

void test('the argument list around the cursor: the innermost call, never across a block', () => {
  const at = (languageId: string, text: string) => {
    const t = detector.enclosingArguments(languageId, text);
    return t ? text.slice(0, t.offset) : undefined;
  };
  assert.equal(at('typescript', 'const ok = save(store.'), 'const ok = save(');
  assert.equal(at('typescript', 'save(a, g(b.cou'), 'save(a, g(');
  assert.equal(at('typescript', 'save(a, [1, {k: b.'), 'save(a, [1, {k: b.'.slice(0, 'save('.length), 'through array and object literals');
  assert.equal(at('typescript', 'new Map<string, number>(entries.'), 'new Map<string, number>(');
  assert.equal(at('typescript', 'items.forEach((item) => {\n  item.'), undefined, 'a function body passed as an argument');
  assert.equal(at('typescript', 'const x = store.'), undefined);
  assert.equal(at('typescript', "log('a(b', c."), "log(", 'a `(` inside a string is not a list');
  assert.equal(at('python', 'result = save(store.'), 'result = save(');
  assert.equal(at('python', 'def f():\n    x = store.'), undefined);
  const doc = 'def f():\n    """Saves.\n    (see save( and [x\n    """\n    return save(';
  assert.equal(at('python', doc + 'store.'), doc, 'brackets in a docstring are text');
});

void test('required parameters from signature-help labels (TypeScript and pyright)', () => {
  for (const label of ['a: number', 'callbackfn: (value: T, index: number) => U', '{ a, b }: Options', 'x: Map<string, () => void>', 'self_: int', 'key: str']) {
    assert.ok(requiredParameter(label), label);
  }
  for (const label of ['width?: number', '{ a }?: Options', '...rest: T[]', '*args: Any', '**kwargs: Any', 'fill: str = " "', 'x=1', 'cb: Callable[[int], int] = f', '/']) {
    assert.ok(!requiredParameter(label), label);
  }
});
