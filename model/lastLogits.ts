// A sidecar graph for Hub exports that compute the lm_head for every position: the same graph plus the
// int64 scalar input `num_logits_to_keep`, which slices the hidden states before the lm_head (the node
// pattern of model/train/logits_to_keep.py). Written beside the original as `<file>.last-logits`, a name
// no `.onnx` lookup matches, with its weights referenced INTO the original file (external data), so it
// costs kilobytes, not a second copy of the weights. Given the model's head counts, the sidecar of a
// float32-cache export also computes grouped-query attention without repeat_kv's copies of the cache
// (model/groupedAttention.ts).
// Pure protobuf work: no onnxruntime here.
import fs from 'node:fs';
import path from 'node:path';
import Long from 'long';
import protobuf from 'protobufjs/minimal.js';
import { onnx } from 'onnx-proto';
import { groupAttention, type AttentionHeads } from './groupedAttention.js';

// int64 fields (dims, Slice bounds such as INT64_MAX in attributes or int64_data) must survive a
// decode/encode round trip. protobufjs finds `long` with a computed require that a bundle does not
// resolve; without it int64 values go through float64 and INT64_MAX comes back as INT64_MIN.
protobuf.util.Long = Long;
protobuf.configure();

export const LOGITS_TO_KEEP_INPUT = 'num_logits_to_keep';
/** Bumped when the transform changes, so that older sidecars are rebuilt. */
const SIDECAR_FORMAT = 3;
/** Embedded initializers at least this large become references into the original file. */
const EXTERNALIZE_BYTES = 256;

/** The lm_head kinds the walk stops at (the activation is always their first input). */
const HEADS = new Set(['MatMul', 'MatMulInteger', 'MatMulNBits', 'FusedMatMul', 'Gemm']);
/** Nodes between the lm_head and `logits` that keep every position's row where it was. */
const ROWWISE = new Set(['Cast', 'Mul', 'Add', 'Sub', 'Div', 'DequantizeLinear', 'Identity', 'Tanh']);
/** Nodes whose output stays constant-shaped when their inputs are (for scales and biases). */
const SHAPE_KEEPING = new Set(['Cast', 'Mul', 'Add', 'Sub', 'Div', 'DequantizeLinear', 'Identity', 'Transpose']);

export interface LastLogitsGraph {
  /** The serialized sidecar ModelProto. */
  readonly bytes: Uint8Array;
  /** The lm_head nodes sliced before (two for a merged decoder: one per If branch). */
  readonly heads: readonly string[];
  /** Embedded initializers turned into references into the original file. */
  readonly referenced: number;
  /** Keys and values that reach their attention MatMul at kvH heads instead of repeated to H. */
  readonly grouped: number;
}

/**
 * The sidecar for an export's graph (`file`: the whole original file, `fileName`: its base name, which
 * the sidecar's external-data references name), or the reason there is none. Never guesses: anything
 * but the known patterns between `logits` and the lm_head is a reason.
 */
export function lastLogitsGraph(file: Uint8Array, fileName: string, attention?: AttentionHeads): LastLogitsGraph | { reason: string } {
  // A plain Uint8Array view, not a Buffer: protobufjs's reader then slices `bytes` fields with
  // subarray() (views, whose byteOffset is their place in the file) and never calls `new Buffer()`.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    return { reason: `not a readable ONNX ModelProto (${(err as Error).message})` };
  }
  // Decoded messages are class instances: their repeated fields are arrays, never null.
  const graph = model.graph as onnx.GraphProto | null;
  if (!graph) return { reason: 'the model has no graph' };
  const opset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!opset || Long.fromValue(opset.version ?? 0).lessThan(10)) return { reason: 'default-domain opset below 10 (Slice takes its bounds as inputs from opset 10)' };
  // An export that takes logits_to_keep already (the built-in model, transformers 5's) needs no slice; its
  // sidecar is only for grouped attention.
  const keeps = graph.input.some((i) => i.name === LOGITS_TO_KEEP_INPUT || i.name === 'logits_to_keep');
  let heads: string[] = [];
  if (!keeps) {
    const logitsOut = graph.output.find((o) => o.name === 'logits');
    if (!logitsOut) return { reason: 'no graph output named logits' };
    const rank = logitsOut.type?.tensorType?.shape?.dim?.length;
    if (rank !== 3) return { reason: `logits are declared with rank ${rank ?? 'unknown'}; expected [batch, seq, vocab]` };

    const top = new Scope(graph, undefined);
    const producer = top.producer('logits');
    const plans: Plan[] = [];
    if (producer?.opType === 'If' && producer.input.length === 1) {
      // optimum's merged decoder: each branch computes its own logits; outer-scope names are visible in both.
      const at = producer.output.indexOf('logits');
      for (const attr of producer.attribute) {
        if ((attr.name !== 'then_branch' && attr.name !== 'else_branch') || !attr.g) continue;
        const branch = attr.g as onnx.GraphProto;
        const out = branch.output[at]?.name;
        if (!out) return { reason: `the If's ${attr.name} has no output ${at}` };
        const plan = findHead(new Scope(branch, top), out, `/last_logits/${attr.name}/`);
        if ('reason' in plan) return { reason: `${attr.name}: ${plan.reason}` };
        plans.push(plan);
      }
      if (plans.length !== 2) return { reason: 'the If producing logits does not have both branches' };
    } else {
      const plan = findHead(top, 'logits', '/last_logits/');
      if ('reason' in plan) return plan;
      plans.push(plan);
    }
    for (const p of plans) insertSlice(p);
    graph.input.push(onnx.ValueInfoProto.create({
      name: LOGITS_TO_KEEP_INPUT,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [] } } },
    }));
    heads = plans.map((p) => p.head.name || p.head.opType);
  }
  // float16 caches (fp16 exports) are left as exported: their MatMuls of other shapes round differently
  // (≈1e-3 at logits of a few units), and such exports are for memory on a CPU, not speed.
  const halfCache = graph.input.some((i) => i.name?.startsWith('past_key_values.') && i.type?.tensorType?.elemType === onnx.TensorProto.DataType.FLOAT16);
  const grouped = attention && !halfCache ? groupAttention(graph, attention) : 0;
  if (keeps && grouped === 0) return { reason: `the graph already takes ${LOGITS_TO_KEEP_INPUT} and has no repeated keys and values to group` };
  const referenced = referenceEmbeddedWeights(model, bytes, fileName);
  return { bytes: onnx.ModelProto.encode(model).finish(), heads, referenced, grouped };
}

/** One graph's names: what produces them and which are constants (outer scopes included). */
class Scope {
  private readonly producers = new Map<string, onnx.NodeProto>();
  private readonly initializers = new Map<string, onnx.ITensorProto>();

  constructor(readonly graph: onnx.GraphProto, private readonly outer: Scope | undefined) {
    for (const n of graph.node as onnx.NodeProto[]) for (const o of n.output) this.producers.set(o, n);
    for (const t of graph.initializer ?? []) if (t.name) this.initializers.set(t.name, t);
  }

  producer(name: string): onnx.NodeProto | undefined {
    return this.producers.get(name) ?? (this.initializers.has(name) ? undefined : this.outer?.producer(name));
  }

  /**
   * The rank of a value that cannot carry the sequence axis (an initializer, a Constant, a scale or zero
   * point of DynamicQuantizeLinear, or shape-keeping arithmetic on those), else undefined.
   */
  constantRank(name: string, depth = 0): number | undefined {
    if (depth > 8) return undefined;
    const init = this.initializers.get(name);
    if (init) return init.dims?.length ?? 0;
    const n = this.producers.get(name);
    if (!n) return this.outer?.constantRank(name, depth);
    if (n.opType === 'Constant') {
      const value = n.attribute?.find((a) => a.name === 'value');
      if (value?.t) return value.t.dims?.length ?? 0;
      return n.attribute?.some((a) => a.name === 'value_float' || a.name === 'value_int') ? 0 : undefined;
    }
    if (n.opType === 'DynamicQuantizeLinear' && n.output?.indexOf(name) !== 0) return 0;
    if (SHAPE_KEEPING.has(n.opType ?? '') && (n.domain ?? '') === '') {
      const inputs = (n.input ?? []).filter((i) => i !== '');
      const ranks = inputs.map((i) => this.constantRank(i, depth + 1));
      if (ranks.length === 0 || ranks.some((r) => r === undefined)) return undefined;
      return Math.max(...(ranks as number[]));
    }
    return undefined;
  }
}

interface Plan {
  readonly scope: Scope;
  readonly head: onnx.NodeProto;
  readonly prefix: string;
}

/**
 * Walks back from `out` through row-wise nodes whose other inputs are constants of rank ≤ 1 (scalars,
 * a [vocab] bias), so that the rank-3 [batch, seq, vocab] of `logits` is also the lm_head's output rank,
 * and stops at the lm_head, whose weight must be a rank-2 constant: its activation is then
 * [batch, seq, hidden] and axis 1 is the sequence.
 */
function findHead(scope: Scope, out: string, prefix: string): Plan | { reason: string } {
  let name = out;
  for (let step = 0; step < 8; step++) {
    const n = scope.producer(name);
    if (!n) return { reason: `${name} has no producing node` };
    const op = n.opType ?? '';
    const domain = n.domain ?? '';
    if (HEADS.has(op)) {
      if (op === 'Gemm') return { reason: `the lm_head is a Gemm (${n.name}): its activation is [batch*seq, hidden], no sequence axis to slice` };
      if ((op === 'MatMulNBits' || op === 'FusedMatMul') !== (domain === 'com.microsoft')) return { reason: `${op} in domain "${domain}"` };
      if (op !== 'MatMul' && op !== 'MatMulInteger' && domain !== 'com.microsoft') return { reason: `${op} in domain "${domain}"` };
      if (op === 'FusedMatMul' && n.attribute?.some((a) => ['transA', 'transBatchA', 'transBatchB'].includes(a.name ?? '') && Long.fromValue(a.i ?? 0).toNumber() !== 0)) {
        return { reason: `the lm_head FusedMatMul ${n.name} transposes its activation` };
      }
      const activation = n.input?.[0];
      if (!activation || scope.constantRank(activation) !== undefined) return { reason: `the lm_head ${n.name}'s first input is not an activation` };
      // MatMulNBits keeps its weight as packed blocks; its output rank is its activation's by definition.
      const weightRank = op === 'MatMulNBits' ? 2 : scope.constantRank(n.input?.[1] ?? '');
      if (weightRank !== 2) return { reason: `the lm_head ${n.name}'s weight is not a rank-2 constant` };
      return { scope, head: n, prefix };
    }
    if (!ROWWISE.has(op) || domain !== '') return { reason: `${op}${domain ? ` (${domain})` : ''} node ${n.name} between logits and the lm_head` };
    const inputs = (n.input ?? []).filter((i) => i !== '');
    const data = inputs.filter((i) => scope.constantRank(i) === undefined);
    if (data.length !== 1) return { reason: `${op} node ${n.name} has ${data.length} non-constant inputs` };
    if (inputs.some((i) => i !== data[0] && (scope.constantRank(i) ?? 2) > 1)) return { reason: `${op} node ${n.name} broadcasts a constant of rank > 1` };
    name = data[0];
  }
  return { reason: 'no lm_head within 8 nodes of logits' };
}

/** Neg → Reshape to [1] → Slice(activation, starts, [2^62], axes = [1]) before the lm_head (logits_to_keep.py). */
function insertSlice({ scope, head, prefix }: Plan): void {
  const graph = scope.graph;
  const int64 = (name: string, value: bigint): onnx.INodeProto => {
    const raw = new Uint8Array(8);
    new DataView(raw.buffer).setBigInt64(0, value, true);
    return onnx.NodeProto.create({
      name: prefix + name,
      opType: 'Constant',
      output: [prefix + name],
      attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { name: prefix + name, dims: [1], dataType: onnx.TensorProto.DataType.INT64, rawData: raw } }],
    });
  };
  const sliced = `${prefix}hidden`;
  const nodes = [
    int64('one', 1n),
    onnx.NodeProto.create({ name: `${prefix}Neg`, opType: 'Neg', input: [LOGITS_TO_KEEP_INPUT], output: [`${prefix}neg`] }),
    onnx.NodeProto.create({ name: `${prefix}Reshape`, opType: 'Reshape', input: [`${prefix}neg`, `${prefix}one`], output: [`${prefix}starts`] }),
    int64('ends', 2n ** 62n),
    onnx.NodeProto.create({ name: `${prefix}Slice`, opType: 'Slice', input: [head.input![0], `${prefix}starts`, `${prefix}ends`, `${prefix}one`], output: [sliced] }),
  ];
  head.input![0] = sliced;
  const list = graph.node!;
  list.splice(list.indexOf(head), 0, ...nodes);
}

/**
 * Every embedded initializer of any graph (If branches included) becomes external data pointing at its
 * own bytes inside the original file: protobufjs decodes `bytes` fields as views of the buffer it
 * decodes, so a view's position in that buffer is the offset. Initializers already external keep their
 * references (the sidecar sits in the same folder).
 */
function referenceEmbeddedWeights(model: onnx.ModelProto, file: Uint8Array, fileName: string): number {
  let count = 0;
  const visit = (g: onnx.IGraphProto | null | undefined): void => {
    if (!g) return;
    for (const t of g.initializer ?? []) {
      const raw = t.rawData;
      if (!raw || raw.byteLength < EXTERNALIZE_BYTES || t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) continue;
      const offset = raw.byteOffset - file.byteOffset;
      // Only a view into `file` can be referenced; a copy (another buffer) stays embedded.
      if (raw.buffer !== file.buffer || offset < 0 || offset + raw.byteLength > file.byteLength) continue;
      t.externalData = [
        { key: 'location', value: fileName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.byteLength) },
      ];
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      delete (t as { rawData?: Uint8Array }).rawData;
      count++;
    }
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        visit(a.g);
        for (const sub of a.graphs ?? []) visit(sub);
      }
    }
  };
  visit(model.graph);
  return count;
}

/** Where a graph's sidecar and its record live. */
export function sidecarPaths(file: string): { graph: string; record: string } {
  return { graph: `${file}.last-logits`, record: `${file}.last-logits.json` };
}

/** A few logits of a probe's rows, kept in the record to check the sidecar at later loads. */
export interface LogitsFingerprint {
  readonly indices: readonly number[];
  /** One list per probe step, values at `indices`. */
  readonly values: readonly (readonly number[])[];
}

/** What the record beside a sidecar says about it, for one version (size, mtime) of the original. */
export interface SidecarRecord {
  readonly format: number;
  readonly original: { readonly size: number; readonly mtimeMs: number };
  /**
   * The sidecar passed the probe: its size when written, the original's probe fingerprint, whether it
   * was built with grouped attention asked for, and how many repeated keys and values it then
   * multiplies unrepeated (0 for exports without repeat_kv).
   */
  readonly sidecar?: { readonly size: number; readonly probe: LogitsFingerprint; readonly grouping: boolean; readonly grouped: number };
  /** Why this version gets no sidecar (recorded so it is not retried at every load). */
  readonly failed?: string;
}

function originalStamp(file: string): SidecarRecord['original'] {
  const s = fs.statSync(file);
  return { size: s.size, mtimeMs: s.mtimeMs };
}

/**
 * The record for the original as it is now; undefined when there is none, it is for another version, or
 * (with `grouping` given) its sidecar was built with grouped attention asked for otherwise.
 */
export function readSidecarRecord(file: string, grouping?: boolean): SidecarRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(sidecarPaths(file).record, 'utf8')) as SidecarRecord;
    const now = originalStamp(file);
    if (record.format !== SIDECAR_FORMAT || record.original?.size !== now.size || record.original?.mtimeMs !== now.mtimeMs) return undefined;
    if (record.sidecar && fs.statSync(sidecarPaths(file).graph, { throwIfNoEntry: false })?.size !== record.sidecar.size) return undefined;
    if (grouping !== undefined && record.sidecar && record.sidecar.grouping !== grouping) return undefined;
    return record;
  } catch {
    return undefined;
  }
}

/** Whether files can be written beside `file` (a sidecar must sit in the original's folder). */
export function canWriteBeside(file: string): boolean {
  try {
    fs.accessSync(path.dirname(file), fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Builds and writes the sidecar of `file`; the path written, or why there is none. */
export function writeSidecar(file: string, attention?: AttentionHeads): { path: string; heads: readonly string[]; grouped: number } | { reason: string } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    return { reason: `cannot read it (${(err as Error).message})` };
  }
  const built = lastLogitsGraph(bytes, path.basename(file), attention);
  if ('reason' in built) return built;
  const target = sidecarPaths(file).graph;
  try {
    writeAtomically(target, built.bytes);
  } catch (err) {
    return { reason: `cannot write ${path.basename(target)} (${(err as Error).message})` };
  }
  return { path: target, heads: built.heads, grouped: built.grouped };
}

/** Records the outcome for the original's current version; a failure to write is only a lost cache. */
export function writeSidecarRecord(file: string, outcome: { probe: LogitsFingerprint; grouping: boolean; grouped: number } | { failed: string }): void {
  const { graph, record } = sidecarPaths(file);
  try {
    const entry: SidecarRecord = 'probe' in outcome
      ? { format: SIDECAR_FORMAT, original: originalStamp(file), sidecar: { size: fs.statSync(graph).size, probe: outcome.probe, grouping: outcome.grouping, grouped: outcome.grouped } }
      : { format: SIDECAR_FORMAT, original: originalStamp(file), failed: outcome.failed };
    if ('failed' in outcome && fs.statSync(graph, { throwIfNoEntry: false })?.isFile()) fs.rmSync(graph);
    writeAtomically(record, `${JSON.stringify(entry)}\n`);
  } catch {
    // Read-only or full: the next load decides again.
  }
}

/** Written aside and renamed: a crash or a concurrent load leaves an old file or a new one, never half. */
function writeAtomically(target: string, data: Uint8Array | string): void {
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

const FINGERPRINT_POINTS = 64;

/** Values of `rows` (one last-row logits per probe step) at evenly spaced indices and each row's top entry. */
export function logitsFingerprint(rows: readonly Float32Array[]): LogitsFingerprint {
  const width = rows[0].length;
  const indices = new Set<number>();
  for (let i = 0; i < FINGERPRINT_POINTS; i++) indices.add(Math.floor((i * width) / FINGERPRINT_POINTS));
  for (const r of rows) indices.add(argmaxOf(r));
  const sorted = [...indices].sort((a, b) => a - b);
  return { indices: sorted, values: rows.map((r) => sorted.map((i) => r[i])) };
}

/**
 * The largest difference between `rows` and what the fingerprint recorded, relative to the largest
 * recorded magnitude (at least 1); Infinity when the shapes differ.
 */
export function fingerprintDistance(fp: LogitsFingerprint, rows: readonly Float32Array[]): number {
  if (fp.values.length !== rows.length) return Infinity;
  let scale = 1;
  let worst = 0;
  for (let s = 0; s < rows.length; s++) {
    if (fp.values[s].length !== fp.indices.length) return Infinity;
    fp.indices.forEach((idx, k) => {
      const want = fp.values[s][k];
      scale = Math.max(scale, Math.abs(want));
      worst = Math.max(worst, idx < rows[s].length ? Math.abs(rows[s][idx] - want) : Infinity);
    });
  }
  return worst / scale;
}

/** The same measure over whole rows (the first check of a new sidecar, against the original's rows). */
export function rowsDistance(want: readonly Float32Array[], got: readonly Float32Array[]): number {
  if (want.length !== got.length) return Infinity;
  let scale = 1;
  let worst = 0;
  for (let s = 0; s < want.length; s++) {
    if (want[s].length !== got[s].length) return Infinity;
    for (let i = 0; i < want[s].length; i++) {
      scale = Math.max(scale, Math.abs(want[s][i]));
      const d = Math.abs(want[s][i] - got[s][i]);
      worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
    }
  }
  return worst / scale;
}

function argmaxOf(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
