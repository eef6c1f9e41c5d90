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

  it('reads RoPE from transformers 5 configs (rope_parameters) as from 4.x ones (top-level rope_theta, rope_scaling)', () => {
    // DeepSeek-Coder as transformers 5 writes it, and as the Hub's 4.x exports carry it: the same rotation.
    const v5 = loadModelConfig(folder({ ...llama, rope_parameters: { rope_type: 'linear', factor: 4, rope_theta: 100000 } }));
    const v4 = loadModelConfig(folder({ ...llama, rope_theta: 100000, rope_scaling: { type: 'linear', factor: 4 } }));
    for (const c of [v5, v4]) {
      assert.equal(c.ropeTheta, 100000);
      assert.equal(c.ropeScaling?.type, 'linear');
      assert.equal(c.ropeScaling?.factor, 4);
    }
    const qwen = loadModelConfig(folder({ ...llama, model_type: 'qwen2', rope_parameters: { rope_type: 'default', rope_theta: 1000000 } }));
    assert.equal(qwen.ropeTheta, 1000000);
    assert.equal(qwen.ropeScaling, null, 'rope_type default is no scaling');
    const llama3 = loadModelConfig(folder({ ...llama, rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }));
    assert.deepEqual(llama3.ropeScaling, { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    assert.equal(llama3.ropeTheta, 500000);
  });

  it('reads partial rotary from every field the families use', () => {
    assert.equal(loadModelConfig(folder({ ...llama, model_type: 'phi', partial_rotary_factor: 0.5 })).rotaryDim, 16);
    assert.equal(loadModelConfig(folder({ ...llama, model_type: 'phi', rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.25 } })).rotaryDim, 8);
    const neox = loadModelConfig(folder({ ...llama, model_type: 'gpt_neox', rotary_pct: 0.25, rotary_emb_base: 20000 }));
    assert.equal(neox.rotaryDim, 8);
    assert.equal(neox.ropeTheta, 20000);
    assert.equal(neox.rotaryStyle, 'half');
    assert.equal(loadModelConfig(folder({ ...llama, model_type: 'gptj', rotary_dim: 8 })).rotaryDim, 8);
    assert.equal(loadModelConfig(folder({ ...llama, model_type: 'gptj', rotary_dim: 8 })).rotaryStyle, 'interleaved');
    assert.equal(loadModelConfig(folder({ ...llama, model_type: 'deepseek_v3', rope_interleave: true })).rotaryStyle, 'interleaved');
  });

  it('per-layer-type RoPE settings: one shared set is used, differing ones make the rotation unsupported (no silent guess)', () => {
    const same = { rope_type: 'default', rope_theta: 1000000 };
    assert.equal(loadModelConfig(folder({ ...llama, rope_parameters: { full_attention: same, sliding_attention: same } })).ropeTheta, 1000000);
    const mixed = loadModelConfig(folder({ ...llama, rope_parameters: { full_attention: same, sliding_attention: { rope_type: 'default', rope_theta: 10000 } } }));
    assert.equal(mixed.ropeScaling?.type, 'per-layer-type');
  });

  it('refuses RoPE settings it cannot read instead of falling back to theta 10000', () => {
    assert.throws(() => loadModelConfig(folder({ ...llama, rope_parameters: { rope_type: 'linear', factor: 4 } })), /rope_theta/);
    assert.throws(() => loadModelConfig(folder({ ...llama, rope_parameters: 'linear' })), /rope_parameters/);
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
