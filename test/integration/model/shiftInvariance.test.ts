// The base of PIE: a sequence encoded at positions Δ..Δ+n−1 has the same values as at 0..n−1, and its
// keys are those keys rotated by Δ. The rotation here is written out independently from config.json.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import type { ModelConfig } from '../../../model/config.js';
import { exactVariant, maxAbsDiff, needsModel, sampleCode, testModelDir } from './testModel.js';

function rotate(keys: Float32Array, c: ModelConfig, length: number, delta: number): Float64Array {
  const out = Float64Array.from(keys);
  const half = c.rotaryDim / 2;
  const factor = c.ropeScaling?.type === 'linear' ? c.ropeScaling.factor : 1;
  for (let i = 0; i < half; i++) {
    const theta = Math.fround(1 / Math.pow(c.ropeTheta, (2 * i) / c.rotaryDim)) / factor;
    const cos = Math.cos(delta * theta);
    const sin = Math.sin(delta * theta);
    const [a, b] = c.rotaryStyle === 'half' ? [i, i + half] : [2 * i, 2 * i + 1];
    for (let row = 0; row < c.numKvHeads * length; row++) {
      const base = row * c.headDim;
      const x = keys[base + a];
      const y = keys[base + b];
      out[base + a] = x * cos - y * sin;
      out[base + b] = y * cos + x * sin;
    }
  }
  return out;
}


describe('shift invariance (RoPE)', { skip: needsModel }, () => {
  let model: CodeModel;
  before(async () => {
    // Exact arithmetic: the float32 export of the shipped weights (see exactVariant).
    model = await CodeModel.load(testModelDir, { variant: exactVariant });
  });
  after(() => model?.dispose());

  it('values are unchanged and keys rotate by Δ when a sequence is encoded Δ positions later', async (t) => {
    const c = model.config;
    if (c.ropeScaling && c.ropeScaling.type !== 'linear') {
      t.skip(`rope_scaling ${c.ropeScaling.type} is not covered by this reference rotation`);
      return;
    }
    const ids = model.tokenizer.encode(sampleCode).slice(0, 32);
    const n = ids.length;
    const at0 = await model.session.forward(ids, null, { allLogits: true });
    for (const delta of [1, 17, Math.min(100, c.maxPositions - n)]) {
      const shifted = await model.session.forward(ids, null, { positions: ids.map((_, i) => i + delta), allLogits: true });
      for (let l = 0; l < c.numLayers; l++) {
        const dv = maxAbsDiff(shifted.cache.values(l), at0.cache.values(l));
        assert.ok(dv <= 1e-4, `Δ=${delta} layer ${l}: max |Δvalue| = ${dv}`);
        const dk = maxAbsDiff(shifted.cache.keys(l), rotate(at0.cache.keys(l) as Float32Array, c, n, delta));
        assert.ok(dk <= 1e-4, `Δ=${delta} layer ${l}: max |key − R(Δ)·key| = ${dk}`);
      }
      const dl = maxAbsDiff(shifted.logits, at0.logits);
      assert.ok(dl <= 1e-3, `Δ=${delta}: logits move by ${dl}`);
      // The check can fail: without the rotation the keys differ.
      if (delta === 17) assert.ok(maxAbsDiff(shifted.cache.keys(0), at0.cache.keys(0)) > 1e-3);
      shifted.cache.dispose();
    }
    at0.cache.dispose();
  });
});
