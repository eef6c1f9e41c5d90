import fs from 'node:fs';
import path from 'node:path';
import { ModelError } from './errors.js';

export interface RopeScaling {
  /** linear | dynamic | llama3 | yarn | longrope | default */
  readonly type: string;
  readonly factor: number;
  readonly [key: string]: unknown;
}

/** The parts of a Hugging Face config.json that the engine needs, validated. */
export interface ModelConfig {
  readonly modelType: string;
  readonly architectures: readonly string[];
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling | null;
  /** Number of leading dims of each head that rotate (head_dim unless partial rotary). */
  readonly rotaryDim: number;
  /** rotate-half (Llama family) or interleaved pairs (GPT-J/CodeGen). */
  readonly rotaryStyle: 'half' | 'interleaved';
  readonly maxPositions: number;
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId: number | undefined;
  /**
   * TypeGuide's own config.json key `fim_order`: how the model was trained to fill in the middle
   * ('psm' or 'spm'), or 'none' when it should be prompted left to right only. Absent for
   * third-party models, whose format comes from their tokenizer's markers.
   */
  readonly fimOrder?: 'psm' | 'spm' | 'none';
}

function readJson(file: string, required: boolean): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelError(file, `cannot read the file (${(err as Error).message}); expected a JSON file here`, { cause: err });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ModelError(file, `is not valid JSON (${(err as Error).message}); expected a JSON object`, { cause: err });
  }
}

export function readJsonFile(file: string): Record<string, unknown> {
  return readJson(file, true)!;
}
export function readOptionalJsonFile(file: string): Record<string, unknown> | undefined {
  return readJson(file, false);
}

function ids(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number');
  return [];
}

/** Reads and validates `config.json` (and `generation_config.json` for EOS ids) in a model folder. */
export function loadModelConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  const raw = readJsonFile(file);
  const num = (key: string, fallback?: number): number => {
    const v = raw[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (fallback !== undefined) return fallback;
    throw new ModelError(file, `expected a number in "${key}", found ${JSON.stringify(v)}`);
  };
  const positive = (key: string, value: number): number => {
    if (!Number.isInteger(value) || value <= 0) throw new ModelError(file, `expected a positive integer in "${key}", found ${value}`);
    return value;
  };
  const numHeads = positive('num_attention_heads', num('num_attention_heads', typeof raw.n_head === 'number' ? raw.n_head : undefined));
  const numLayers = positive('num_hidden_layers', num('num_hidden_layers', typeof raw.n_layer === 'number' ? raw.n_layer : undefined));
  const hiddenSize = positive('hidden_size', num('hidden_size', typeof raw.n_embd === 'number' ? raw.n_embd : undefined));
  const numKvHeads = positive('num_key_value_heads', num('num_key_value_heads', numHeads));
  if (numHeads % numKvHeads !== 0) {
    throw new ModelError(file, `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDim = positive('head_dim', num('head_dim', hiddenSize / numHeads));
  const vocabSize = positive('vocab_size', num('vocab_size'));
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : 'unknown';

  let rotaryDim = headDim;
  if (typeof raw.rotary_dim === 'number') rotaryDim = raw.rotary_dim;
  else if (typeof raw.partial_rotary_factor === 'number') rotaryDim = Math.floor(headDim * raw.partial_rotary_factor);
  if (rotaryDim <= 0 || rotaryDim > headDim || rotaryDim % 2 !== 0) {
    throw new ModelError(file, `rotary dimension ${rotaryDim} must be even and within head_dim ${headDim}`);
  }
  const rotaryStyle = modelType === 'gptj' || modelType === 'codegen' ? 'interleaved' : 'half';

  let ropeScaling: RopeScaling | null = null;
  const rs = raw.rope_scaling;
  if (rs !== null && rs !== undefined) {
    if (typeof rs !== 'object' || Array.isArray(rs)) throw new ModelError(file, `expected an object or null in "rope_scaling"`);
    const r = rs as Record<string, unknown>;
    const type = typeof r.rope_type === 'string' ? r.rope_type : typeof r.type === 'string' ? r.type : 'default';
    const factor = typeof r.factor === 'number' ? r.factor : 1;
    ropeScaling = { ...r, type, factor };
  }

  const gen = readOptionalJsonFile(path.join(dir, 'generation_config.json'));
  const eos = [...new Set([...ids(raw.eos_token_id), ...ids(gen?.eos_token_id)])];
  const bos = ids(raw.bos_token_id ?? gen?.bos_token_id)[0];

  return {
    modelType,
    architectures: Array.isArray(raw.architectures) ? raw.architectures.filter((a): a is string => typeof a === 'string') : [],
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    hiddenSize,
    vocabSize,
    ropeTheta: num('rope_theta', 10000),
    ropeScaling,
    rotaryDim,
    rotaryStyle,
    maxPositions: num('max_position_embeddings', 2048),
    eosTokenIds: eos,
    bosTokenId: bos,
    ...(raw.fim_order === 'psm' || raw.fim_order === 'spm' || raw.fim_order === 'none' ? { fimOrder: raw.fim_order } : {}),
  };
}
