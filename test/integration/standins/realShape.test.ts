// The loader, the KV cache and PIE's shift at Qwen2.5-Coder-0.5B's real shape (24 layers, hidden 896,
// 14/2 heads, vocab 151,936; random weights, ~2.5 GB in fp32 with model.onnx_data). Too big to commit:
// made by `scripts/standins/make_standins.py --real-shape DIR` and run with TYPEGUIDE_REAL_SHAPE_MODEL=DIR;
// skipped otherwise (CI has no Python to make it).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import type { KvCache } from '../../../model/kvCache.js';
import { variantFiles, type ModelVariant } from '../../../model/onnxSession.js';
import { RotaryShifter, resolveRotary } from '../../../model/pie/rotary.js';
import { maxAbsDiff, range } from '../model/testModel.js';

const dir = process.env.TYPEGUIDE_REAL_SHAPE_MODEL;
const variants = (['default', 'quantized', 'q4'] as ModelVariant[]).filter((v) => dir && fs.existsSync(path.join(dir, 'onnx', variantFiles[v])));
const skip = variants.length ? false : 'set TYPEGUIDE_REAL_SHAPE_MODEL to a folder made by make_standins.py --real-shape';

const keys = (c: KvCache, l: number) => c.keys(l) as Float32Array;

describe('Qwen2.5-Coder-0.5B shape (random weights)', { skip }, () => {
  for (const variant of variants) {
    describe(variant, () => {
      let model: CodeModel;
      after(() => model?.dispose());

      it('loads (external data for fp32) with the real shape', async () => {
        const t0 = performance.now();
        model = await CodeModel.load(dir!, { variant });
        console.log(`${variant}: loaded ${path.basename(model.session.file)} in ${Math.round(performance.now() - t0)} ms`);
        assert.equal(model.config.numLayers, 24);
        assert.equal(model.config.numKvHeads, 2);
        assert.equal(model.config.headDim, 64);
        assert.equal(model.config.vocabSize, 151936);
        assert.equal(model.config.ropeTheta, 1e6);
      });

      it('cached and uncached logits agree', async () => {
        const ids = range(0, 40).map((i) => 10 + ((i * 37) % 600));
        const t0 = performance.now();
        const full = await model.session.forward(ids, null, { allLogits: true });
        const t1 = performance.now();
        const head = await model.session.forward(ids.slice(0, 32), null);
        const tail = await model.session.forward(ids.slice(32), head.cache, { allLogits: true });
        const V = model.config.vocabSize;
        const d = maxAbsDiff(tail.logits, full.logits.subarray(32 * V));
        console.log(`${variant}: 40-token prefill ${Math.round(t1 - t0)} ms; |cached - uncached| ${d.toExponential(2)}`);
        // Dynamic int8 quantizes activations per call; float32 and 4-bit weights (float32 activations) are exact.
        assert.ok(d <= (variant === 'quantized' ? 0.5 : 1e-3), `|cached - uncached| = ${d}`);
        for (const r of [full, head, tail]) r.cache.dispose();
      });

      it('PIE shift is exact at layer 0 and within the model’s own noise deeper', async () => {
        const support = resolveRotary(model.config);
        assert.ok(support.ok);
        const shifter = new RotaryShifter(support.spec);
        const ids = range(0, 32).map((i) => 20 + ((i * 53) % 600));
        const moved = await model.session.forward(ids, null, { positions: range(0, 32) });
        const target = await model.session.forward(ids, null, { positions: range(1500, 1532) });
        const t0 = performance.now();
        shifter.shiftKeys(moved.cache, 0, 32, 1500, 0);
        const ms = performance.now() - t0;
        let worst = 0;
        for (let l = 0; l < model.config.numLayers; l++) {
          const err = maxAbsDiff(keys(moved.cache, l), keys(target.cache, l));
          const noise = maxAbsDiff(moved.cache.values(l), target.cache.values(l));
          const scale = Math.max(1, maxAbsDiff(keys(target.cache, l), new Float32Array(keys(target.cache, l).length)));
          if (l === 0) assert.equal(noise, 0);
          assert.ok(err <= 1e-4 * scale + 2 * noise, `layer ${l}: keys ${err} (noise ${noise}, scale ${scale})`);
          worst = Math.max(worst, err / scale);
        }
        console.log(`${variant}: rotating 32 rows × 24 layers took ${ms.toFixed(2)} ms; worst relative key error ${worst.toExponential(2)}`);
        moved.cache.dispose();
        target.cache.dispose();
      });
    });
  }
});
