import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  DEFAULT_MODEL_ID, downloadVariant, filesFor, MODEL_REGISTRY, onnxFileFor, registryEntry, resolveUrl, variantsOf, type VariantFiles,
} from '../../../extension/models/registry.js';
import { defaultModelDir } from '../../../model/index.js';

const entry = (id: string) => {
  const e = registryEntry(id);
  assert.ok(e, `registry has ${id}`);
  return e;
};
const paths = (v: VariantFiles | undefined): string[] => (v ? v.files.map((f) => f.path) : []);

describe('model registry (the repositories\' own file names)', () => {
  it('DeepSeek-Coder 1.3B is a merged decoder: decoder_model_merged*.onnx, fp32 with its external data', () => {
    const ds = entry('deepseek-coder-1.3b-base');
    assert.equal(ds.repo, 'Xenova/deepseek-coder-1.3b-base');
    assert.deepEqual(paths(ds.variants.q8), ['onnx/decoder_model_merged_quantized.onnx']);
    assert.deepEqual(paths(ds.variants.fp32), ['onnx/decoder_model_merged.onnx', 'onnx/decoder_model_merged.onnx_data']);
    assert.equal(onnxFileFor(ds, 'q8'), 'onnx/decoder_model_merged_quantized.onnx');
    assert.equal(onnxFileFor(ds, 'fp32'), 'onnx/decoder_model_merged.onnx');
    for (const v of variantsOf(ds)) {
      for (const f of filesFor(ds, v)!) assert.doesNotMatch(f.path, /^onnx\/model[_.]/, `${f.path}: the repository has no model*.onnx`);
    }
    assert.equal(ds.variants.q4, undefined, 'no 4-bit export is listed');
  });

  it('Qwen2.5-Coder 1.5B is the base export; 0.5B, which exists only as Instruct, says so', () => {
    const q15 = entry('qwen2.5-coder-1.5b');
    assert.equal(q15.repo, 'onnx-community/Qwen2.5-Coder-1.5B');
    assert.doesNotMatch(q15.label, /instruct/i);
    assert.deepEqual(variantsOf(q15), ['q8', 'q4', 'fp16']);
    assert.deepEqual(paths(q15.variants.fp16), ['onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data']);
    const q05 = entry('qwen2.5-coder-0.5b');
    assert.equal(q05.repo, 'onnx-community/Qwen2.5-Coder-0.5B-Instruct');
    assert.match(q05.label, /Instruct/);
    assert.deepEqual(paths(q05.variants.fp32), ['onnx/model.onnx', 'onnx/model.onnx_data']);
    assert.deepEqual(paths(q05.variants.q8), ['onnx/model_quantized.onnx']);
  });

  it('every entry: Instruct repositories are labelled Instruct; each variant lists its graph first, external data beside it, and a source', () => {
    for (const e of MODEL_REGISTRY) {
      if (e.repo && /-instruct$/i.test(e.repo)) assert.match(e.label, /Instruct/, e.id);
      assert.ok(e.variants[e.defaultVariant], `${e.id}: its default variant is offered`);
      for (const v of variantsOf(e)) {
        const files = e.variants[v]!;
        assert.equal(files.files[0].path, files.onnx, `${e.id} ${v}`);
        for (const f of files.files.slice(1)) assert.equal(f.path, `${files.onnx}_data`, `${e.id} ${v}: ${f.path}`);
        assert.ok(files.source.length > 0, `${e.id} ${v} names its source`);
        // Nothing here could be checked against the Hub: no invented sizes or checksums.
        for (const f of filesFor(e, v)!) assert.ok(f.size === undefined && f.sha256 === undefined, `${e.id}: ${f.path} pins nothing unverified`);
      }
    }
  });

  it('the built-in model offers the q8 file the VSIX ships only, whatever the preference', () => {
    const builtin = entry(DEFAULT_MODEL_ID);
    assert.deepEqual(variantsOf(builtin), ['q8']);
    assert.equal(downloadVariant(builtin, 'fp32'), 'q8');
    assert.ok(fs.existsSync(path.join(defaultModelDir, builtin.variants.q8!.onnx)), 'the file is in the repository');
  });

  it('a download takes the preferred variant when offered, the entry\'s default otherwise', () => {
    const ds = entry('deepseek-coder-1.3b-base');
    assert.equal(downloadVariant(ds, 'fp32'), 'fp32');
    assert.equal(downloadVariant(ds, 'q4'), 'q8');
    assert.equal(downloadVariant(ds, 'auto'), 'q8');
    assert.equal(downloadVariant(ds, undefined), 'q8');
  });

  it('resolves Hub URLs in the resolve/<revision>/ layout', () => {
    assert.equal(resolveUrl('https://huggingface.co/', 'Xenova/deepseek-coder-1.3b-base', 'main', 'onnx/decoder_model_merged.onnx_data'),
      'https://huggingface.co/Xenova/deepseek-coder-1.3b-base/resolve/main/onnx/decoder_model_merged.onnx_data');
  });
});
