// Incremental reparsing must not change what trigger detection finds: the same calls go to a detector that
// parses every input from scratch and to the default (incremental) one, in the order a completion makes
// them (the prefix growing a few characters at a time) and in an order that jumps around the file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { lexicalState, TriggerDetector, type LexCheckpoint } from '../../../language-monitor/triggers.js';

let fresh: TriggerDetector;
let incremental: TriggerDetector;
before(async () => { fresh = await TriggerDetector.create({ incremental: false }); incremental = await TriggerDetector.create(); });
after(() => { fresh.dispose(); incremental.dispose(); });

const REPO = path.resolve(__dirname, '../../..');

function compare(languageId: string, text: string, ends: number[]): number {
  let triggers = 0;
  for (const end of ends) {
    const prefix = text.slice(0, end);
    const suffix = text.slice(end);
    const expected = fresh.detect(languageId, prefix, suffix);
    assert.deepEqual(incremental.detect(languageId, prefix, suffix), expected, `at ${end}: ${JSON.stringify(prefix.slice(-40))}`);
    if (expected) triggers++;
  }
  return triggers;
}

void test('a growing prefix over real TypeScript files: the same triggers as fresh parses', () => {
  for (const rel of ['language-monitor/monitors.ts', 'test/integration/language-monitor/fixtures/realistic/src/counter.ts']) {
    const text = fs.readFileSync(path.join(REPO, rel), 'utf8');
    const ends: number[] = [];
    for (let i = 1; i <= text.length; i++) if (TriggerDetector.mightTrigger(text.slice(Math.max(0, i - 12), i), false)) ends.push(i);
    const triggers = compare('typescript', text, ends);
    assert.ok(triggers > 5, `${rel}: ${triggers} triggers checked`);
  }
});

void test('jumps backwards and forwards (edits in the middle, deletions) and other grammars', () => {
  const text = fs.readFileSync(path.join(REPO, 'language-monitor/triggers.ts'), 'utf8');
  const ends: number[] = [];
  let seed = 7;
  for (let n = 0; n < 300; n++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const i = 1 + (seed % text.length);
    ends.push(i, i + 1, i + 2, i - 1);
  }
  compare('typescript', text, ends.filter((e) => e > 0 && e <= text.length));
  const py = fs.readFileSync(path.join(REPO, 'test/fixtures/language-monitor/py-project/main.py'), 'utf8');
  const pyEnds = [...py.matchAll(/[.(,]/g)].map((m) => m.index + 1);
  compare('python', py, pyEnds);
  compare('typescriptreact', 'const el = <div>{props.a}</div>;\nconst x = f(a, b.c);\n', [23, 45, 48]);
});

void test('the trigger tests\' inputs, one after another through one incremental detector', () => {
  const cases: [string, string, string?][] = [
    ['typescript', 'store.'], ['typescript', 'const x = foo.bar.'], ['typescript', 'f(a, b.'], ['typescript', 'const w = new '],
    ['typescript', 'const w = new'], ['typescript', 'mixThree(1, '], ['typescript', 'import { ', " } from './quokka';"],
    ['typescript', 'switch (this.shade) {\n  case Shade.Cerulean: break;\n  case '], ['typescript', 'const s = "a.'],
    ['python', 'x = mix_three(1, '], ['python', 'from quokka import '], ['typescript', 'store.blorpSave('],
  ];
  for (const [lang, text, suffix] of cases) assert.deepEqual(incremental.detect(lang, text, suffix), fresh.detect(lang, text, suffix), text);
});

void test('the lexical scan resumed from a checkpoint ends in the state a full scan does', () => {
  // (Files with regex literals are avoided: the scan does not know them, by design.)
  const src = path.join(REPO, 'test/integration/language-monitor/fixtures/realistic/src');
  const ts = (fs.readFileSync(path.join(src, 'counter.ts'), 'utf8') + fs.readFileSync(path.join(src, 'calls.ts'), 'utf8')).repeat(8)
    + '\nconst t = `a ${b ? `c ${d}` : "e"} f`; /* g */ const s = "h"; // i\n';
  const py = fs.readFileSync(path.join(REPO, 'test/fixtures/language-monitor/py-project/main.py'), 'utf8').repeat(80) + '\ns = """a\nb"""  # c\n';
  for (const [text, python] of [[ts, false], [py, true]] as const) {
    const checkpoints: LexCheckpoint[] = [];
    // A full scan that records every checkpoint it would offer (one per 2 KiB of code).
    for (let end = 0; end <= text.length; end += 997) lexicalState(text.slice(0, end), python, undefined, { before: end, save: (cp) => checkpoints.push(cp) });
    assert.ok(checkpoints.length > 3, `${checkpoints.length} checkpoints (python: ${python})`);
    for (const cp of checkpoints) {
      for (let end = cp.offset; end <= Math.min(text.length, cp.offset + 3000); end += 7) {
        assert.equal(lexicalState(text.slice(0, end), python, cp), lexicalState(text.slice(0, end), python), `resumed at ${cp.offset}, end ${end}`);
      }
    }
  }
});
