import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/index.js';
import { EngineClient } from '../../../extension/completion/engineClient.js';
import { collect } from '../../../extension/completion/postprocess.js';
import type { GenerateRequest } from '../../../extension/completion/types.js';

const root = path.resolve(__dirname, '..', '..', '..');
const modelDir = path.join(root, 'model', 'default-model');
const hasModel = fs.existsSync(path.join(modelDir, 'onnx', 'model_quantized.onnx'));
const prefix = 'export class Account {\n  balance = 0;\n  deposit(amount: number): void {\n    this.';
const suffix = '\n  }\n}\n';

describe('engine worker with the real default model', { skip: !hasModel && 'model/default-model/onnx/model_quantized.onnx not built yet' }, () => {
  let client: EngineClient;
  before(async () => {
    client = new EngineClient(path.join(root, 'extension', 'engineWorker', 'engineWorker.ts'), undefined, { execArgv: ['--import', 'tsx'] });
    // The variant the extension loads for the built-in model (its registry entry's only one).
    await client.load({ dir: modelDir, variant: 'q8', threads: 1 });
  });
  after(() => client?.dispose());

  const request = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
    languageId: 'typescript', prefix, suffix, maxTokens: 16, temperature: 0, singleLine: false, monitor: false, pie: false, ...over,
  });

  it('streams the same greedy text the model gives in-process', async () => {
    const stream = client.generate(request(), new AbortController().signal);
    const text = await collect(stream);
    const summary = await stream.summary;
    const model = await CodeModel.load(modelDir, { threads: 1 });
    try {
      const direct = await model.complete(prefix, suffix, { maxTokens: 16, temperature: 0, stop: [{ kind: 'eos' }, { kind: 'endOfBlock' }] });
      assert.equal(text, direct.text);
      assert.equal(summary.tokens, direct.tokens.length);
    } finally {
      await model.dispose();
    }
  });

  it('gives the same text with the PIE prompt cache, and reports its path', async () => {
    const plain = await collect(client.generate(request(), new AbortController().signal));
    const first = client.generate(request({ pie: true, filePath: '/tmp/account.ts' }), new AbortController().signal);
    assert.equal(await collect(first), plain);
    assert.ok((await first.summary).piePath, 'a PIE path is reported');
    const again = client.generate(request({ pie: true, filePath: '/tmp/account.ts' }), new AbortController().signal);
    assert.equal(await collect(again), plain);
  });
});
