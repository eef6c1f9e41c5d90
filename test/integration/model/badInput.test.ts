import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import { ModelError } from '../../../model/errors.js';
import { needsModel, testModelDir } from './testModel.js';

/** A copy of the model folder (the ONNX file linked, not copied) that a test may break. */
function copyModel(root: string, name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const f of fs.readdirSync(testModelDir)) {
    const p = path.join(testModelDir, f);
    if (fs.statSync(p).isFile()) fs.copyFileSync(p, path.join(dir, f));
  }
  fs.symlinkSync(path.join(testModelDir, 'onnx', 'model.onnx'), path.join(dir, 'onnx', 'model.onnx'));
  return dir;
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
}

/** Loading fails with one ModelError that names `file` and matches `expected`. */
async function rejects(dir: string, file: string, expected: RegExp): Promise<void> {
  await assert.rejects(CodeModel.load(dir), (e: unknown) => {
    assert.ok(e instanceof ModelError, `expected a ModelError, got ${String(e)}`);
    assert.ok(e.message.includes(file), `"${e.message}" should name ${file}`);
    assert.match(e.message, expected);
    return true;
  });
}

describe('bad model folders and documents', { skip: needsModel }, () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-bad-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a missing folder or missing files', async () => {
    await rejects(path.join(root, 'nowhere'), 'nowhere', /not a folder/);
    const a = copyModel(root, 'no-config');
    fs.rmSync(path.join(a, 'config.json'));
    await rejects(a, 'config.json', /cannot read/);
    const b = copyModel(root, 'no-tokenizer');
    fs.rmSync(path.join(b, 'tokenizer.json'));
    await rejects(b, 'tokenizer.json', /missing/);
    const c = copyModel(root, 'no-onnx');
    fs.rmSync(path.join(c, 'onnx', 'model.onnx'));
    await rejects(c, 'model.onnx', /missing; expected the ONNX export/);
    await assert.rejects(CodeModel.load(testModelDir, { variant: 'q4f16' }), /model_q4f16\.onnx: missing.*found: model\.onnx/);
  });

  it('corrupt files', async () => {
    const a = copyModel(root, 'bad-config');
    fs.writeFileSync(path.join(a, 'config.json'), '{"vocab_size": 1');
    await rejects(a, 'config.json', /not valid JSON/);
    const b = copyModel(root, 'bad-tokenizer');
    fs.writeFileSync(path.join(b, 'tokenizer.json'), '{"version": "1.0"}');
    await rejects(b, 'tokenizer.json', /tokenizer/);
    const c = copyModel(root, 'bad-onnx');
    fs.rmSync(path.join(c, 'onnx', 'model.onnx'));
    fs.writeFileSync(path.join(c, 'onnx', 'model.onnx'), Buffer.from('this is not a protobuf model at all'));
    await rejects(c, 'model.onnx', /onnxruntime cannot load it/);
  });

  it('a config that disagrees with the ONNX graph or the tokenizer', async () => {
    const cfg = (name: string, edit: (j: Record<string, unknown>) => void) => {
      const d = copyModel(root, name);
      editJson(path.join(d, 'config.json'), edit);
      return d;
    };
    await rejects(cfg('more-layers', (j) => (j.num_hidden_layers = (j.num_hidden_layers as number) + 1)), 'model.onnx', /missing; expected the Hugging Face KV-cache layout/);
    await rejects(cfg('fewer-layers', (j) => (j.num_hidden_layers = (j.num_hidden_layers as number) - 1)), 'model.onnx', /more layers than config\.json/);
    await rejects(cfg('small-vocab', (j) => (j.vocab_size = 100)), 'tokenizer.json', /config\.json's vocab_size is 100/);
    const wide = cfg('wide-vocab', (j) => (j.vocab_size = (j.vocab_size as number) + 64));
    const m = await CodeModel.load(wide).catch((e: unknown) => e);
    if (m instanceof CodeModel) {
      // Symbolic logits width: caught on the first pass instead.
      await assert.rejects(m.session.forward([1, 2], null), /logits width \d+ differs from config\.json vocab_size/);
      await m.dispose();
    } else {
      assert.match(String(m), /logits width \d+ differs from config\.json vocab_size/);
    }
  });

  it('documents: empty, huge, past-the-end positions and special-token text do not crash', async () => {
    const model = await CodeModel.load(testModelDir);
    try {
      const empty = await model.complete('', '', { maxTokens: 4, stop: [] });
      assert.equal(typeof empty.text, 'string');
      const plainEmpty = model.buildPrompt('', '', { noFim: true });
      assert.ok(plainEmpty.ids.length >= 1, 'an empty left-to-right prompt starts from a boundary token');
      const huge = 'let x = 1;\n'.repeat(300_000);
      const p = model.buildPrompt(huge, huge, { maxTokens: 16 });
      assert.ok(p.ids.length <= model.config.maxPositions - 16, `prompt of ${p.ids.length} tokens fits the context`);
      const r = await model.complete(huge, huge, { maxTokens: 4, stop: [] });
      assert.equal(r.tokens.length <= 4, true);
      const special = await model.complete('// <fim_middle> <|endoftext|>\nconst a', '', { maxTokens: 2, stop: [] });
      assert.ok(special.promptTokens > 3);
      await assert.rejects(model.session.forward([], null), /at least one token/);
    } finally {
      await model.dispose();
    }
  });
});
