import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { TriggerDetector, lexicalState } from '../../../language-monitor/triggers.js';

let detector: TriggerDetector;
before(async () => { detector = await TriggerDetector.create(); });

const kind = (lang: string, text: string, suffix = '') => detector.detect(lang, text, suffix)?.kind;

void test('TypeScript: dereference fires on member access, also in incomplete code', () => {
  for (const text of ['store.', 'const x = foo.bar.', 'f(a, b.', 'a?.', 'class A { m() { this.', '`${obj.', 'if (a.b) {\n  c.', 'const s = "a.b";\nx.']) {
    assert.equal(kind('typescript', text), 'dereference', text);
  }
  assert.equal(kind('typescriptreact', 'const el = <div>{props.'), 'dereference');
});

void test('TypeScript: no dereference in strings, comments, numbers, import paths, spreads', () => {
  for (const text of ['const s = "a.', "const s = 'a.", '`abc.', '// a.', '/* x.', 'x = 1.', 'x = 12.', "import x from './a.", 'x = [...', 'a..']) {
    assert.equal(kind('typescript', text), undefined, text);
  }
});

void test('TypeScript: new, argument lists and named imports', () => {
  assert.deepEqual(detector.detect('typescript', 'const w = new '), { kind: 'new', offset: 14, lead: 'optional' });
  assert.equal(detector.detect('typescript', 'const w = new')?.lead, 'required');
  assert.equal(kind('typescript', 'const renew'), undefined);
  assert.equal(kind('typescript', '// new '), undefined);
  assert.equal(kind('typescript', 'mixThree(1, '), 'arguments');
  assert.equal(kind('typescript', 'store.blorpSave('), 'arguments');
  assert.equal(detector.detect('typescript', 'g(1, [2, 3], ')?.openParen, 1);
  assert.equal(kind('typescript', 'function f('), undefined, 'a parameter list is not an argument list');
  assert.equal(kind('typescript', 'const s = "f('), undefined);
  assert.equal(kind('typescript', 'import { ', " } from './quokka';"), 'namedImport');
  assert.equal(kind('typescript', 'import { A, ', " } from './quokka';"), 'namedImport');
  assert.equal(kind('typescript', 'import { ', ''), undefined, 'no module named yet');
  assert.equal(kind('typescript', 'const o = { '), undefined, 'an object literal is not an import');
});

void test('Python: dereference, arguments and from-imports fire where they should and not elsewhere', () => {
  for (const text of ['store.', 'x = foo.bar.', 'def f():\n    return self.', 'f(a, b.']) assert.equal(kind('python', text), 'dereference', text);
  for (const text of ['s = "a.', "s = 'a.", '"""doc.', '# a.', 'x = 1.', 'import os.', 'from . ', 'from .', "f'abc."]) {
    assert.equal(kind('python', text), undefined, text);
  }
  assert.equal(kind('python', 'x = mix_three(1, '), 'arguments');
  assert.equal(kind('python', 'def f('), undefined);
  assert.equal(kind('python', 'from quokka import '), 'namedImport');
  assert.equal(kind('python', 'from quokka import (a, '), 'namedImport');
});

void test('lexical state at the end of a prefix', () => {
  assert.equal(lexicalState('const a = `x ${b.', false), 'code');
  assert.equal(lexicalState('const a = `x ${b}.', false), 'string');
  assert.equal(lexicalState('const a = "x\\".', false), 'string');
  assert.equal(lexicalState('/* a */ b.', false), 'code');
  assert.equal(lexicalState('x = """a\nb.', true), 'string');
  assert.equal(lexicalState('x = "a" # c.', true), 'comment');
});

void test('TypeScript: case labels fire inside a switch with the subject named, not elsewhere', () => {
  const text = 'switch (this.shade) {\n  case Shade.Cerulean: break;\n  case ';
  const t = detector.detect('typescript', text);
  assert.equal(t?.kind, 'case');
  assert.equal(t?.subject, 'this.shade');
  assert.equal(text.slice(0, t?.subjectEnd), 'switch (this.shade');
  assert.equal(detector.detect('typescript', 'switch ((mood)) {\n  case')?.subject, 'mood');
  assert.equal(detector.detect('typescript', 'switch (mood) {\n  case')?.lead, 'required');
  assert.equal(kind('typescript', 'const showcase '), undefined);
  assert.equal(kind('typescript', 'switch (m) {\n  // case '), undefined);
  assert.equal(kind('typescript', 'const s = "case '), undefined);
});
