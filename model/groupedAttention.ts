// Grouped-query attention without repeat_kv, as a graph rewrite for Hub exports.
//
// transformers' attention (eager and sdpa alike) expands each of the kvH key/value heads to the H query
// heads before the two attention MatMuls: `repeat_kv` exports as Unsqueeze(axis 2) → Expand → Reshape,
// right after past and new keys are concatenated into `present`. Every decode step then copies the whole
// cache H / kvH times per layer (at Qwen2.5-Coder-0.5B's shape and a 2k context, 176 MB per token) only
// to multiply it once. The same product needs no copy: a query of shape [B, H, S, D] is, byte for byte,
// [B, kvH, (H / kvH)·S, D] with each key/value head's query heads stacked as rows, so
//
//   scores = Reshape(MatMul(Reshape(Q, [0, kvH, -1, 0]), Kᵀ), [0, H, -1, 0])
//   out    = Reshape(MatMul(Reshape(P, [0, kvH, -1, 0]), V),  [0, H, -1, 0])
//
// with K and V left at kvH heads. The Reshapes are views in onnxruntime. Pure protobuf work: the loader
// decides whether the rewritten graph computes what the original does (its probe), never this file.
import Long from 'long';
import { onnx } from 'onnx-proto';

export interface AttentionHeads {
  /** Query heads (config num_attention_heads). */
  readonly heads: number;
  /** Key/value heads (num_key_value_heads). */
  readonly kvHeads: number;
}

/** Nodes allowed between the expanded K or V and its MatMul: they act on each head alike. */
const PER_HEAD = new Set(['Mul', 'Div', 'Cast', 'Identity']);

/**
 * Rewrites every repeat_kv pattern of `graph` and of the graphs inside its nodes (an If's branches) in
 * place; returns how many expanded tensors now go to their MatMul unexpanded. Anything but the exact
 * pattern (other consumers, a Transpose that is not of the last two axes, a per-head op whose other
 * input is not a single-element constant) is left as it is.
 */
export function groupAttention(graph: onnx.GraphProto, heads: AttentionHeads, graphs = { seen: 0 }): number {
  let count = 0;
  for (const n of graph.node as onnx.NodeProto[]) {
    for (const a of n.attribute) {
      if (a.g) count += groupAttention(a.g as onnx.GraphProto, heads, graphs);
      for (const sub of a.graphs ?? []) count += groupAttention(sub as onnx.GraphProto, heads, graphs);
    }
  }
  const { heads: h, kvHeads: kv } = heads;
  if (!(Number.isInteger(h) && Number.isInteger(kv) && kv > 0 && h > kv && h % kv === 0)) return count;
  // Each graph's new names get their own prefix (an If's branches may share one graph name).
  return count + rewriteGraph(graph, h, kv, `/grouped_attention/${graphs.seen++}/`);
}

function rewriteGraph(graph: onnx.GraphProto, heads: number, kvHeads: number, prefix: string): number {
  const nodes = graph.node as onnx.NodeProto[];
  const producers = new Map<string, onnx.NodeProto>();
  const consumers = new Map<string, onnx.NodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output) producers.set(o, n);
    for (const i of n.input) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  }
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const outputs = new Set(graph.output.map((o) => o.name));
  const only = (name: string): onnx.NodeProto | undefined => {
    const c = consumers.get(name);
    return c?.length === 1 && !outputs.has(name) ? c[0] : undefined;
  };
  const constant = (name: string): onnx.ITensorProto | undefined => {
    const init = initializers.get(name);
    if (init) return init;
    const p = producers.get(name);
    if (p?.opType !== 'Constant') return undefined;
    return p.attribute.find((a) => a.name === 'value')?.t ?? undefined;
  };
  const isSingleElement = (name: string): boolean => {
    const p = producers.get(name);
    if (p?.opType === 'Constant' && p.attribute.some((a) => a.name === 'value_float' || a.name === 'value_int')) return true;
    const t = constant(name);
    return !!t && (t.dims ?? []).every((d) => Long.fromValue(d).toNumber() === 1);
  };
  const ints = (t: onnx.ITensorProto | undefined): number[] | undefined => {
    if (!t) return undefined;
    if (t.int64Data?.length) return t.int64Data.map((v) => Long.fromValue(v).toNumber());
    if (t.int32Data?.length) return [...t.int32Data];
    const raw = t.rawData;
    if (!raw || t.dataType !== onnx.TensorProto.DataType.INT64) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return Array.from({ length: raw.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
  };
  const attrInts = (n: onnx.NodeProto, name: string): number[] | undefined => {
    const a = n.attribute.find((x) => x.name === name);
    return a?.ints?.map((v) => Long.fromValue(v).toNumber());
  };

  interface Site { expand: onnx.NodeProto; unsqueeze: onnx.NodeProto; reshape: onnx.NodeProto; first: onnx.NodeProto; matmul: onnx.NodeProto }
  const sites: Site[] = [];
  for (const expand of nodes) {
    if (expand.opType !== 'Expand' || (expand.domain ?? '') !== '') continue;
    const unsqueeze = producers.get(expand.input[0]);
    if (unsqueeze?.opType !== 'Unsqueeze' || (unsqueeze.domain ?? '') !== '') continue;
    const axes = attrInts(unsqueeze, 'axes') ?? ints(constant(unsqueeze.input[1] ?? ''));
    if (axes?.length !== 1 || axes[0] !== 2) continue;
    if (only(unsqueeze.output[0]) !== expand) continue;
    const reshape = only(expand.output[0]);
    if (reshape?.opType !== 'Reshape') continue;
    // From the expanded tensor to the MatMul that takes it as its second input, one consumer per step.
    let value = reshape.output[0];
    let first: onnx.NodeProto | undefined;
    let matmul: onnx.NodeProto | undefined;
    let transposed = false;
    for (let step = 0; step < 6; step++) {
      const next = only(value);
      if (!next || (next.domain ?? '') !== '') break;
      first ??= next;
      if (next.opType === 'MatMul') {
        if (next.input[1] === value && next.input[0] !== value) matmul = next;
        break;
      }
      if (next.opType === 'Transpose') {
        const perm = attrInts(next, 'perm');
        if (transposed || perm?.join(',') !== '0,1,3,2') break;
        transposed = true;
      } else if (PER_HEAD.has(next.opType ?? '')) {
        const others = next.input.filter((i) => i && i !== value);
        if (next.input.filter((i) => i === value).length !== 1 || !others.every(isSingleElement)) break;
      } else {
        break;
      }
      value = next.output[0];
    }
    if (matmul && first) sites.push({ expand, unsqueeze, reshape, first, matmul });
  }
  if (sites.length === 0) return 0;

  const shapeConstant = (name: string, dims: number[]): onnx.NodeProto => {
    const raw = new Uint8Array(8 * dims.length);
    dims.forEach((d, i) => new DataView(raw.buffer).setBigInt64(i * 8, BigInt(d), true));
    return onnx.NodeProto.create({
      name: prefix + name,
      opType: 'Constant',
      output: [prefix + name],
      attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { name: prefix + name, dims: [dims.length], dataType: onnx.TensorProto.DataType.INT64, rawData: raw } }],
    });
  };
  const toGroups = shapeConstant('to_groups', [0, kvHeads, -1, 0]);
  const toHeads = shapeConstant('to_heads', [0, heads, -1, 0]);
  const changed = new Set<string>();
  const dead = new Set<onnx.NodeProto>();
  sites.forEach((s, k) => {
    const grouped = s.unsqueeze.input[0];
    s.first.input = s.first.input.map((i) => (i === s.reshape.output[0] ? grouped : i));
    for (let n: onnx.NodeProto = s.first; n !== s.matmul; n = only(n.output[0])!) changed.add(n.output[0]);
    const m = s.matmul;
    const out = m.output[0];
    const rows = `${prefix}${k}/rows`;
    const product = `${prefix}${k}/product`;
    const before = onnx.NodeProto.create({ name: `${prefix}${k}/Reshape_rows`, opType: 'Reshape', input: [m.input[0], toGroups.output[0]], output: [rows] });
    const after = onnx.NodeProto.create({ name: `${prefix}${k}/Reshape_heads`, opType: 'Reshape', input: [product, toHeads.output[0]], output: [out] });
    m.input[0] = rows;
    m.output[0] = product;
    nodes.splice(nodes.indexOf(m), 0, before);
    nodes.splice(nodes.indexOf(m) + 1, 0, after);
    dead.add(s.expand).add(s.reshape).add(s.unsqueeze);
  });
  // What only the removed nodes used (the Unsqueeze axes, the Expand and Reshape shape computations)
  // goes too, so that onnxruntime has no unused initializers to warn about at every load.
  const uses = new Map<string, number>();
  const use = (name: string, by: number) => uses.set(name, (uses.get(name) ?? 0) + by);
  for (const n of nodes) for (const i of n.input) if (i) use(i, 1);
  for (const n of nodes) for (const a of n.attribute) for (const g of [a.g, ...(a.graphs ?? [])]) if (g) for (const i of namesUsedIn(g)) use(i, 1);
  const work = [...dead];
  const removedInitializers = new Set<string>();
  while (work.length > 0) {
    const n = work.pop()!;
    for (const i of n.input) {
      if (!i) continue;
      use(i, -1);
      if ((uses.get(i) ?? 0) > 0 || outputs.has(i)) continue;
      const p = producers.get(i);
      if (p && !dead.has(p) && p.output.every((o) => !(uses.get(o) ?? 0) && !outputs.has(o)) && !p.attribute.some((a) => a.g || a.graphs?.length)) {
        dead.add(p);
        work.push(p);
      } else if (!p && initializers.has(i)) {
        removedInitializers.add(i);
      }
    }
  }
  graph.node = [toGroups, toHeads, ...nodes.filter((n) => !dead.has(n))];
  if (removedInitializers.size > 0) graph.initializer = graph.initializer.filter((t) => !removedInitializers.has(t.name ?? ''));
  // Declared shapes of the values that now carry kvH heads would contradict onnxruntime's inference.
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !changed.has(v.name ?? ''));
  return sites.length;
}

/** Every name the nodes of `g` and of its own subgraphs read (outer-scope names included). */
function namesUsedIn(g: onnx.IGraphProto): string[] {
  const names: string[] = [];
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) if (i) names.push(i);
    for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) names.push(...namesUsedIn(sub));
  }
  return names;
}
