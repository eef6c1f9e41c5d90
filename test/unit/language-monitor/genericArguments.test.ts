// Argument counting: only a comma at the list's own level separates arguments; commas inside type
// arguments, brackets, strings, template literals and comments do not.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ArgumentLexer } from '../../../language-monitor/monitors.js';
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
