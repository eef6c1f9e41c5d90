import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModelConfig } from '../../../model/config.js';
import { ModelError } from '../../../model/errors.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-config-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
function folder(config: unknown, generation?: unknown): string {
  const dir = path.join(root, String(n++));
  fs.mkdirSync(dir);
  if (config !== undefined) fs.writeFileSync(path.join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  if (generation !== undefined) fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify(generation));
  return dir;
}
const llama = { model_type: 'llama', hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 2, vocab_size: 1000, eos_token_id: 2 };

describe('loadModelConfig', () => {
  it('reads shapes, derives head_dim and merges EOS ids from generation_config.json', () => {
    const c = loadModelConfig(folder({ ...llama, rope_scaling: { type: 'linear', factor: 4 } }, { eos_token_id: [2, 7] }));
    assert.equal(c.headDim, 32);
    assert.equal(c.numKvHeads, 2);
    assert.equal(c.ropeTheta, 10000);
    assert.deepEqual(c.ropeScaling, { type: 'linear', factor: 4 });
    assert.deepEqual([...c.eosTokenIds].sort(), [2, 7]);
    assert.equal(c.rotaryDim, 32);
    assert.equal(c.rotaryStyle, 'half');
  });

  it('reads partial rotary and the interleaved style of GPT-J-like models', () => {
    const c = loadModelConfig(folder({ ...llama, model_type: 'codegen', partial_rotary_factor: 0.5 }));
    assert.equal(c.rotaryDim, 16);
    assert.equal(c.rotaryStyle, 'interleaved');
  });

  it('names the file and the expectation when something is wrong', () => {
    const err = (dir: string, re: RegExp) =>
      assert.throws(() => loadModelConfig(dir), (e: unknown) => e instanceof ModelError && e.message.includes('config.json') && re.test(e.message));
    err(folder(undefined), /cannot read the file/);
    err(folder('{ not json'), /is not valid JSON/);
    err(folder('[1, 2]'), /expected a JSON object/);
    err(folder({ ...llama, vocab_size: undefined }), /"vocab_size"/);
    err(folder({ ...llama, num_key_value_heads: 3 }), /multiple of num_key_value_heads/);
    err(folder({ ...llama, num_hidden_layers: 0 }), /positive integer in "num_hidden_layers"/);
  });
});
