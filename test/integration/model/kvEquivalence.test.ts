import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import { generateAll } from '../../../model/generate.js';
import { argmax } from '../../../model/sampling.js';
import { exactVariant, maxAbsDiff, needsModel, sampleCode, testModelDir } from './testModel.js';


describe('KV cache equivalence', { skip: needsModel }, () => {
  let model: CodeModel;
  before(async () => {
    // Exact arithmetic: the float32 export of the shipped weights (see exactVariant).
    model = await CodeModel.load(testModelDir, { variant: exactVariant });
  });
  after(() => model?.dispose());

  it('logits of one pass over N tokens equal N−k tokens then k tokens with the cache', async () => {
    const ids = model.tokenizer.encode(sampleCode).slice(0, 64);
    const V = model.config.vocabSize;
    const full = await model.session.forward(ids, null, { allLogits: true });
    for (const k of [1, 5]) {
      const head = await model.session.forward(ids.slice(0, ids.length - k), null);
      const tail = await model.session.forward(ids.slice(ids.length - k), head.cache, { allLogits: true });
      assert.equal(tail.rows, k);
      assert.equal(tail.cache.length, ids.length);
      const expected = full.logits.subarray((ids.length - k) * V, ids.length * V);
      const d = maxAbsDiff(tail.logits, expected);
      assert.ok(d <= 1e-4, `k=${k}: max |Δlogit| = ${d}`);
      for (let l = 0; l < model.config.numLayers; l++) {
        assert.ok(maxAbsDiff(tail.cache.keys(l), full.cache.keys(l)) <= 1e-4, `keys of layer ${l}`);
        assert.ok(maxAbsDiff(tail.cache.values(l), full.cache.values(l)) <= 1e-4, `values of layer ${l}`);
      }
      // A cache sliced back to N−k and extended again gives the same logits (slice keeps what is needed).
      const again = await model.session.forward(ids.slice(ids.length - k), tail.cache.slice(0, ids.length - k), { allLogits: true });
      assert.ok(maxAbsDiff(again.logits, expected) <= 1e-4);
      head.cache.dispose();
      tail.cache.dispose();
      again.cache.dispose();
    }
    full.cache.dispose();
  });

  it('greedy generation with the cache equals generation without it', async () => {
    const prompt = model.buildPrompt('function add(a: number, b: number) {\n  return', '\n}\n');
    const withCache = await generateAll(model.session, model.tokenizer, prompt, { maxTokens: 24, stop: [] });
    const noCache: number[] = [];
    const seq = [...prompt.ids];
    for (let i = 0; i < 24; i++) {
      const r = await model.session.forward(seq, null);
      r.cache.dispose();
      const next = argmax(r.logits);
      noCache.push(next);
      seq.push(next);
    }
    assert.equal(withCache.tokens.length, 24);
    assert.deepEqual(withCache.tokens, noCache);
  });
});
