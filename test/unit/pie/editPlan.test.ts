import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EditPlan, type KeepSegment, planEdit } from '../../../model/pie/editPlan.js';

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/** Every plan must rebuild `next` exactly from `prev`'s rows plus encoded tokens, ending in an encode. */
function checkPlan(prev: readonly number[], next: readonly number[], plan: EditPlan): void {
  let at = 0;
  let encoded = 0;
  for (const s of plan.segments) {
    assert.equal(s.newStart, at, 'segments are contiguous');
    assert.ok(s.length > 0);
    if (s.kind === 'keep') {
      assert.equal(s.delta, s.newStart - s.oldStart);
      for (let i = 0; i < s.length; i++) assert.equal(prev[s.oldStart + i], next[s.newStart + i], 'kept rows hold the same token');
    } else encoded += s.length;
    at += s.length;
  }
  assert.equal(at, next.length);
  assert.equal(plan.encodeTokens, encoded);
  const last = plan.segments[plan.segments.length - 1];
  assert.equal(last.kind, 'encode', 'the last token is re-encoded for fresh logits');
  const keeps = plan.segments.filter((s): s is KeepSegment => s.kind === 'keep');
  for (let i = 1; i < keeps.length; i++) assert.ok(keeps[i].oldStart >= keeps[i - 1].oldStart + keeps[i - 1].length, 'old rows in order');
}

const keeps = (p: EditPlan): [number, number, number][] =>
  p.segments.filter((s): s is KeepSegment => s.kind === 'keep').map((s) => [s.oldStart, s.length, s.delta]);

describe('planEdit', () => {
  const old = range(100, 1000);

  it('insertion: keeps the prefix, encodes the new tokens, shifts the rest right', () => {
    const next = [...old.slice(0, 50), 1, 2, 3, ...old.slice(50)];
    const plan = planEdit(old, next);
    checkPlan(old, next, plan);
    assert.deepEqual(keeps(plan), [[0, 50, 0], [50, 49, 3]]);
    assert.equal(plan.encodeTokens, 4);
    assert.equal(plan.rotatedTokens, 49);
    assert.equal(plan.commonPrefix, 50);
  });

  it('deletion: shifts the rest left and encodes only the last token', () => {
    const next = [...old.slice(0, 30), ...old.slice(40)];
    const plan = planEdit(old, next);
    checkPlan(old, next, plan);
    assert.deepEqual(keeps(plan), [[0, 30, 0], [40, 59, -10]]);
    assert.equal(plan.encodeTokens, 1);
  });

  it('replacement: encodes the replacement', () => {
    const next = [...old.slice(0, 20), 7, 7, 7, 7, 7, 7, 7, ...old.slice(25)];
    const plan = planEdit(old, next);
    checkPlan(old, next, plan);
    assert.deepEqual(keeps(plan), [[0, 20, 0], [25, 74, 2]]);
    assert.equal(plan.encodeTokens, 8);
  });

  it('several places (a rename): each region costs its own tokens, shifts accumulate', () => {
    const prev = old.map((t, i) => (i % 30 === 10 ? 5 : t)); // identifier token 5 at 10, 40, 70
    const next = prev.flatMap((t) => (t === 5 ? [6, 7] : [t])); // renamed to two tokens
    const plan = planEdit(prev, next);
    checkPlan(prev, next, plan);
    assert.deepEqual(keeps(plan).map(([, , d]) => d), [0, 1, 2, 3]);
    assert.equal(plan.encodeTokens, 3 * 2 + 1);
    assert.equal(plan.staleTokens, keeps(plan).slice(1).reduce((a, [, l]) => a + l, 0));
  });

  it('edit at the start: everything shifts', () => {
    const next = [1, 2, ...old];
    const plan = planEdit(old, next);
    checkPlan(old, next, plan);
    assert.deepEqual(keeps(plan), [[0, 99, 2]]);
    assert.equal(plan.commonPrefix, 0);
    assert.equal(plan.encodeTokens, 3);
  });

  it('edit at the end: appending is prefix reuse, no rotation', () => {
    const next = [...old, 1, 2, 3, 4, 5];
    const plan = planEdit(old, next);
    checkPlan(old, next, plan);
    assert.deepEqual(keeps(plan), [[0, 100, 0]]);
    assert.equal(plan.encodeTokens, 5);
    assert.equal(plan.rotatedTokens, 0);
    const cut = old.slice(0, 95);
    const p2 = planEdit(old, cut);
    checkPlan(old, cut, p2);
    assert.equal(p2.encodeTokens, 1);
  });

  it('identical and unrelated sequences', () => {
    const same = planEdit(old, old.slice());
    checkPlan(old, old, same);
    assert.equal(same.identical, true);
    assert.equal(same.encodeTokens, 1);
    const other = range(80, 5000);
    const diff = planEdit(old, other);
    checkPlan(old, other, diff);
    assert.equal(diff.encodeTokens, 80);
    assert.equal(diff.identical, false);
    const empty = planEdit([], [1, 2, 3]);
    checkPlan([], [1, 2, 3], empty);
    assert.equal(empty.encodeTokens, 3);
  });

  it('short unchanged runs between edits are re-encoded, not spliced', () => {
    const next = [...old.slice(0, 40), 1, ...old.slice(40, 42), 2, ...old.slice(42)];
    const plan = planEdit(old, next, { minKeep: 4 });
    checkPlan(old, next, plan);
    assert.deepEqual(keeps(plan), [[0, 40, 0], [42, 57, 2]]);
    assert.equal(plan.encodeTokens, 1 + 2 + 1 + 1);
    const loose = planEdit(old, next, { minKeep: 1 });
    checkPlan(old, next, loose);
    assert.equal(loose.encodeTokens, 3);
  });

  it('past the edit-distance bound the changed middle becomes one region', () => {
    const next = [...old.slice(0, 10), ...old.slice(10, 90).map((t, i) => (i % 2 ? t : -t)), ...old.slice(90)];
    const bounded = planEdit(old, next, { maxEditDistance: 8 });
    checkPlan(old, next, bounded);
    assert.deepEqual(keeps(bounded), [[0, 10, 0], [89, 10, 0]]);
  });

  it('an edit inside a multi-byte token re-encodes the re-tokenized span only', () => {
    // A byte-level greedy longest-match tokenizer: 'héllo' (6 bytes, é is 2) is one token, so typing
    // inside it splits that token; everything after shifts by the difference in token count.
    const vocab = ['héllo', 'wörld', 'const', ' = ', "'", ';', '\n', 'h', 'é', 'l', 'o', 'x', 'w', 'ö', 'r', 'd', 'c', 'n', 's', 't', ' ', '='];
    const enc = new TextEncoder();
    const pieces = vocab.map((v) => enc.encode(v));
    const tokenize = (text: string): number[] => {
      const bytes = enc.encode(text);
      const out: number[] = [];
      for (let i = 0; i < bytes.length;) {
        let best = -1;
        pieces.forEach((p, id) => {
          if (p.length > (best < 0 ? 0 : pieces[best].length) && p.every((b, j) => bytes[i + j] === b)) best = id;
        });
        assert.ok(best >= 0, `no token at byte ${i}`);
        out.push(best);
        i += pieces[best].length;
      }
      return out;
    };
    const line = "const s = 'héllo wörld';\n";
    const before = line.repeat(6);
    const at = before.indexOf('héllo', line.length * 2) + 'hé'.length; // inside the third 'héllo'
    const after = before.slice(0, at) + 'x' + before.slice(at);
    const prev = tokenize(before);
    const next = tokenize(after);
    assert.equal(next.length, prev.length + 5, "one 'héllo' token became 'h' 'é' 'x' 'l' 'l' 'o'");
    const plan = planEdit(prev, next, { minKeep: 2 });
    checkPlan(prev, next, plan);
    const [first, second] = keeps(plan);
    assert.equal(first[2], 0);
    assert.equal(second[2], 5);
    assert.ok(plan.encodeTokens <= 6 + 1, `encoded ${plan.encodeTokens}`);
  });
});

describe('planEdit with a forward-call cost', () => {
  const old = range(200, 1000);
  it('joins edits separated by runs no longer than the call cost into one call', () => {
    // Renames at 50, 60 and 150: the 9-token run between the first two is cheaper to re-encode than a call.
    const next = old.map((t, i) => (i === 50 || i === 60 || i === 150 ? -t : t));
    const plain = planEdit(old, next);
    checkPlan(old, next, plain);
    assert.equal(plain.encodeCalls, 4);
    const joined = planEdit(old, next, { callCost: 16 });
    checkPlan(old, next, joined);
    assert.equal(joined.encodeCalls, 3);
    assert.deepEqual(keeps(joined), [[0, 50, 0], [61, 89, 0], [151, 48, 0]]);
    assert.equal(joined.encodeTokens, 11 + 1 + 1);
    const all = planEdit(old, next, { callCost: 100 });
    checkPlan(old, next, all);
    assert.equal(all.encodeCalls, 1, 'every run between edits is cheaper to re-encode');
    assert.deepEqual(keeps(all), [[0, 50, 0]]);
  });

  it('never drops the common prefix, nor a final run it would not save a call for', () => {
    const next = [...old.slice(0, 190), 1, ...old.slice(190)];
    const p = planEdit(old, next, { callCost: 50, reencodeLast: false });
    checkPlanNoLast(old, next, p);
    assert.deepEqual(keeps(p), [[0, 190, 0], [190, 10, 1]]);
  });
});

function checkPlanNoLast(prev: readonly number[], next: readonly number[], plan: EditPlan): void {
  let at = 0;
  for (const s of plan.segments) {
    assert.equal(s.newStart, at);
    if (s.kind === 'keep') for (let i = 0; i < s.length; i++) assert.equal(prev[s.oldStart + i], next[s.newStart + i]);
    at += s.length;
  }
  assert.equal(at, next.length);
}
