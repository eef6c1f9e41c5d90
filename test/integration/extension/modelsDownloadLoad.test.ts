import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeModelWorker } from '../../../extension/engineWorker/codeModelWorker.js';
import { ModelStore } from '../../../extension/models/modelStore.js';
import { registryEntry, type Variant } from '../../../extension/models/registry.js';
import { FakeHub } from '../../unit/extension/fixtures/fakeHub.js';

const standins = path.join(__dirname, '../../fixtures/models');

/**
 * The extension's whole path for a registry model, on the stand-ins of the real exports served at the
 * real repositories' paths: the registry's file list → download → the variant the store reports → the
 * worker's loader → the logits the stand-in generator's own onnxruntime run recorded (expected.json).
 */
const cases: { id: string; standin: string; variant: Variant; onnx: string }[] = [
  { id: 'deepseek-coder-1.3b-base', standin: 'deepseek-coder', variant: 'fp32', onnx: 'decoder_model_merged.onnx' },
  { id: 'deepseek-coder-1.3b-base', standin: 'deepseek-coder', variant: 'q8', onnx: 'decoder_model_merged_quantized.onnx' },
  { id: 'qwen2.5-coder-0.5b', standin: 'qwen2', variant: 'fp32', onnx: 'model.onnx' },
  { id: 'qwen2.5-coder-0.5b', standin: 'qwen2', variant: 'q8', onnx: 'model_quantized.onnx' },
  { id: 'qwen2.5-coder-0.5b', standin: 'qwen2', variant: 'fp16', onnx: 'model_fp16.onnx' },
];

interface Expected {
  readonly input_ids: number[];
  readonly onnx: Record<string, { readonly last: number[]; readonly max_abs_vs_torch: number }>;
}

describe('registry models: download from a loopback Hub, then load through the engine worker', () => {
  const hub = new FakeHub();
  let root: string;
  before(async () => {
    await hub.start();
    for (const c of cases) hub.serveFolder(registryEntry(c.id)!.repo!, path.join(standins, c.standin));
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-dlload-'));
  });
  after(async () => {
    await hub.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  for (const c of cases) {
    it(`${c.id} ${c.variant}: downloads ${c.onnx}${c.variant === 'fp32' ? ' and its external data' : ''}, loads it, and computes the recorded logits`, async () => {
      const store = new ModelStore(path.join(root, 'builtin'), path.join(root, `${c.id}-${c.variant}`), { hubUrl: hub.url });
      const entry = registryEntry(c.id)!;
      await store.download(entry, c.variant);
      const loc = store.resolve(c.id);
      assert.ok(loc.kind === 'folder', `${c.id} is downloaded`);
      assert.equal(loc.variant, c.variant);
      assert.equal(loc.onnxFile, `onnx/${c.onnx}`);
      const worker = await CodeModelWorker.load({ dir: loc.dir, variant: loc.variant, threads: 1 }, () => {}, null);
      try {
        const model = worker.engine.model;
        assert.equal(path.basename(model.session.file), c.onnx, 'the loader opened the file the store named');
        const expected = JSON.parse(fs.readFileSync(path.join(standins, c.standin, 'expected.json'), 'utf8')) as Expected;
        const want = expected.onnx[c.onnx];
        assert.ok(want, `expected.json has logits for ${c.onnx}`);
        const { logits } = await model.session.forward(expected.input_ids, null);
        let worst = 0;
        for (let i = 0; i < want.last.length; i++) worst = Math.max(worst, Math.abs(logits[i] - want.last[i]));
        assert.ok(worst < 1e-3, `logits match the stand-in's own ONNX run (max |Δ| ${worst})`);
      } finally {
        await worker.dispose();
      }
    });
  }
});
