// PIE against the real shipped ONNX model: exact pure shifts, and after real edits a next-token
// distribution closer to full recomputation than conflict-fast splicing. Expectations are computed
// (full recomputation is the reference), never hard-coded outputs of a particular model.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeModel, defaultModelDir, generateAll, type KvCache } from '../../../model/index.js';
import { klDivergence } from '../../../model/pie/metrics.js';
import { PromptCache } from '../../../model/pie/promptCache.js';
import { PieRepositioner } from '../../../model/pie/repositioner.js';
import { RotaryShifter, resolveRotary } from '../../../model/pie/rotary.js';

const source = fs.readFileSync(path.join(__dirname, 'fixtures', 'ledger.ts'), 'utf8');
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function layerDiff(a: KvCache, b: KvCache, part: 'keys' | 'values', layer: number): number {
  const x = a[part](layer);
  const y = b[part](layer);
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** FIM prompt with the cursor right after `marker` (found by substring) in `text`. */
function promptAt(model: CodeModel, text: string, marker: string): number[] {
  const at = text.indexOf(marker);
  assert.ok(at >= 0, `marker ${marker} not in the text`);
  return [...model.buildPrompt(text.slice(0, at + marker.length), text.slice(at + marker.length), { maxPromptTokens: 1024 }).ids];
}

describe('PIE with the shipped model', () => {
  let model: CodeModel;
  /** The float32 export of the same weights: the exactness checks need exact arithmetic (the shipped q8 rounds activations). */
  let exact: CodeModel;
  before(async () => {
    model = await CodeModel.load(defaultModelDir);
    exact = await CodeModel.load(defaultModelDir, { variant: 'default' });
  });
  after(async () => {
    await model.dispose();
    await exact.dispose();
  });

  it('the shipped model is one PIE can shift exactly', () => {
    const support = resolveRotary(model.config);
    assert.ok(support.ok, support.ok ? '' : support.reason);
    assert.match(path.basename(model.session.file), /^model_quantized\.onnx$/, 'the tests below the exact one run on the q8 file that ships');
  });

  it('pure shifts are exact: rotating a cache by Δ gives the cache encoded at positions + Δ (float32 export)', async () => {
    const model = exact;
    // Layer 0 keys are a function of the token and its position only, so they must match to the
    // model's float32 rounding. Deeper layers see attention outputs, and the model itself is translation-invariant
    // only up to float32 noise (visible in the values, which carry no rotation): a rotated key may
    // differ by that much, and no more.
    const spec = (resolveRotary(model.config) as Extract<ReturnType<typeof resolveRotary>, { ok: true }>).spec;
    const shifter = new RotaryShifter(spec);
    const tokens = model.tokenizer.encode(source).slice(0, 160);
    const n = tokens.length;
    for (const [from, delta] of [[0, 37], [0, 700], [500, -480], [0, model.config.maxPositions - n]]) {
      const moved = await model.session.forward(tokens, null, { positions: range(from, from + n) });
      const target = await model.session.forward(tokens, null, { positions: range(from + delta, from + delta + n) });
      assert.ok(layerDiff(moved.cache, target.cache, 'keys', 0) > 1e-2, 'the shift changes the keys (the test can fail)');
      shifter.shiftKeys(moved.cache, 0, n, delta, from);
      const lines: string[] = [];
      for (let l = 0; l < model.config.numLayers; l++) {
        const keyErr = layerDiff(moved.cache, target.cache, 'keys', l);
        const modelNoise = layerDiff(moved.cache, target.cache, 'values', l);
        lines.push(`layer ${l}: keys ${keyErr.toExponential(2)}, values (the model's own noise) ${modelNoise.toExponential(2)}`);
        if (l === 0) assert.equal(modelNoise, 0, 'layer 0 values do not depend on position');
        // 1e-4 relative to the keys' scale: the model's own float32 cos/sin at angles ~2000 rad carry
        // ~1e-5 relative error (float32 range reduction), which no shift can reproduce.
        const scale = Math.max(1, maxAbs(target.cache.keys(l)));
        assert.ok(keyErr <= 1e-4 * scale + 2 * modelNoise, `shift ${from}→${from + delta}, ${lines[l]} (key scale ${scale.toFixed(2)})`);
      }
      console.log(`shift ${from}→${from + delta}: ${lines.join('; ')}`);
      moved.cache.dispose();
      target.cache.dispose();
    }
  });

  it('after real edits PIE is closer (KL) to full recomputation than conflict-fast', async () => {
    // The distributions compared: the model's predictions at each of the prompt's last K positions
    // (suffix tail and the middle marker), encoded fresh after the cache each path built for the
    // rest. One next-token distribution is often near-certain; K positions give the signal.
    const K = 32;
    const rp = new PieRepositioner(model.session);
    const cursor = 'history(account: string, limit = 10): Entry[] {\n    return ';
    const edits: [string, (t: string) => string][] = [
      ['type a line', (t) => t.replace('  private nextId = 1;\n', '  private nextId = 1;\n  private readonly created = Date.now();\n')],
      ['delete a line', (t) => t.replace('    this.entries.push(entry);\n', '')],
      ['rename in several places', (t) => t.split('account').join('owner')],
    ];
    const old = promptAt(model, source, cursor);
    const oldFull = await model.session.forward(old, null);
    const tailLogits = async (cache: KvCache, next: number[]): Promise<Float32Array> => {
      const r = await model.session.forward(next.slice(next.length - K), cache, { positions: range(next.length - K, next.length), allLogits: true });
      r.cache.dispose();
      return r.logits;
    };
    const meanKl = (p: Float32Array, q: Float32Array): number => {
      const v = model.config.vocabSize;
      let sum = 0;
      for (let i = 0; i < K; i++) sum += klDivergence(p.subarray(i * v, (i + 1) * v), q.subarray(i * v, (i + 1) * v));
      return sum / K;
    };
    let sumPie = 0;
    let sumConflict = 0;
    const report: string[] = [];
    for (const [name, edit] of edits) {
      const next = promptAt(model, edit(source), name.startsWith('rename') ? cursor.split('account').join('owner') : cursor);
      const head = next.slice(0, next.length - K);
      const cached = { tokens: old, cache: oldFull.cache };
      const full = await rp.rebuild(undefined, head, 'full');
      const pie = await rp.rebuild(cached, head, 'pie', { reencodeLast: false });
      const conflict = await rp.rebuild(cached, head, 'conflictFast', { reencodeLast: false });
      assert.ok(pie.rotatedTokens > 0, `${name}: the edit moves tokens`);
      assert.ok(pie.encodedTokens < next.length / 4, `${name}: PIE encodes only the edit (${pie.encodedTokens} of ${next.length})`);
      const ref = await tailLogits(full.cache, next);
      const klPie = meanKl(ref, await tailLogits(pie.cache, next));
      const klConflict = meanKl(ref, await tailLogits(conflict.cache, next));
      report.push(`${name}: mean KL over the last ${K} positions: full‖PIE ${klPie.toExponential(3)}, full‖conflict-fast ${klConflict.toExponential(3)}; PIE encoded ${pie.encodedTokens}/${head.length}`);
      sumPie += klPie;
      sumConflict += klConflict;
      for (const r of [full, pie, conflict]) r.cache.dispose();
    }
    console.log(report.join('\n'));
    assert.ok(sumPie < sumConflict, `PIE ${sumPie} vs conflict-fast ${sumConflict}`);
    oldFull.cache.dispose();
  });

  it('PromptCache: FIM keystrokes take the PIE path, and exact paths generate exactly what no cache does', async () => {
    const pc = new PromptCache(model.session);
    const cursor = 'balance(account: string): number {\n    let total = 0;\n';
    const at = source.indexOf(cursor) + cursor.length;
    const complete = async (prefix: string, suffix: string, useCache: boolean) => {
      // PSM layout (Qwen/DeepSeek/StarCoder order): each keystroke lands mid-prompt, PIE's case.
      const prompt = model.buildPrompt(prefix, suffix, { maxPromptTokens: 1024, fimOrder: 'psm' });
      const prepared = useCache ? await pc.prepare('ledger.ts', prompt.ids) : undefined;
      const out = await generateAll(model.session, model.tokenizer, { ...prompt, cache: prepared?.cache }, { maxTokens: 8 });
      return { prepared, tokens: out.tokens };
    };
    const first = await complete(source.slice(0, at), source.slice(at), true);
    assert.equal(first.prepared?.path, 'full');
    const again = await complete(source.slice(0, at), source.slice(at), true);
    assert.equal(again.prepared?.path, 'reuse');
    assert.deepEqual(again.tokens, first.tokens, 'reuse is exact');
    let typed = '';
    for (const ch of '    for') {
      typed += ch;
      const r = await complete(source.slice(0, at) + typed, source.slice(at), true);
      assert.equal(r.prepared?.path, 'pie', r.prepared?.reason);
      assert.ok(r.prepared!.encodedTokens <= 3, `a keystroke encoded ${r.prepared!.encodedTokens} tokens`);
    }
    // Appending at the very end of a prompt without FIM is prefix reuse: exact.
    const plain = model.buildPrompt(source.slice(0, at), '', { noFim: true, maxPromptTokens: 1024 });
    const plainMore = model.buildPrompt(source.slice(0, at) + '    for (const entry of this.entries) { total += entry', '', { noFim: true, maxPromptTokens: 1024 });
    await pc.prepare('plain.ts', plain.ids);
    const prepared = await pc.prepare('plain.ts', plainMore.ids);
    assert.equal(prepared.path, 'prefix', prepared.reason);
    const cached = await generateAll(model.session, model.tokenizer, { ...plainMore, cache: prepared.cache }, { maxTokens: 8 });
    const fresh = await generateAll(model.session, model.tokenizer, plainMore, { maxTokens: 8 });
    assert.deepEqual(cached.tokens, fresh.tokens);
    pc.dispose();
  });
});
