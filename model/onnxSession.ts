// The only file that imports onnxruntime-node. Everything else sees plain typed arrays and KvCache.
import fs from 'node:fs';
import path from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { ModelConfig } from './config.js';
import { ModelError } from './errors.js';
import { KvCache, halfToFloat, type KvArray, type KvDtype } from './kvCache.js';
import { canWriteBeside, fingerprintDistance, logitsFingerprint, readSidecarRecord, rowsDistance, sidecarPaths, writeSidecar, writeSidecarRecord } from './lastLogits.js';

type Ort = typeof import('onnxruntime-node');
let ortPromise: Promise<Ort> | undefined;
/** Loaded lazily so that telemetry is off before the runtime starts and plain imports stay cheap. */
function loadOrt(): Promise<Ort> {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  ortPromise ??= import('onnxruntime-node').then((m) => ((m as { default?: Ort }).default ?? m) as Ort);
  return ortPromise;
}

/**
 * How far (relative to the largest logit, at least 1) a sidecar's probe rows may be from the original's:
 * float32, float16 and int8 exports give the same bits (grouped attention's MatMuls of other shapes
 * too, in float32); MatMulNBits (q4) takes another kernel path for one row and differs by ~2e-7. A
 * misplaced slice or a wrong head grouping differs by the logits' own size.
 */
const LAST_LOGITS_TOLERANCE = 1e-4;

/** Names of the optional input that limits the logits to the last positions (see OnnxCausalLm). */
const LOGITS_TO_KEEP = ['num_logits_to_keep', 'logits_to_keep'];

/** Which ONNX file of `onnx/` to load. */
export type ModelVariant = 'default' | 'quantized' | 'fp16' | 'q4' | 'q4f16' | 'int8' | 'uint8' | 'bnb4';
export const variantFiles: Record<ModelVariant, string> = {
  default: 'model.onnx',
  quantized: 'model_quantized.onnx',
  fp16: 'model_fp16.onnx',
  q4: 'model_q4.onnx',
  q4f16: 'model_q4f16.onnx',
  int8: 'model_int8.onnx',
  uint8: 'model_uint8.onnx',
  bnb4: 'model_bnb4.onnx',
};

/**
 * The files a variant may be stored as, in the order they are tried: the plain decoder
 * (`model_q4.onnx`, what onnx-community exports have) and then optimum's merged decoder
 * (`decoder_model_merged_q4.onnx`, what e.g. Xenova/deepseek-coder-1.3b-base has). Either may keep
 * its weights in a companion `<file>_data` (external data) that must sit beside it.
 */
/** transformers.js dtype names (config.json's `transformers.js_config.dtype`) → variants. */
const dtypeVariants: Record<string, ModelVariant> = { fp32: 'default', q8: 'quantized', fp16: 'fp16', q4: 'q4', q4f16: 'q4f16', int8: 'int8', uint8: 'uint8', bnb4: 'bnb4' };

/**
 * The variant to load when the caller names none: the one config.json's transformers.js_config.dtype
 * prefers when its file is there (the built-in model prefers q8), else the plain `model.onnx`.
 */
export function defaultVariant(dir: string, config: Pick<ModelConfig, 'preferredDtype'>): ModelVariant {
  const preferred = config.preferredDtype === undefined ? undefined : dtypeVariants[config.preferredDtype];
  if (preferred && variantCandidates(preferred).some((f) => fs.existsSync(path.join(dir, 'onnx', f)))) return preferred;
  return 'default';
}

export function variantCandidates(variant: ModelVariant): string[] {
  const plain = variantFiles[variant];
  if (!plain) return [];
  return [plain, plain.replace(/^model/, 'decoder_model_merged')];
}

/** The external-data file a model file may need (`model.onnx` → `model.onnx_data`). */
export function externalDataFile(onnxFile: string): string {
  return `${onnxFile}_data`;
}

export interface SessionOptions {
  variant?: ModelVariant;
  /** Threads for one operator (default: onnxruntime's choice). */
  threads?: number;
  /** Execution providers in order; default ['cpu']. onnxruntime-node does not fall back when one is missing. */
  providers?: readonly string[];
  /**
   * Let onnxruntime's worker threads spin while waiting for work (default false). Spinning saves ~5 % per
   * decoded token (bench:decode, 2 threads) but keeps a core busy between operators, which the editor and
   * its language servers need on a laptop.
   */
  spinning?: boolean;
  /**
   * onnxruntime's memory settings, to compare against the defaults (`sessionMemoryDefaults`) in
   * bench/memoryBreakdown.ts. `sessionConfig` adds session config entries without their `session.`
   * prefix (e.g. `{ disable_prepacking: '1' }`; the keys are in onnxruntime_session_options_config_keys.h).
   */
  memory?: SessionMemoryOptions;
  /**
   * For an export without `num_logits_to_keep` (every Hub export), or one whose attention repeats its
   * key/value heads (the built-in model too), load the sidecar graph that adds the input and groups
   * the attention (model/lastLogits.ts, model/groupedAttention.ts), building it beside the original when
   * the folder is writable (default true). False loads the original file as it is, for tests and
   * benchmarks that compare the two.
   */
  lastLogits?: boolean;
  /**
   * Whether that sidecar also multiplies grouped queries by the unrepeated key/value heads instead of
   * repeat_kv's copies (model/groupedAttention.ts; default true). False keeps the export's attention,
   * for benchmarks that compare the two; a sidecar built the other way is rebuilt.
   */
  groupedAttention?: boolean;
  /** Where the loader says why it loads what it loads (e.g. why there is no last-logits sidecar). */
  log?: (message: string) => void;
}

export interface SessionMemoryOptions {
  cpuMemArena?: boolean;
  memPattern?: boolean;
  sessionConfig?: Readonly<Record<string, string>>;
}

/**
 * onnxruntime's memory settings for every session (bench/memoryBreakdown.ts: built-in model, 1 thread,
 * 12 documents of 300-1,024 tokens prefilled in 256-token chunks, 16 tokens decoded in each, no cache
 * kept; RSS in MiB after the documents / after a full GC; speed as the per-round median ratio of
 * 16 interleaved runs, prefill of 1,024 tokens / ms per decoded token):
 * - memory pattern off (onnxruntime's default is on): with it, every new set of input shapes (every cache
 *   length: each decoded token is one) gets its own planned block out of the arena, and the arena keeps
 *   the largest: 453 / 411 with it, 442 / 363 without, prefill and decode within 3 % (the run's noise);
 * - the CPU arena stays on: without it every intermediate is a malloc/free: 387 / 308, but 2-6 % slower
 *   (prefill 1.02-1.06x, decode 1.01-1.06x), a trade-off left to the caller (`memory.cpuMemArena`).
 * What stays is the weights: the int8 initializers are folded to float32 at load (122 MiB; no int8 copy
 * stays) plus a second float32 copy of the tied embedding (32 MiB), kept unpacked beside its prepacked
 * form because the embedding's Gather reads it. `disable_prepacking` saves those 32 MiB at load but made
 * prefill 8-12 % slower. `use_device_allocator_for_initializers` changed nothing measurable.
 */
export const sessionMemoryDefaults: Readonly<Required<Omit<SessionMemoryOptions, 'sessionConfig'>>> = { cpuMemArena: true, memPattern: false };

export interface ForwardOptions {
  /** Positions of the new tokens; default cache.length .. cache.length + n - 1. */
  positions?: readonly number[];
  /** Return the logits of every new token (default: only the last). */
  allLogits?: boolean;
}

export interface ForwardResult {
  /** [rows, vocab] row-major; rows = 1 unless allLogits. */
  readonly logits: Float32Array;
  readonly rows: number;
  /** The input cache followed by the new tokens' keys/values (a new cache; the input one is untouched). */
  readonly cache: KvCache;
}

/** Raw access for benchmarks: the exact feed names and one run, no engine logic around it. */
export interface RawRunner {
  readonly kvDtype: KvDtype;
  readonly hasPositionIds: boolean;
  /** Merged decoder: feed `use_cache_branch` (bool [1], true when a past is given). */
  readonly isMergedDecoder: boolean;
  /** Feed this int64 scalar (how many last positions get logits) when set. */
  readonly logitsToKeepInput: string | undefined;
  run(feeds: Record<string, Tensor>): Promise<InferenceSession.ReturnType>;
  tensor(type: 'int64' | 'float32' | 'float16' | 'bool', data: BigInt64Array | Float32Array | Uint16Array | Uint8Array, dims: readonly number[]): Tensor;
}

/** A small float32 graph run on its own session (benchmarks of kernels written as graphs). */
export interface FloatGraphRunner {
  run(feeds: Record<string, { readonly data: Float32Array; readonly dims: readonly number[] }>): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** Loads a serialized ONNX graph whose inputs and outputs are float32 tensors. */
export async function floatGraphRunner(graph: Uint8Array, threads?: number): Promise<FloatGraphRunner> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(graph, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', ...(threads ? { intraOpNumThreads: threads } : {}) });
  return {
    run: async (feeds) => {
      const tensors = Object.fromEntries(Object.entries(feeds).map(([name, f]) => [name, new ort.Tensor('float32', f.data, f.dims)]));
      const out = await session.run(tensors);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
    },
    release: () => session.release(),
  };
}

/**
 * A decoder-only ONNX export in the Hugging Face layout (inputs input_ids, attention_mask,
 * [position_ids], past_key_values.{i}.key|value; outputs logits, present.{i}.key|value), checked
 * against config.json when loaded.
 */
export class OnnxCausalLm {
  private disposed = false;
  private readonly pastNames: { key: string; value: string }[];
  private readonly presentNames: { key: string; value: string }[];

  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    readonly config: ModelConfig,
    /** The export (`onnx/model_quantized.onnx`): what errors and reports name. */
    readonly file: string,
    /** What onnxruntime loaded: `file`, or its last-logits sidecar (`<file>.last-logits`, model/lastLogits.ts). */
    readonly graphFile: string,
    /** float32, or float16 (raw Uint16Array halves) for fp16 exports; KvCache and PIE handle both. */
    readonly kvDtype: KvDtype,
    /**
     * False for exports without a `position_ids` input (fused-attention builds): the graph places
     * new tokens right after the cache. forward() then accepts only those implied positions, which
     * is all PIE's repositioner ever asks for (it keeps the cache aligned with the new positions).
     */
    readonly hasPositionIds: boolean,
    readonly logitsWidth: number | undefined,
    /** optimum's merged decoder (an If on the bool input `use_cache_branch`). */
    readonly isMergedDecoder: boolean,
    /**
     * The int64 scalar input `num_logits_to_keep` (or `logits_to_keep`, transformers' name for the same
     * argument) when the export has one: how many of the last positions get logits. A prefill chunk
     * then computes one row of [vocab] instead of [n, vocab] (for the built-in model, the lm_head is a
     * fifth of a prefill's work and 16 MiB per 256-token chunk).
     */
    readonly logitsToKeepInput: string | undefined,
  ) {
    this.pastNames = Array.from({ length: config.numLayers }, (_, i) => ({ key: `past_key_values.${i}.key`, value: `past_key_values.${i}.value` }));
    this.presentNames = Array.from({ length: config.numLayers }, (_, i) => ({ key: `present.${i}.key`, value: `present.${i}.value` }));
  }

  static async load(dir: string, config: ModelConfig, options: SessionOptions = {}): Promise<OnnxCausalLm> {
    const variant = options.variant ?? defaultVariant(dir, config);
    const candidates = variantCandidates(variant);
    if (candidates.length === 0) throw new ModelError(path.join(dir, 'onnx'), `unknown variant "${variant}"; expected one of ${Object.keys(variantFiles).join(', ')}`);
    const file = candidates.map((f) => path.join(dir, 'onnx', f)).find((f) => fs.existsSync(f)) ?? path.join(dir, 'onnx', candidates[0]);
    if (!fs.existsSync(file)) {
      const present = fs.existsSync(path.join(dir, 'onnx')) ? fs.readdirSync(path.join(dir, 'onnx')).filter((f) => f.endsWith('.onnx')) : [];
      throw new ModelError(file, `missing; expected the ONNX export for variant "${variant}" (${candidates.join(' or ')}; found: ${present.join(', ') || 'no .onnx files'})`);
    }
    const ort = await loadOrt();
    if (options.lastLogits === false) return OnnxCausalLm.open(ort, file, file, config, options);
    return OnnxCausalLm.openWithLastLogits(ort, file, config, options);
  }

  /**
   * The original's session, or its last-logits sidecar's (model/lastLogits.ts) when that computes the
   * same last rows. A new sidecar is checked against the original on whole rows of a two-step probe
   * (a prompt, then a chunk after its cache: both branches of a merged decoder), one session after the
   * other so that two sets of weights are never loaded at once; the record beside it keeps a
   * fingerprint of those rows (~70 logits per step), and every later load checks the sidecar against
   * it with one probe, without loading the original. Anything that goes wrong loads the original.
   */
  private static async openWithLastLogits(ort: Ort, file: string, config: ModelConfig, options: SessionOptions): Promise<OnnxCausalLm> {
    const name = path.basename(file);
    let keeps = false; // the original takes logits_to_keep itself: only grouping is missing without a sidecar
    const fallBack = (why: string) => options.log?.(keeps
      ? `${name}: attention left as exported (no grouped sidecar: ${why})`
      : `${name}: logits computed for every position (no last-logits sidecar: ${why})`);
    const grouping = options.groupedAttention ?? true;
    const record = readSidecarRecord(file, grouping);
    if (record?.sidecar) {
      const { probe } = record.sidecar;
      const sidecar = await OnnxCausalLm.trySidecar(ort, sidecarPaths(file).graph, file, config, options, (rows) => fingerprintDistance(probe, rows));
      if (sidecar.lm) return sidecar.lm;
      // Recorded only when the original loads with the same options: a failure of the options
      // themselves (or of the machine) says nothing about the sidecar.
      const original = await OnnxCausalLm.open(ort, file, file, config, options);
      writeSidecarRecord(file, { failed: sidecar.reason });
      fallBack(sidecar.reason);
      return original;
    }
    const original = await OnnxCausalLm.open(ort, file, file, config, options);
    // A graph with its own logits_to_keep needs a sidecar only to group its attention.
    if (original.logitsToKeepInput && (!grouping || original.kvDtype !== 'float32' || config.numKvHeads >= config.numHeads)) return original;
    keeps = original.logitsToKeepInput !== undefined;
    if (record?.failed) {
      fallBack(record.failed);
      return original;
    }
    if (!canWriteBeside(file)) {
      fallBack(`${path.dirname(file)} is not writable`);
      return original;
    }
    let reference: Float32Array[];
    let written: ReturnType<typeof writeSidecar>;
    try {
      reference = await original.lastLogitsProbe();
      written = writeSidecar(file, grouping ? { heads: config.numHeads, kvHeads: config.numKvHeads } : undefined);
    } catch (err) {
      written = { reason: `building it failed (${(err as Error).message})` };
      reference = [];
    }
    if ('reason' in written) {
      writeSidecarRecord(file, { failed: written.reason });
      fallBack(written.reason);
      return original;
    }
    // One set of weights at a time: the original goes before the sidecar loads (and comes back if it fails).
    await original.dispose();
    let sidecar = await OnnxCausalLm.trySidecar(ort, written.path, file, config, options, (rows) => rowsDistance(reference, rows));
    if (!sidecar.lm && written.grouped > 0 && !keeps) {
      // The grouping is what failed, perhaps: the slice alone is still worth having. Recorded as grouping
      // asked for (and none applied), so that later loads take it without trying again.
      options.log?.(`${name}: grouped attention failed (${sidecar.reason}); trying the last-logits sidecar alone`);
      const plain = writeSidecar(file, undefined);
      if (!('reason' in plain)) {
        written = plain;
        sidecar = await OnnxCausalLm.trySidecar(ort, plain.path, file, config, options, (rows) => rowsDistance(reference, rows));
      }
    }
    if (sidecar.lm) {
      writeSidecarRecord(file, { probe: logitsFingerprint(reference), grouping, grouped: written.grouped });
      if (written.grouped > 0) options.log?.(`${name}: grouped attention (${written.grouped} repeated keys and values multiplied unrepeated)`);
      return sidecar.lm;
    }
    writeSidecarRecord(file, { failed: sidecar.reason });
    fallBack(sidecar.reason);
    return OnnxCausalLm.open(ort, file, file, config, options);
  }

  /**
   * The sidecar's session when onnxruntime takes it and its probe rows are within LAST_LOGITS_TOLERANCE
   * of what `distance` compares them with; otherwise the reason, and nothing left loaded.
   */
  private static async trySidecar(ort: Ort, graphFile: string, file: string, config: ModelConfig, options: SessionOptions, distance: (rows: Float32Array[]) => number): Promise<{ lm: OnnxCausalLm; reason?: undefined } | { lm?: undefined; reason: string }> {
    let lm: OnnxCausalLm;
    try {
      lm = await OnnxCausalLm.open(ort, graphFile, file, config, options);
    } catch (err) {
      return { reason: `onnxruntime refused it (${err instanceof ModelError ? err.problem : (err as Error).message})` };
    }
    try {
      if (!lm.logitsToKeepInput) throw new Error('it has no num_logits_to_keep input');
      const d = distance(await lm.lastLogitsProbe());
      if (!(d <= LAST_LOGITS_TOLERANCE)) throw new Error(`its probe logits differ from the original's by ${d.toExponential(2)} (relative to the largest)`);
      return { lm };
    } catch (err) {
      await lm.dispose();
      return { reason: err instanceof ModelError ? err.problem : (err as Error).message };
    }
  }

  /** A session on `graphFile` (the export `file` itself, or its sidecar), validated and probed. */
  private static async open(ort: Ort, graphFile: string, file: string, config: ModelConfig, options: SessionOptions): Promise<OnnxCausalLm> {
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(graphFile, {
        executionProviders: [...(options.providers ?? ['cpu'])],
        graphOptimizationLevel: 'all',
        enableCpuMemArena: options.memory?.cpuMemArena ?? sessionMemoryDefaults.cpuMemArena,
        enableMemPattern: options.memory?.memPattern ?? sessionMemoryDefaults.memPattern,
        // Weight-only int8 models (ours: DequantizeLinear on int8 initializers) then have their
        // dequantization constant-folded to float32 at load: exact float32 numerics and ~4x faster
        // than letting ORT fuse quantized kernels. Only changes how QDQ pairs are treated.
        extra: { session: { disable_quant_qdq: '1', intra_op: { allow_spinning: options.spinning ? '1' : '0' }, ...options.memory?.sessionConfig } },
        ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
      });
    } catch (err) {
      const message = (err as Error).message;
      const missing = /external data path does not exist: "?([^"\n]+)"?/i.exec(message);
      if (missing) {
        throw new ModelError(file, `keeps its weights in ${path.basename(missing[1])}, which is missing beside it; download every file of the variant (${path.basename(file)} and ${path.basename(missing[1])})`, { cause: err });
      }
      throw new ModelError(file, `onnxruntime cannot load it (${message}); expected a valid ONNX model`, { cause: err });
    }
    try {
      const lm = OnnxCausalLm.validate(ort, session, config, file, graphFile);
      await lm.probe();
      return lm;
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /**
   * The last row of logits of a 6-token prompt and of a 4-token chunk after its cache: what a sidecar
   * must give exactly as its original does (more than one row per chunk, both merged-decoder branches).
   */
  private async lastLogitsProbe(): Promise<Float32Array[]> {
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => ((from + i) * 7919) % this.config.vocabSize);
    const first = await this.forward(ids(1, 6), null);
    try {
      const second = await this.forward(ids(7, 4), first.cache);
      second.cache.dispose();
      return [first.logits.slice(), second.logits.slice()];
    } finally {
      first.cache.dispose();
    }
  }

  /**
   * One token with an empty cache, then one with that cache (both branches of a merged decoder): the
   * declared shapes are often all symbolic, so only a run shows whether the export takes and returns
   * the cache as [batch, kv_heads, seq, head_dim]. A mismatch is one clear error at load, instead of an
   * onnxruntime shape error (or wrong text) at the first completion.
   */
  private async probe(): Promise<void> {
    const results: ForwardResult[] = [];
    try {
      results.push(await this.forward([0], null));
      results.push(await this.forward([0], results[0].cache));
    } catch (err) {
      const inner = err instanceof ModelError ? err.problem : (err as Error).message;
      throw new ModelError(this.file, `does not run with the KV cache as [batch, kv_heads = ${this.config.numKvHeads}, seq, head_dim = ${this.config.headDim}] (the optimum/transformers.js layout; config.json's num_key_value_heads and head_dim): a one-token probe ${results.length === 0 ? 'with an empty cache' : 'with a one-token cache'} failed: ${inner}`, { cause: err });
    } finally {
      for (const r of results) r.cache.dispose();
    }
  }

  private static validate(ort: Ort, session: InferenceSession, config: ModelConfig, file: string, graphFile: string): OnnxCausalLm {
    const inputs = new Map(session.inputMetadata.map((m) => [m.name, m]));
    const outputs = new Map(session.outputMetadata.map((m) => [m.name, m]));
    const need = (names: string[], have: Map<string, unknown>, what: string) => {
      const missing = names.filter((n) => !have.has(n));
      if (missing.length) {
        throw new ModelError(file, `${what} ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', …' : ''} missing; expected the Hugging Face KV-cache layout for ${config.numLayers} layers (has ${[...have.keys()].slice(0, 6).join(', ')}${have.size > 6 ? ', …' : ''})`);
      }
    };
    const layers = [...Array(config.numLayers).keys()];
    need(['input_ids', 'attention_mask', ...layers.flatMap((i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`])], inputs, 'inputs');
    need(['logits', ...layers.flatMap((i) => [`present.${i}.key`, `present.${i}.value`])], outputs, 'outputs');
    const extraLayer = `past_key_values.${config.numLayers}.key`;
    if (inputs.has(extraLayer)) throw new ModelError(file, `has more layers than config.json's num_hidden_layers (${config.numLayers})`);
    const known = new Set(['input_ids', 'attention_mask', 'position_ids', 'use_cache_branch', ...LOGITS_TO_KEEP, ...layers.flatMap((i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`])]);
    const unknown = [...inputs.keys()].filter((n) => !known.has(n));
    if (unknown.length) throw new ModelError(file, `has inputs this engine cannot feed: ${unknown.join(', ')}`);

    const past = inputs.get('past_key_values.0.key')!;
    if (!past.isTensor || (past.type !== 'float32' && past.type !== 'float16')) {
      throw new ModelError(file, `past_key_values.0.key has type ${past.isTensor ? past.type : 'non-tensor'}; expected float32 or float16`);
    }
    const kvDtype = past.type;
    for (const i of layers) {
      for (const t of ['key', 'value']) {
        const m = inputs.get(`past_key_values.${i}.${t}`)!;
        if (!m.isTensor || m.type !== kvDtype) throw new ModelError(file, `past_key_values.${i}.${t} is not ${kvDtype} like layer 0`);
        const [, heads, , dim] = m.shape;
        if (typeof heads === 'number' && heads !== config.numKvHeads && m.shape.length === 4 && typeof m.shape[2] !== 'number') {
          throw new ModelError(file, `past_key_values.${i}.${t} has ${heads} heads; config.json says num_key_value_heads = ${config.numKvHeads}`);
        }
        if (typeof dim === 'number' && dim !== config.headDim && m.shape.length === 4 && typeof m.shape[2] !== 'number') {
          throw new ModelError(file, `past_key_values.${i}.${t} has head size ${dim}; config.json says head_dim = ${config.headDim}`);
        }
        OnnxCausalLm.checkKvDims(file, `past_key_values.${i}.${t}`, m.shape, config, undefined);
      }
    }
    for (const name of ['input_ids', 'attention_mask', 'position_ids']) {
      const m = inputs.get(name);
      if (m && (!m.isTensor || m.type !== 'int64')) throw new ModelError(file, `input ${name} must be int64, found ${m.isTensor ? m.type : 'non-tensor'}`);
    }
    const logitsToKeep = LOGITS_TO_KEEP.find((n) => inputs.has(n));
    if (logitsToKeep) {
      const m = inputs.get(logitsToKeep)!;
      if (!m.isTensor || m.type !== 'int64' || m.shape.length !== 0) throw new ModelError(file, `input ${logitsToKeep} must be an int64 scalar, found ${m.isTensor ? `${m.type} [${m.shape.join(', ')}]` : 'non-tensor'}`);
    }
    const branch = inputs.get('use_cache_branch');
    if (branch && (!branch.isTensor || branch.type !== 'bool')) {
      throw new ModelError(file, `input use_cache_branch must be bool (optimum's merged decoder), found ${branch.isTensor ? branch.type : 'non-tensor'}`);
    }
    for (const i of layers) {
      for (const t of ['key', 'value']) {
        const m = outputs.get(`present.${i}.${t}`)!;
        if (!m.isTensor || m.type !== kvDtype) {
          throw new ModelError(file, `output present.${i}.${t} is ${m.isTensor ? m.type : 'non-tensor'} but past_key_values are ${kvDtype}; the cache must come back in the type it goes in`);
        }
        OnnxCausalLm.checkKvDims(file, `present.${i}.${t}`, m.shape, config, undefined);
      }
    }
    const logits = outputs.get('logits')!;
    if (!logits.isTensor || (logits.type !== 'float32' && logits.type !== 'float16')) {
      throw new ModelError(file, `output logits has type ${logits.isTensor ? logits.type : 'non-tensor'}; expected float32 or float16`);
    }
    const width = logits.shape[2];
    if (typeof width === 'number' && width !== config.vocabSize) {
      throw new ModelError(file, `logits width ${width} differs from config.json vocab_size ${config.vocabSize}`);
    }
    return new OnnxCausalLm(ort, session, config, file, graphFile, kvDtype, inputs.has('position_ids'), typeof width === 'number' ? width : undefined, inputs.has('use_cache_branch'), logitsToKeep);
  }

  /**
   * The cache layout this engine slices and rotates: [batch, kv_heads, seq, head_dim] (the
   * optimum/transformers.js one). Checked on the declared shapes at load (where they are numbers)
   * and on the real dims of every present output, so that an export with another layout (e.g.
   * [batch, seq, kv_heads, head_dim]) fails once, clearly, instead of decoding garbage.
   */
  private static checkKvDims(file: string, name: string, dims: readonly (number | string | undefined)[], config: ModelConfig, seq: number | undefined): void {
    const want = [1, config.numKvHeads, seq, config.headDim];
    // Declared shapes (seq undefined): the sequence axis is dynamic in every export, so a fixed axis 2
    // means the layout differs (e.g. [batch, seq, kv_heads, head_dim]).
    const bad = dims.length !== 4 || dims.some((d, i) => typeof d === 'number' && (want[i] === undefined ? i === 2 : d !== want[i]));
    if (bad) {
      throw new ModelError(file, `${name} has shape [${dims.join(', ')}]; expected [batch, kv_heads = ${config.numKvHeads}, ${seq ?? 'seq'}, head_dim = ${config.headDim}] (the optimum/transformers.js KV layout) with num_key_value_heads and head_dim from config.json`);
    }
  }

  /** Runs new tokens after `cache` (null = empty) and returns their logits and the extended cache. */
  async forward(tokens: readonly number[], cache: KvCache | null, options: ForwardOptions = {}): Promise<ForwardResult> {
    if (this.disposed) throw new ModelError(this.file, 'session used after dispose()');
    const n = tokens.length;
    if (n === 0) throw new ModelError('forward', 'needs at least one token');
    const past = cache ?? KvCache.empty(this.config, this.kvDtype);
    if (past.dtype !== this.kvDtype || past.numLayers !== this.config.numLayers || past.numKvHeads !== this.config.numKvHeads || past.headDim !== this.config.headDim) {
      throw new ModelError('kv cache', `does not fit ${this.file} (${this.kvDtype}, ${this.config.numLayers} layers, ${this.config.numKvHeads} kv heads, head_dim ${this.config.headDim})`);
    }
    const p = past.length;
    const positions = options.positions;
    if (positions && positions.length !== n) throw new ModelError('forward', `got ${positions.length} positions for ${n} tokens`);

    const T = this.ort.Tensor;
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(tokens[i]);
    const mask = new BigInt64Array(p + n).fill(1n);
    const feeds: Record<string, Tensor> = {
      input_ids: new T('int64', ids, [1, n]),
      attention_mask: new T('int64', mask, [1, p + n]),
    };
    if (this.hasPositionIds) {
      const pos = new BigInt64Array(n);
      for (let i = 0; i < n; i++) pos[i] = BigInt(positions ? positions[i] : p + i);
      feeds.position_ids = new T('int64', pos, [1, n]);
    } else if (positions && positions.some((q, i) => q !== p + i)) {
      throw new ModelError(this.file, `has no position_ids input: new tokens always sit right after the cache (positions ${p}..${p + n - 1}), so positions from ${positions[0]} cannot be given`);
    }
    if (this.isMergedDecoder) feeds.use_cache_branch = new T('bool', Uint8Array.of(p > 0 ? 1 : 0), [1]);
    const rows = options.allLogits ? n : 1;
    if (this.logitsToKeepInput) feeds[this.logitsToKeepInput] = new T('int64', BigInt64Array.of(BigInt(rows)), []);
    const dims = [1, this.config.numKvHeads, p, this.config.headDim];
    for (let l = 0; l < this.config.numLayers; l++) {
      feeds[this.pastNames[l].key] = new T(this.kvDtype, past.keys(l), dims);
      feeds[this.pastNames[l].value] = new T(this.kvDtype, past.values(l), dims);
    }
    if (!cache) past.dispose();

    let out: InferenceSession.ReturnType;
    // onnxruntime reads the cache's arrays on its own threads while the run is pending: a dispose()
    // meanwhile (an abort, an eviction) must not free them under it.
    cache?.retain();
    try {
      out = await this.session.run(feeds);
    } catch (err) {
      throw new ModelError(this.file, `inference failed (${(err as Error).message})`, { cause: err });
    } finally {
      cache?.release();
    }
    const logitsTensor = out.logits;
    const width = logitsTensor.dims[2];
    if (width !== this.config.vocabSize) {
      throw new ModelError(this.file, `logits width ${width} differs from config.json vocab_size ${this.config.vocabSize}`);
    }
    if (logitsTensor.dims[1] < rows) throw new ModelError(this.file, `returned logits for ${logitsTensor.dims[1]} positions; ${rows} were asked for`);
    const from = (logitsTensor.dims[1] - rows) * width;
    let logits: Float32Array;
    if (logitsTensor.type === 'float16') {
      const raw = logitsTensor.data as Uint16Array;
      logits = new Float32Array(rows * width);
      for (let i = 0; i < logits.length; i++) logits[i] = halfToFloat(raw[from + i]);
    } else {
      // A copy of the rows asked for when that is not all of them: a view would keep a prefill chunk's
      // [n, vocab] logits (16 MiB for 256 tokens of the built-in model) alive as long as its last row.
      const data = logitsTensor.data as Float32Array;
      logits = from === 0 ? data : data.slice(from);
    }
    // The present tensors' storage is adopted as the new cache: no copy on our side.
    const keys: KvArray[] = [];
    const values: KvArray[] = [];
    for (let l = 0; l < this.config.numLayers; l++) {
      for (const [name, list] of [[this.presentNames[l].key, keys], [this.presentNames[l].value, values]] as const) {
        const t = out[name];
        if (t.type !== this.kvDtype) throw new ModelError(this.file, `output ${name} came back as ${t.type}; expected ${this.kvDtype} like the past_key_values`);
        OnnxCausalLm.checkKvDims(this.file, name, t.dims, this.config, p + n);
        list.push(t.data as KvArray);
      }
    }
    return { logits, rows, cache: new KvCache(this.kvDtype, this.config.numLayers, this.config.numKvHeads, this.config.headDim, keys, values, p + n) };
  }

  /** The session with nothing around it (for the decode benchmark's raw loop). */
  raw(): RawRunner {
    return {
      kvDtype: this.kvDtype,
      hasPositionIds: this.hasPositionIds,
      isMergedDecoder: this.isMergedDecoder,
      logitsToKeepInput: this.logitsToKeepInput,
      run: (feeds) => this.session.run(feeds),
      tensor: (type, data, dims) => new this.ort.Tensor(type, data, dims),
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}
