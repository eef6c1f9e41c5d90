import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { CandidateSet, MaskBuilder, identifierByteTable } from '../../../language-monitor/identifierMask.js';
import { TokenIndex } from '../../../language-monitor/tokenIndex.js';

const tokenizer = HfTokenizer.fromDir(defaultModelDir);
const index = TokenIndex.for(tokenizer);
const identByte = identifierByteTable('js');
const enc = new TextEncoder();

/** The definition, checked token by token over the whole vocabulary. */
function bruteForce(candidates: string[], partial: Uint8Array, lead: 'none' | 'optional' | 'required'): Set<number> {
  const cands = candidates.map((c) => Buffer.from(enc.encode(c)));
  const out = new Set<number>();
  // Right after a complete identifier the completion may end: special tokens (EOS, FIM ends) are legal.
  if (partial.length > 0 && cands.some((c) => c.equals(Buffer.from(partial)))) for (const id of tokenizer.specialIds) out.add(id);
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    let bytes = Buffer.from(index.bytes[id]);
    if (bytes.length === 0) continue;
    if (lead !== 'none' && partial.length === 0) {
      let k = 0;
      while (k < bytes.length && (bytes[k] === 0x20 || bytes[k] === 0x09)) k++;
      if (lead === 'required' && k === 0) continue;
      if (k === bytes.length) { out.add(id); continue; }
      bytes = bytes.subarray(k);
    }
    const p = Buffer.concat([Buffer.from(partial), bytes]);
    const ok = cands.some((c) => (c.length >= p.length && c.subarray(0, p.length).equals(p))
      || (p.length > c.length && p.subarray(0, c.length).equals(c) && !identByte[p[c.length]]));
    if (ok) out.add(id);
  }
  return out;
}

function viaMask(candidates: string[], partial: Uint8Array, lead: 'none' | 'optional' | 'required'): Set<number> {
  const mask = new MaskBuilder(index, identByte);
  mask.compute(new CandidateSet(candidates), partial, { leadOpen: lead !== 'none', leadRequired: lead === 'required' });
  return new Set(mask.allowedIds());
}

const CANDIDATES = ['zyntharLoad', 'blorpSave', 'getTelemetry', 'get', 'getAll', 'title', 'café', 'naïve', '名前', 'delete', 'default'];

void test('the mask equals the definition on the real tokenizer (multi-token, keywords, unicode, partial UTF-8)', () => {
  const cafeBytes = enc.encode('café');
  const partials = ['', 'get', 'zyn', 'zyntharLoad', 'caf'].map((s) => enc.encode(s));
  partials.push(cafeBytes.subarray(0, cafeBytes.length - 1)); // a partial identifier ending inside `é`
  for (const partial of partials) {
    const expected = bruteForce(CANDIDATES, partial, 'none');
    const actual = viaMask(CANDIDATES, partial, 'none');
    assert.deepEqual([...actual].sort((a, b) => a - b), [...expected].sort((a, b) => a - b), `partial ${Buffer.from(partial).toString()}`);
    assert.ok(expected.size > 0, 'some token is legal');
  }
});

void test('leading-space tokens are legal only where whitespace may precede the identifier', () => {
  const names = ['QuokkaStore', 'WombatCache', 'Map'];
  for (const lead of ['none', 'optional', 'required'] as const) {
    const expected = bruteForce(names, new Uint8Array(0), lead);
    assert.deepEqual([...viaMask(names, new Uint8Array(0), lead)].sort((a, b) => a - b), [...expected].sort((a, b) => a - b), lead);
  }
  const spaceMap = tokenizer.encode(' Map');
  if (spaceMap.length === 1) {
    assert.ok(viaMask(names, new Uint8Array(0), 'optional').has(spaceMap[0]));
    assert.ok(!viaMask(names, new Uint8Array(0), 'none').has(spaceMap[0]));
  }
});

void test('a multi-token identifier can be spelled token by token through the mask', () => {
  const ids = tokenizer.encode('zyntharLoad');
  assert.ok(ids.length > 1, 'the fixture name takes several tokens');
  const mask = new MaskBuilder(index, identByte);
  const set = new CandidateSet(CANDIDATES);
  let partial = new Uint8Array(0);
  for (const id of ids) {
    assert.ok(mask.compute(set, partial) > 0);
    assert.ok(mask.isAllowed(id), `token ${JSON.stringify(tokenizer.decode([id]))} is legal`);
    partial = Buffer.concat([partial, index.bytes[id]]);
  }
});

void test('a token spanning the end of an identifier and the next `(` is legal; one running past it is not', () => {
  const mask = new MaskBuilder(index, identByte);
  const set = new CandidateSet(['get', 'getAll']);
  mask.compute(set, enc.encode('get'));
  const spanning = index.sortedIds.filter((id) => /^\(\)?;?$|^\)/.test(Buffer.from(index.bytes[id]).toString('latin1')));
  assert.ok(spanning.length > 0, 'the vocabulary has `(`/`()` tokens');
  for (const id of spanning) assert.ok(mask.isAllowed(id), `\`get\` + ${JSON.stringify(Buffer.from(index.bytes[id]).toString())}`);
  for (const text of ['All', 'A']) {
    const ids = tokenizer.encode(text);
    if (ids.length === 1) assert.ok(mask.isAllowed(ids[0]), text);
  }
  const off = tokenizer.encode('s');
  assert.ok(!mask.isAllowed(off[0]), '`gets` is not a member');
  // A vocabulary with `name(` tokens: the whole token is legal when `name` is a complete candidate.
  const named = index.sortedIds.find((id) => /^[a-z]{3,}\($/.test(Buffer.from(index.bytes[id]).toString('latin1')));
  if (named !== undefined) {
    const name = Buffer.from(index.bytes[named]).toString('latin1').slice(0, -1);
    mask.compute(new CandidateSet([name, name + 'Extra']), new Uint8Array(0));
    assert.ok(mask.isAllowed(named));
  }
});

void test('special tokens are never legal, and no candidates means no mask (not "block all")', () => {
  const mask = new MaskBuilder(index, identByte);
  mask.compute(new CandidateSet(CANDIDATES), new Uint8Array(0), { leadOpen: true });
  for (const id of tokenizer.specialIds) assert.ok(!mask.isAllowed(id));
  const logits = Float32Array.from({ length: tokenizer.vocabSize }, (_, i) => Math.sin(i));
  const before = Float32Array.from(logits);
  assert.equal(mask.compute(new CandidateSet([]), new Uint8Array(0)), 0);
  mask.apply(logits);
  assert.deepEqual(logits, before);
  assert.equal(mask.compute(new CandidateSet(['title']), enc.encode('xyz')), 0, 'a partial off the set gives no constraint');
});

void test('apply keeps legal logits and sets the rest to -Infinity', () => {
  const mask = new MaskBuilder(index, identByte);
  const n = mask.compute(new CandidateSet(['blorpSave']), new Uint8Array(0));
  const logits = Float32Array.from({ length: tokenizer.vocabSize }, (_, i) => i % 7);
  mask.apply(logits);
  let finite = 0;
  for (let i = 0; i < logits.length; i++) if (Number.isFinite(logits[i])) { finite++; assert.equal(logits[i], i % 7); assert.ok(mask.isAllowed(i)); }
  assert.equal(finite, n);
});
