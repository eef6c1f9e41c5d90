// Which files a variant may be stored as, and PIE's calls into a model that has no position_ids input.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadModelConfig } from '../../../model/config.js';
import { defaultModelDir } from '../../../model/index.js';
import { KvCache } from '../../../model/kvCache.js';
import { defaultVariant, externalDataFile, variantCandidates, variantFiles, type ModelVariant } from '../../../model/onnxSession.js';
import { PieRepositioner, type PieModel } from '../../../model/pie/repositioner.js';
import type { RotaryConfig } from '../../../model/pie/rotary.js';

describe('variant files', () => {
  it('tries the plain decoder, then optimum’s merged decoder, for every variant', () => {
    assert.deepEqual(variantCandidates('default'), ['model.onnx', 'decoder_model_merged.onnx']);
    assert.deepEqual(variantCandidates('quantized'), ['model_quantized.onnx', 'decoder_model_merged_quantized.onnx']);
    assert.deepEqual(variantCandidates('q4f16'), ['model_q4f16.onnx', 'decoder_model_merged_q4f16.onnx']);
    for (const v of Object.keys(variantFiles) as ModelVariant[]) assert.equal(variantCandidates(v)[0], variantFiles[v]);
    assert.deepEqual(variantCandidates('nonsense' as ModelVariant), []);
    assert.equal(externalDataFile('decoder_model_merged.onnx'), 'decoder_model_merged.onnx_data');
  });
});

describe('the variant that loads when none is named', () => {
  /** A folder with config.json (transformers.js_config as given) and empty files under onnx/. */
  function folder(jsConfig: unknown, files: string[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-dtype-'));
    fs.mkdirSync(path.join(dir, 'onnx'));
    const config = JSON.parse(fs.readFileSync(path.join(defaultModelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, 'transformers.js_config': jsConfig }));
    for (const f of files) fs.writeFileSync(path.join(dir, 'onnx', f), '');
    return dir;
  }
  const variantOf = (dir: string) => defaultVariant(dir, loadModelConfig(dir));

  it('is the one transformers.js_config.dtype names, as a string or per file, when its file is there', () => {
    assert.equal(variantOf(folder({ dtype: 'q8' }, ['model.onnx', 'model_quantized.onnx'])), 'quantized');
    assert.equal(variantOf(folder({ dtype: { model: 'q4' } }, ['model.onnx', 'model_q4.onnx'])), 'q4');
    assert.equal(variantOf(folder({ dtype: { decoder_model_merged: 'fp16' } }, ['decoder_model_merged.onnx', 'decoder_model_merged_fp16.onnx'])), 'fp16');
  });

  it('is model.onnx when the preferred file is missing, the dtype unknown, or none named', () => {
    assert.equal(variantOf(folder({ dtype: 'q8' }, ['model.onnx'])), 'default');
    assert.equal(variantOf(folder({ dtype: 'q3' }, ['model.onnx'])), 'default');
    assert.equal(variantOf(folder({ kv_cache_dtype: 'float32' }, ['model.onnx', 'model_quantized.onnx'])), 'default');
  });

  it('is q8 for the built-in model, which ships both', () => {
    assert.equal(variantOf(defaultModelDir), 'quantized');
  });
});

/** One layer, one head, head_dim 2; records the options of every call and refuses positions when it has none. */
class RecordingModel implements PieModel {
  readonly config: RotaryConfig = { headDim: 2, rotaryDim: 2, rotaryStyle: 'half', ropeTheta: 10000, ropeScaling: null, maxPositions: 512 };
  readonly calls: { from: number; n: number; positions: readonly number[] | undefined }[] = [];
  constructor(readonly hasPositionIds: boolean) {}
  async forward(ids: readonly number[], cache: KvCache | null, options: { positions?: readonly number[] } = {}): Promise<{ logits: Float32Array; cache: KvCache }> {
    const from = cache?.length ?? 0;
    if (!this.hasPositionIds && options.positions) throw new Error('positions given to a model without position_ids');
    this.calls.push({ from, n: ids.length, positions: options.positions });
    const rows = (base: number) => Float32Array.from(ids.flatMap((t, i) => [t + base, from + i]));
    const piece = new KvCache('float32', 1, 1, 2, [rows(0)], [rows(100)], ids.length);
    const out = cache ? cache.concat(piece) : piece;
    if (cache) piece.dispose();
    return { logits: Float32Array.of(ids[ids.length - 1]), cache: out };
  }
}

describe('PIE on a model without position_ids', () => {
  it('passes no positions, and every piece it encodes starts at the end of the cache', async () => {
    for (const hasPositionIds of [false, true]) {
      const model = new RecordingModel(hasPositionIds);
      const pie = new PieRepositioner(model);
      const old = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
      const next = [1, 2, 3, 4, 99, 98, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
      const first = await pie.rebuild(undefined, old, 'full');
      for (const strategy of ['pie', 'prefix', 'conflictFast', 'full'] as const) {
        const r = await pie.rebuild({ tokens: old, cache: first.cache }, next, strategy);
        assert.equal(r.cache.length, next.length);
        r.cache.dispose();
      }
      assert.ok(model.calls.length > 4);
      for (const call of model.calls) {
        if (hasPositionIds) assert.deepEqual(call.positions, Array.from({ length: call.n }, (_, i) => call.from + i));
        else assert.equal(call.positions, undefined);
      }
      first.cache.dispose();
    }
  });
});
