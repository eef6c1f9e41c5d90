import fs from 'node:fs';
import path from 'node:path';
import { loadModelConfig, type ModelConfig } from './config.js';
import { ModelError } from './errors.js';
import { selectFimTemplate } from './fim.js';
import { generate, generateAll, type EngineOptions, type GenerationOutcome, type PromptInput } from './generate.js';
import { OnnxCausalLm, type SessionOptions } from './onnxSession.js';
import type { KvCache } from './kvCache.js';
import { planHealing } from './tokenHealing.js';
import { HfTokenizer } from './tokenizer.js';
import type { FimTemplate, GeneratedToken } from './types.js';

export interface PromptOptions {
  /** Positions left for the prompt (default: the model's context minus room for generation). */
  maxPromptTokens?: number;
  /** Share of the prompt budget that the prefix gets when both sides are long (default 0.75). */
  prefixShare?: number;
  /** Use left-to-right prompting even when the model knows FIM. */
  noFim?: boolean;
  /**
   * Lay the FIM prompt out in this order instead of the model's own: 'psm' (prefix, suffix, middle
   * marker: what Qwen/DeepSeek/StarCoder use, where each keystroke lands mid-prompt) or 'spm'
   * (suffix first, the prefix last: typing at the cursor appends to the prompt).
   */
  fimOrder?: 'psm' | 'spm';
  /**
   * Token healing: when the prefix ends in text a following token would merge with (blanks after
   * code on the line, a partial identifier), drop the prompt tokens covering it; generation then
   * makes the output start with that text and returns only what follows it. Default false.
   */
  heal?: boolean;
  /**
   * Tokens from other files of the project (already rendered and tokenized by the caller), on top of the
   * window: 'head' puts them first, before the FIM markers (Qwen2.5-Coder's and StarCoder2's repository
   * formats); 'prefix' puts them right before the prefix's tokens, where a model trained on single
   * files sees them as the start of the file (comment headers with the path, then code). Context sits
   * before the current file either way, so a change to it leaves the file's cached rows to PIE.
   */
  context?: { readonly ids: readonly number[]; readonly placement: 'head' | 'prefix' };
}

export interface Prompt extends PromptInput {
  readonly ids: readonly number[];
  readonly linePrefix: string;
  /** 'fim:<family>' or 'plain'. */
  readonly format: string;
  /** Text cut off the prefix by token healing ('' when none); `linePrefix` is without it. */
  readonly healed: string;
}

/**
 * A loaded model folder: config, tokenizer, ONNX session and FIM template, checked against each
 * other. Owns the session; dispose() releases it.
 */
export class CodeModel {
  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly tokenizer: HfTokenizer,
    readonly session: OnnxCausalLm,
    readonly fim: FimTemplate | undefined,
    private readonly stopIds: readonly number[],
    private readonly bosId: number | undefined,
  ) {}

  static async load(dir: string, options: SessionOptions = {}): Promise<CodeModel> {
    const abs = path.resolve(dir);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
      throw new ModelError(abs, 'is not a folder; expected a model folder with config.json, tokenizer.json and onnx/model.onnx');
    }
    const config = loadModelConfig(abs);
    const tokenizer = HfTokenizer.fromDir(abs);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new ModelError(tokenizer.file, `has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}`);
    }
    const session = await OnnxCausalLm.load(abs, config, options);
    const fim = selectFimTemplate(tokenizer, config);
    const stopIds = [
      ...config.eosTokenIds,
      ...(fim?.stopTokens ?? []).map((t) => tokenizer.tokenId(t)).filter((id): id is number => id !== undefined),
    ];
    const bos = fim && (fim.family === 'deepseek-coder' || fim.family === 'codellama') ? config.bosTokenId : undefined;
    return new CodeModel(abs, config, tokenizer, session, fim, [...new Set(stopIds)], bos);
  }

  /** Display name: the folder's name. */
  get name(): string {
    return path.basename(this.dir);
  }

  /** Token ids for a completion between `prefix` and `suffix`, cut to a window around the cursor. */
  buildPrompt(prefix: string, suffix: string, options: PromptOptions & { maxTokens?: number } = {}): Prompt {
    let linePrefix = prefix.slice(Math.max(prefix.lastIndexOf('\n'), prefix.lastIndexOf('\r')) + 1);
    const context = this.config.maxPositions;
    const budget = Math.max(16, options.maxPromptTokens ?? context - (options.maxTokens ?? 128) - 8);
    // Cheap character pre-cut so that huge documents are never tokenized whole (≥ 1 char per token).
    const chars = budget * 8;
    const pre = prefix.length > chars ? prefix.slice(prefix.length - chars) : prefix;
    const useFim = this.fim !== undefined && !options.noFim;
    const suf = useFim ? (suffix.length > chars ? suffix.slice(0, chars) : suffix) : '';
    let preIds = this.tokenizer.encode(pre);
    let sufIds = useFim ? this.tokenizer.encode(suf) : [];
    const markers = (useFim ? 3 : 0) + (this.bosId !== undefined ? 1 : 0);
    const room = budget - markers;
    if (preIds.length + sufIds.length > room) {
      const preRoom = Math.max(Math.floor(room * (options.prefixShare ?? 0.75)), room - sufIds.length);
      preIds = preIds.slice(Math.max(0, preIds.length - preRoom));
      sufIds = sufIds.slice(0, Math.max(0, room - preIds.length));
    }
    let healed = '';
    if (options.heal) {
      const plan = planHealing(this.tokenizer, pre, preIds);
      if (plan.text) {
        healed = plan.text;
        preIds = preIds.slice(0, plan.keep);
        linePrefix = linePrefix.slice(0, linePrefix.length - healed.length);
      }
    }
    const ctx = options.context && options.context.ids.length > 0 ? options.context : undefined;
    const head = [...(this.bosId !== undefined ? [this.bosId] : []), ...(ctx?.placement === 'head' ? ctx.ids : [])];
    if (ctx?.placement === 'prefix') preIds = [...ctx.ids, ...preIds];
    if (!useFim) {
      const ids = [...head, ...preIds];
      if (ids.length === 0) {
        // Nothing to condition on: start from EOS, which such models treat as a document boundary.
        if (this.tokenizer.eosId === undefined) throw new ModelError('document', 'the prompt is empty and the model has no EOS token to start from');
        ids.push(this.tokenizer.eosId);
      }
      return { ids, linePrefix, format: 'plain', healed };
    }
    const fim = this.fim!;
    const id = (t: string) => this.tokenizer.tokenId(t)!;
    const ids = (options.fimOrder ?? fim.order) === 'psm'
      ? [...head, id(fim.prefixToken), ...preIds, id(fim.suffixToken), ...sufIds, id(fim.middleToken)]
      : [...head, id(fim.prefixToken), id(fim.suffixToken), ...sufIds, id(fim.middleToken), ...preIds];
    return { ids, linePrefix, format: `fim:${fim.family}`, healed };
  }

  /**
   * Forward passes at explicit positions, in the shape PIE's repositioner takes
   * (`forward(ids, positions, cache?)`); the cache passed in stays the caller's.
   */
  positioned(): { forward(ids: readonly number[], positions: readonly number[], cache?: KvCache): Promise<{ logits: Float32Array; cache: KvCache }> } {
    return { forward: (ids, positions, cache) => this.session.forward(ids, cache ?? null, { positions }) };
  }

  /** Streams a completion for `prompt`. */
  generate(prompt: PromptInput, options: EngineOptions): AsyncGenerator<GeneratedToken, GenerationOutcome> {
    return generate(this.session, this.tokenizer, prompt, { ...options, eosIds: [...this.stopIds, ...(options.eosIds ?? [])] });
  }

  /**
   * Completes at the cursor between `prefix` and `suffix`. With `heal`, processors in `options` see
   * the healed text as generated text: build them for the document without it (see Prompt.healed).
   */
  complete(prefix: string, suffix: string, options: EngineOptions & PromptOptions): Promise<GenerationOutcome> {
    const prompt = this.buildPrompt(prefix, suffix, options);
    return generateAll(this.session, this.tokenizer, prompt, { ...options, eosIds: [...this.stopIds, ...(options.eosIds ?? [])] });
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
