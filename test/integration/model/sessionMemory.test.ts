import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import { ModelError } from '../../../model/errors.js';
import type { SessionMemoryOptions } from '../../../model/onnxSession.js';
import { maxAbsDiff, needsModel, sampleCode, testModelDir } from './testModel.js';

/** 40 prompt tokens in two chunks, then 3 decoded: the logits of each step and the final cache. */
async function run(model: CodeModel, ids: readonly number[]): Promise<{ logits: Float32Array[]; keys: Float32Array; values: Float32Array }> {
  const logits: Float32Array[] = [];
  let r = await model.session.forward(ids.slice(0, 24), null);
  logits.push(r.logits.slice());
  for (const chunk of [ids.slice(24, 40), [ids[40]], [ids[41]], [ids[42]]]) {
    const next = await model.session.forward(chunk, r.cache);
    r.cache.dispose();
    r = next;
    logits.push(r.logits.slice());
  }
  const last = model.config.numLayers - 1;
  const out = { logits, keys: r.cache.keys(last).slice() as Float32Array, values: r.cache.values(last).slice() as Float32Array };
  r.cache.dispose();
  return out;
}

describe('onnxruntime memory settings', { skip: needsModel }, () => {
  let model: CodeModel;
  let ids: number[];
  before(async () => {
    model = await CodeModel.load(testModelDir, { threads: 1 });
    ids = model.tokenizer.encode(sampleCode).slice(0, 43);
  });
  after(() => model?.dispose());

  it('change where tensors live, not what the model computes', async () => {
    assert.equal(ids.length, 43);
    const shipped = await run(model, ids);
    const others: SessionMemoryOptions[] = [{ cpuMemArena: true, memPattern: true }, { cpuMemArena: false, memPattern: false }];
    for (const memory of others) {
      const other = await CodeModel.load(testModelDir, { threads: 1, memory });
      try {
        const got = await run(other, ids);
        shipped.logits.forEach((l, i) => assert.equal(maxAbsDiff(got.logits[i], l), 0, `${JSON.stringify(memory)}: logits of step ${i}`));
        assert.equal(maxAbsDiff(got.keys, shipped.keys), 0, `${JSON.stringify(memory)}: keys`);
        assert.equal(maxAbsDiff(got.values, shipped.values), 0, `${JSON.stringify(memory)}: values`);
      } finally {
        await other.dispose();
      }
    }
  });

  it('passes sessionConfig entries to onnxruntime', async () => {
    // An ONNX file read as the ORT format fails: the entry reached the session.
    await assert.rejects(CodeModel.load(testModelDir, { memory: { sessionConfig: { load_model_format: 'ORT' } } }), ModelError);
  });

  it("keeps only the asked-for logits row of a prefill chunk, not the chunk's whole [n, vocab] output", async () => {
    const r = await model.session.forward(ids.slice(0, 24), null);
    try {
      assert.equal(r.rows, 1);
      assert.equal(r.logits.length, model.config.vocabSize);
      assert.equal(r.logits.buffer.byteLength, model.config.vocabSize * Float32Array.BYTES_PER_ELEMENT);
    } finally {
      r.cache.dispose();
    }
  });
});
