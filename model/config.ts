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
  /**
   * transformers.js's `transformers.js_config.dtype` (a string, or per file: `{ model: ... }` /
   * `{ decoder_model_merged: ... }`): the export the model's authors want loaded when the caller names
   * none (fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4).
   */
  readonly preferredDtype?: string;
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

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * RoPE from every place the families' configs keep it:
 * - transformers 4.x: top-level `rope_theta` and `rope_scaling` ({type | rope_type, factor, ...});
 * - transformers 5: `rope_parameters` ({rope_type, rope_theta, factor, partial_rotary_factor, ...}),
 *   or one such object per layer type ({full_attention: {...}, sliding_attention: {...}});
 * - GPT-NeoX: `rotary_emb_base`, `rotary_pct`; GPT-J/CodeGen: `rotary_dim` (interleaved pairs);
 *   Phi/StableLM: `partial_rotary_factor`; DeepSeek-V3: `rope_interleave`.
 * θ defaults to 10000 only when no field names it at all (transformers' own default); a
 * rope_parameters object without rope_theta is refused, since guessing would make PIE rotate wrong.
 */
function readRope(raw: Json, file: string, headDim: number, modelType: string): Pick<ModelConfig, 'ropeTheta' | 'ropeScaling' | 'rotaryDim' | 'rotaryStyle'> {
  let params: Json | undefined;
  let mixed = false;
  const rp = raw.rope_parameters;
  if (rp !== undefined && rp !== null) {
    if (!isObject(rp)) throw new ModelError(file, `expected an object in "rope_parameters", found ${JSON.stringify(rp)}`);
    const perType = Object.values(rp).every(isObject) && Object.keys(rp).length > 0;
    if (perType) {
      const sets = Object.values(rp) as Json[];
      mixed = new Set(sets.map((p) => JSON.stringify(Object.entries(p).sort()))).size > 1;
      params = (rp.full_attention as Json | undefined) ?? sets[0];
    } else {
      params = rp;
    }
    if (!finite(params.rope_theta)) {
      throw new ModelError(file, `"rope_parameters" has no numeric rope_theta (${JSON.stringify(params)}); expected transformers 5's {rope_type, rope_theta, ...}`);
    }
  }

  let ropeTheta = 10000;
  if (params) ropeTheta = params.rope_theta as number;
  else if (finite(raw.rope_theta)) ropeTheta = raw.rope_theta;
  else if (finite(raw.rotary_emb_base)) ropeTheta = raw.rotary_emb_base;
  if (!(ropeTheta > 0)) throw new ModelError(file, `rope_theta ${ropeTheta} must be positive`);

  let scaling: Json | undefined;
  if (params) {
    scaling = params;
  } else if (raw.rope_scaling !== null && raw.rope_scaling !== undefined) {
    if (!isObject(raw.rope_scaling)) throw new ModelError(file, `expected an object or null in "rope_scaling"`);
    scaling = raw.rope_scaling;
  }
  let ropeScaling: RopeScaling | null = null;
  if (mixed) {
    // Layer types rotate differently: one rotation per cache does not describe the model.
    ropeScaling = { type: 'per-layer-type', factor: 1, layers: rp };
  } else if (scaling) {
    const type = typeof scaling.rope_type === 'string' ? scaling.rope_type : typeof scaling.type === 'string' ? scaling.type : 'default';
    if (type !== 'default') {
      const rest = Object.fromEntries(Object.entries(scaling).filter(([k]) => !['rope_type', 'type', 'rope_theta', 'partial_rotary_factor'].includes(k)));
      ropeScaling = { ...rest, type, factor: finite(scaling.factor) ? scaling.factor : 1 };
    }
  }

  let rotaryDim = headDim;
  const partial = finite(params?.partial_rotary_factor) ? params.partial_rotary_factor : raw.partial_rotary_factor;
  if (finite(raw.rotary_dim)) rotaryDim = raw.rotary_dim;
  else if (finite(partial)) rotaryDim = Math.floor(headDim * partial);
  else if (finite(raw.rotary_pct)) rotaryDim = Math.floor(headDim * raw.rotary_pct);
  if (rotaryDim <= 0 || rotaryDim > headDim || rotaryDim % 2 !== 0) {
    throw new ModelError(file, `rotary dimension ${rotaryDim} must be even and within head_dim ${headDim}`);
  }
  const interleaved = modelType === 'gptj' || modelType === 'codegen' || raw.rope_interleave === true || raw.rotary_interleaved === true;
  return { ropeTheta, ropeScaling, rotaryDim, rotaryStyle: interleaved ? 'interleaved' : 'half' };
}

/** Reads and validates `config.json` (and `generation_config.json` for EOS ids) in a model folder. */
function preferredDtype(jsConfig: unknown): { preferredDtype?: string } {
  if (typeof jsConfig !== 'object' || jsConfig === null) return {};
  const dtype = (jsConfig as Record<string, unknown>).dtype;
  const value = typeof dtype === 'object' && dtype !== null
    ? (dtype as Record<string, unknown>).model ?? (dtype as Record<string, unknown>).decoder_model_merged
    : dtype;
  return typeof value === 'string' ? { preferredDtype: value } : {};
}

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

  const rope = readRope(raw, file, headDim, modelType);

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
    ...rope,
    maxPositions: num('max_position_embeddings', typeof raw.n_positions === 'number' ? raw.n_positions : 2048),
    eosTokenIds: eos,
    bosTokenId: bos,
    ...(raw.fim_order === 'psm' || raw.fim_order === 'spm' || raw.fim_order === 'none' ? { fimOrder: raw.fim_order } : {}),
    ...preferredDtype(raw['transformers.js_config']),
  };
}
