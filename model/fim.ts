import type { ModelConfig } from './config.js';
import type { FimTemplate } from './types.js';

/** What FIM selection needs to know about a tokenizer: does a token with this exact text exist. */
export interface TokenLookup {
  tokenId(text: string): number | undefined;
}

/** Known fill-in-the-middle formats, most specific first. Each is only used when all its markers exist. */
export const fimTemplates: readonly FimTemplate[] = [
  {
    family: 'deepseek-coder',
    prefixToken: '<｜fim▁begin｜>',
    suffixToken: '<｜fim▁hole｜>',
    middleToken: '<｜fim▁end｜>',
    order: 'psm',
    stopTokens: ['<｜end▁of▁sentence｜>', '<|EOT|>'],
  },
  {
    family: 'qwen2.5-coder',
    prefixToken: '<|fim_prefix|>',
    suffixToken: '<|fim_suffix|>',
    middleToken: '<|fim_middle|>',
    order: 'psm',
    stopTokens: ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>', '<|im_end|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>'],
  },
  {
    family: 'starcoder',
    prefixToken: '<fim_prefix>',
    suffixToken: '<fim_suffix>',
    middleToken: '<fim_middle>',
    order: 'psm',
    stopTokens: ['<|endoftext|>', '<file_sep>', '<fim_pad>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>'],
  },
  {
    family: 'codellama',
    prefixToken: '▁<PRE>',
    suffixToken: '▁<SUF>',
    middleToken: '▁<MID>',
    order: 'psm',
    prefixTokenSuffixText: ' ',
    stopTokens: ['▁<EOT>', '</s>'],
  },
];

/** Our own model: StarCoder's markers on a Llama body. */
export const typeguideTemplate: FimTemplate = { ...fimTemplates[2], family: 'typeguide' };

/**
 * Picks the FIM template from the tokenizer's tokens (the truth) and config.json's model_type
 * (to tell StarCoder from our Llama model with the same markers). Undefined = plain left-to-right.
 */
export function selectFimTemplate(tokens: TokenLookup, config: Pick<ModelConfig, 'modelType' | 'fimOrder'>): FimTemplate | undefined {
  // config.json's `fim_order` (our models write it from their measured FIM quality) overrides the guess.
  if (config.fimOrder === 'none') return undefined;
  for (const t of fimTemplates) {
    const ok = [t.prefixToken, t.suffixToken, t.middleToken].every((m) => tokens.tokenId(m) !== undefined);
    if (!ok) continue;
    const chosen = t.family === 'starcoder' && !/^(starcoder|starcoder2|gpt_bigcode)$/.test(config.modelType) ? typeguideTemplate : t;
    return config.fimOrder ? { ...chosen, order: config.fimOrder } : chosen;
  }
  return undefined;
}
