// A prefill computes the logits it needs, not [n, vocab]: the built-in model's graphs take
// `num_logits_to_keep` (model/train/logits_to_keep.py) and the engine feeds it. What comes back must
// be exactly what the whole [n, vocab] computation gives for those rows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CodeModel } from '../../../model/index.js';
import { exactVariant, needsModel, sampleCode, testModelDir } from './testModel.js';

for (const variant of [undefined, exactVariant] as const) {
  void describe(`logits of the last positions only (${variant ?? 'shipped'} variant)`, { skip: needsModel }, () => {
    let model: CodeModel;
    before(async () => { model = await CodeModel.load(testModelDir, variant ? { variant } : {}); });
    after(async () => { await model.dispose(); });

    void test('the graph takes num_logits_to_keep, and one row is the last row of all of them', async () => {
      assert.equal(model.session.logitsToKeepInput, 'num_logits_to_keep');
      const ids = model.tokenizer.encode(sampleCode).slice(0, 120);
      const last = await model.session.forward(ids, null);
      const all = await model.session.forward(ids, null, { allLogits: true });
      const v = model.config.vocabSize;
      assert.equal(last.rows, 1);
      assert.equal(last.logits.length, v, 'one row came back');
      assert.equal(all.rows, ids.length);
      assert.equal(all.logits.length, ids.length * v);
      let maxDiff = 0;
      for (let i = 0; i < v; i++) maxDiff = Math.max(maxDiff, Math.abs(last.logits[i] - all.logits[(ids.length - 1) * v + i]));
      assert.ok(maxDiff < 1e-4, `last row differs by ${maxDiff}`);
      // A chunk after a cache, as the engine's prefill runs them.
      const next = await model.session.forward(ids.slice(0, 7), last.cache);
      const nextAll = await model.session.forward(ids.slice(0, 7), all.cache, { allLogits: true });
      let d2 = 0;
      for (let i = 0; i < v; i++) d2 = Math.max(d2, Math.abs(next.logits[i] - nextAll.logits[6 * v + i]));
      assert.ok(d2 < 1e-4, `after a cache the last row differs by ${d2}`);
      for (const r of [last, all, next, nextAll]) r.cache.dispose();
    });
  });
}
