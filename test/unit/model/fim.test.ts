import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectFimTemplate } from '../../../model/fim.js';

const lookup = (tokens: string[]) => ({ tokenId: (t: string) => (tokens.includes(t) ? tokens.indexOf(t) : undefined) });

describe('selectFimTemplate', () => {
  it('picks the family whose markers the tokenizer has', () => {
    assert.equal(selectFimTemplate(lookup(['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>']), { modelType: 'llama' })?.family, 'deepseek-coder');
    assert.equal(selectFimTemplate(lookup(['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>']), { modelType: 'qwen2' })?.family, 'qwen2.5-coder');
    assert.equal(selectFimTemplate(lookup(['▁<PRE>', '▁<SUF>', '▁<MID>']), { modelType: 'llama' })?.family, 'codellama');
  });

  it('tells StarCoder from our Llama model with the same markers by model_type', () => {
    const star = lookup(['<fim_prefix>', '<fim_suffix>', '<fim_middle>']);
    assert.equal(selectFimTemplate(star, { modelType: 'starcoder2' })?.family, 'starcoder');
    assert.equal(selectFimTemplate(star, { modelType: 'llama' })?.family, 'typeguide');
  });

  it('falls back to left-to-right when a marker is missing', () => {
    assert.equal(selectFimTemplate(lookup(['<fim_prefix>', '<fim_middle>']), { modelType: 'llama' }), undefined);
    assert.equal(selectFimTemplate(lookup([]), { modelType: 'gpt2' }), undefined);
  });
  it("follows config.json's fim_order: spm reorders our template, none turns FIM off", () => {
    const star = lookup(['<fim_prefix>', '<fim_suffix>', '<fim_middle>']);
    assert.equal(selectFimTemplate(star, { modelType: 'llama', fimOrder: 'spm' })?.order, 'spm');
    assert.equal(selectFimTemplate(star, { modelType: 'llama', fimOrder: 'psm' })?.order, 'psm');
    assert.equal(selectFimTemplate(star, { modelType: 'llama', fimOrder: 'none' }), undefined);
    assert.equal(selectFimTemplate(star, { modelType: 'llama' })?.order, 'psm');
  });
});
