import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { healableTail, planHealing, stripHealed, TokenHealingProcessor } from '../../../model/tokenHealing.js';
import type { StepContext } from '../../../model/types.js';

const tokenizer = HfTokenizer.fromDir(defaultModelDir);
const enc = new TextEncoder();

function ctx(generated: number[] = []): StepContext {
  return { promptTokens: [], generatedTokens: generated, generatedText: '', step: generated.length, signal: new AbortController().signal };
}

/** The definition, token by token: bytes start with `rest`, or are a non-empty proper prefix of it. */
function legal(id: number, rest: Uint8Array): boolean {
  if (tokenizer.specialIds.has(id)) return false;
  const b = tokenizer.tokenBytes(id);
  if (b.length === 0) return false;
  const n = Math.min(b.length, rest.length);
  return b.subarray(0, n).every((x, i) => x === rest[i]);
}

function maskOf(p: TokenHealingProcessor, generated: number[] = []): Set<number> {
  const logits = new Float32Array(tokenizer.vocabSize);
  p.process(logits, ctx(generated));
  const out = new Set<number>();
  logits.forEach((v, id) => { if (v !== -Infinity) out.add(id); });
  return out;
}

describe('healableTail', () => {
  test('blanks after code, and identifiers, are healable; the rest is not', () => {
    assert.equal(healableTail('const text = await '), ' ');
    assert.equal(healableTail('\tx =\t \t'), '\t \t');
    assert.equal(healableTail('    return this.inv'), 'inv');
    assert.equal(healableTail('const é = ünï'), 'ünï');
    for (const s of ['', '    ', '\t', 'foo.', 'call(', 'a + 1 ;']) assert.equal(healableTail(s), '', JSON.stringify(s));
  });
});

describe('planHealing on the real tokenizer', () => {
  for (const prefix of ['import { readFile } from "node:fs";\nconst text = await ', 'class A {\n  run() {\n    return this.inv', 'let x =\t']) {
    test(`drops whole tokens covering the tail of ${JSON.stringify(prefix.slice(-16))}`, () => {
      const ids = tokenizer.encode(prefix);
      const plan = planHealing(tokenizer, prefix, ids);
      const tail = healableTail(prefix.slice(prefix.lastIndexOf('\n') + 1));
      assert.ok(plan.text.endsWith(tail), `${JSON.stringify(plan.text)} covers ${JSON.stringify(tail)}`);
      assert.ok(plan.keep < ids.length);
      assert.equal(tokenizer.decode(ids.slice(0, plan.keep)) + plan.text, prefix, 'kept tokens + healed text = the prefix');
    });
  }

  test('nothing to heal after a dot, a paren, on a blank line, or at a line break', () => {
    for (const prefix of ['a.b.', 'call(', 'x\n    ', 'y;\n']) {
      const ids = tokenizer.encode(prefix);
      assert.deepEqual(planHealing(tokenizer, prefix, ids), { keep: ids.length, text: '' }, JSON.stringify(prefix));
    }
  });
});

describe('TokenHealingProcessor', () => {
  test('after `await ` the mask is exactly the tokens starting with a space: ` readFile` yes, `readFile` no', () => {
    const p = new TokenHealingProcessor(tokenizer, ' ');
    const allowed = maskOf(p);
    for (let id = 0; id < tokenizer.vocabSize; id++) assert.equal(allowed.has(id), legal(id, enc.encode(' ')), `token ${id} ${JSON.stringify(tokenizer.decode([id]))}`);
    assert.ok(allowed.has(tokenizer.encode(' readFile')[0]));
    assert.ok(!allowed.has(tokenizer.encode('readFile')[0]));
    assert.ok(tokenizer.eosId === undefined || !allowed.has(tokenizer.eosId), 'EOS cannot end a healed completion');
  });

  test('a proper prefix of the healed text is allowed and keeps the constraint on the rest', () => {
    const healed = 'inventory';
    const p = new TokenHealingProcessor(tokenizer, healed);
    const first = maskOf(p);
    for (let id = 0; id < tokenizer.vocabSize; id++) assert.equal(first.has(id), legal(id, enc.encode(healed)));
    // The shortest allowed token is a proper prefix (single letters are always in a byte-level vocabulary).
    const short = [...first].filter((id) => tokenizer.tokenBytes(id).length < healed.length).sort((a, b) => tokenizer.tokenBytes(a).length - tokenizer.tokenBytes(b).length)[0];
    assert.ok(short !== undefined);
    const rest = healed.slice(tokenizer.decode([short]).length);
    p.onToken(short);
    assert.ok(p.active);
    const second = maskOf(p, [short]);
    for (let id = 0; id < tokenizer.vocabSize; id++) assert.equal(second.has(id), legal(id, enc.encode(rest)));
    // Spelling the rest token by token: each is allowed in turn, then the constraint is gone.
    const generated = [short];
    for (const id of tokenizer.encode(rest)) {
      assert.ok(maskOf(p, generated).has(id), `${JSON.stringify(tokenizer.decode([id]))} continues the healed text`);
      generated.push(id);
    }
    assert.equal(maskOf(p, generated).size, tokenizer.vocabSize, 'no constraint once the healed text is spelled');
    assert.ok(!p.active);
  });

  test('allowsSequence checks forced tokens without moving the constraint', () => {
    const p = new TokenHealingProcessor(tokenizer, ' inv');
    assert.ok(p.allowsSequence(tokenizer.encode(' inventory.find')));
    assert.ok(!p.allowsSequence(tokenizer.encode(' lines')));
    assert.ok(!p.allowsSequence(tokenizer.encode('inventory')));
    assert.ok(p.active && p.allows(tokenizer.encode(' inventory')[0]));
  });

  test('stripHealed returns only what follows the cursor', () => {
    assert.equal(stripHealed(' readFile(path)', ' '), 'readFile(path)');
    assert.equal(stripHealed('inventory.find', 'inv'), 'entory.find');
    assert.equal(stripHealed('in', 'inv'), '', 'cut short inside the healed text: nothing after the cursor');
    assert.equal(stripHealed('abc', ''), 'abc');
  });
});
