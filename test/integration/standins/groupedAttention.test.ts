// transformers' exports repeat each key/value head to every query head (repeat_kv: Unsqueeze → Expand
// → Reshape) before the attention MatMuls, copying the whole cache H / kvH times per layer and step. The
// loader's sidecar (model/lastLogits.ts) multiplies grouped queries by the unrepeated cache instead
// (model/groupedAttention.ts). On the GQA stand-ins in every float32-cache layout the sidecar must have no repeat
// left, nothing dead for onnxruntime to warn about, and give the original's logits and cache (the
// last-logits test compares rows; here a greedy continuation and a PIE-sized decode step).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { CodeModel } from '../../../model/codeModel.js';
import { groupAttention } from '../../../model/groupedAttention.js';
import { lastLogitsGraph, readSidecarRecord, sidecarPaths } from '../../../model/lastLogits.js';
import type { ModelVariant } from '../../../model/onnxSession.js';
import { maxAbsDiff } from '../model/testModel.js';

const fixtures = path.resolve(__dirname, '../../fixtures/models');
const config = (fixture: string) => JSON.parse(fs.readFileSync(path.join(fixtures, fixture, 'config.json'), 'utf8')) as { num_attention_heads: number; num_key_value_heads: number; num_hidden_layers: number };
const headsOf = (fixture: string) => ({ heads: config(fixture).num_attention_heads, kvHeads: config(fixture).num_key_value_heads });

/** Expand nodes fed by an Unsqueeze: repeat_kv's signature (the mask's Expand is fed by And). */
function repeats(g: onnx.IGraphProto): number {
  const producers = new Map<string, onnx.INodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producers.set(o, n);
  let count = 0;
  for (const n of g.node ?? []) {
    if (n.opType === 'Expand' && producers.get(n.input?.[0] ?? '')?.opType === 'Unsqueeze') count++;
    for (const a of n.attribute ?? []) if (a.g) count += repeats(a.g);
  }
  return count;
}

/** Initializers and Constant outputs no node reads: what onnxruntime warns about at load. */
function unused(g: onnx.IGraphProto): string[] {
  const read = new Set<string>((g.output ?? []).map((o) => o.name ?? ''));
  for (const n of g.node ?? []) for (const i of n.input ?? []) read.add(i);
  const constants = [...(g.initializer ?? []).map((t) => t.name ?? ''), ...(g.node ?? []).filter((n) => n.opType === 'Constant').map((n) => n.output?.[0] ?? '')];
  return constants.filter((c) => !read.has(c));
}

const gqa: { fixture: string; file: string; variant: ModelVariant }[] = [
  { fixture: 'qwen2', file: 'model.onnx', variant: 'default' },
  { fixture: 'qwen2', file: 'model_quantized.onnx', variant: 'quantized' },
  { fixture: 'qwen2', file: 'model_q4.onnx', variant: 'q4' },
  { fixture: 'starcoder2', file: 'model.onnx', variant: 'default' },
  { fixture: 'starcoder2', file: 'model_quantized.onnx', variant: 'quantized' },
  { fixture: 'starcoder2-nopos', file: 'model.onnx', variant: 'default' },
];

void describe('grouped attention in the sidecar graph', () => {
  for (const c of gqa) {
    it(`${c.fixture} ${c.file}: every layer's K and V reach their MatMul unrepeated, nothing left dead`, () => {
      const bytes = fs.readFileSync(path.join(fixtures, c.fixture, 'onnx', c.file));
      const original = onnx.ModelProto.decode(bytes);
      const layers = config(c.fixture).num_hidden_layers;
      assert.equal(repeats(original.graph!), 2 * layers, 'the stand-in export repeats K and V in every layer, as transformers exports do');
      assert.deepEqual(unused(original.graph!), []);
      const built = lastLogitsGraph(bytes, c.file, headsOf(c.fixture));
      assert.ok(!('reason' in built), 'reason' in built ? built.reason : '');
      assert.equal(built.grouped, 2 * layers);
      const sidecar = onnx.ModelProto.decode(built.bytes);
      assert.equal(repeats(sidecar.graph!), 0);
      assert.deepEqual(unused(sidecar.graph!), [], 'no initializer or Constant left that no node reads');
    });
  }

  it('leaves float16-cache exports as exported (their MatMuls of other shapes would round differently)', () => {
    const built = lastLogitsGraph(fs.readFileSync(path.join(fixtures, 'qwen2', 'onnx', 'model_fp16.onnx')), 'model_fp16.onnx', headsOf('qwen2'));
    assert.ok(!('reason' in built) && built.grouped === 0 && repeats(onnx.ModelProto.decode(built.bytes).graph!) === 4);
  });

  it('leaves graphs alone without head counts, without grouping (DeepSeek: 4 / 4) and with counts that do not divide', () => {
    const qwen = fs.readFileSync(path.join(fixtures, 'qwen2', 'onnx', 'model.onnx'));
    const plain = lastLogitsGraph(qwen, 'model.onnx');
    assert.ok(!('reason' in plain) && plain.grouped === 0 && repeats(onnx.ModelProto.decode(plain.bytes).graph!) === 4);
    const odd = onnx.ModelProto.decode(qwen);
    assert.equal(groupAttention(odd.graph as onnx.GraphProto, { heads: 4, kvHeads: 3 }), 0);
    assert.equal(repeats(odd.graph!), 4);
    const merged = fs.readFileSync(path.join(fixtures, 'deepseek-coder', 'onnx', 'decoder_model_merged.onnx'));
    const ds = lastLogitsGraph(merged, 'decoder_model_merged.onnx', headsOf('deepseek-coder'));
    assert.ok(!('reason' in ds) && ds.grouped === 0);
  });

  it('a merged decoder\'s If branches are rewritten too', () => {
    // The DeepSeek stand-in has no GQA; its merged graph with the repeat pattern spliced into both
    // branches is what optimum writes for a GQA family. Here: the Qwen2 graph placed as both branches.
    const qwen = onnx.ModelProto.decode(fs.readFileSync(path.join(fixtures, 'qwen2', 'onnx', 'model.onnx')));
    const branch = (name: string) => {
      const g = onnx.GraphProto.decode(onnx.GraphProto.encode(qwen.graph!).finish());
      g.name = name;
      return g;
    };
    const outer = onnx.GraphProto.create({
      node: [onnx.NodeProto.create({ opType: 'If', input: ['use_cache_branch'], output: qwen.graph!.output!.map((o) => o.name ?? ''), attribute: [
        { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('then') },
        { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('else') },
      ] })],
    });
    assert.equal(repeats(outer), 8);
    assert.equal(groupAttention(outer, headsOf('qwen2')), 8);
    assert.equal(repeats(outer), 0);
  });
});

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-grouped-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

void describe('grouped attention through the loader', () => {
  it('the built-in model (its own logits_to_keep, 8 / 4 heads) gets a grouped sidecar too', async () => {
    const dir = path.join(tmpRoot, 'builtin');
    const builtin = path.resolve(__dirname, '../../../model/default-model');
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    for (const f of fs.readdirSync(builtin)) if (f.endsWith('.json')) fs.copyFileSync(path.join(builtin, f), path.join(dir, f));
    fs.copyFileSync(path.join(builtin, 'onnx', 'model_quantized.onnx'), path.join(dir, 'onnx', 'model_quantized.onnx'));
    const logs: string[] = [];
    const model = await CodeModel.load(dir, { log: (m) => logs.push(m) });
    try {
      assert.equal(model.session.graphFile, sidecarPaths(path.join(dir, 'onnx', 'model_quantized.onnx')).graph, logs.join('; '));
      assert.equal(repeats(onnx.ModelProto.decode(fs.readFileSync(model.session.graphFile)).graph!), 0);
      assert.equal(model.session.logitsToKeepInput, 'num_logits_to_keep');
    } finally {
      await model.dispose();
    }
  });

  it('session options that no graph loads with fail the load but leave the sidecar\'s record alone', async () => {
    const dir = path.join(tmpRoot, 'options');
    fs.cpSync(path.join(fixtures, 'qwen2'), dir, { recursive: true, filter: (src) => !/\.last-logits(\.json)?$/.test(src) });
    const file = path.join(dir, 'onnx', 'model.onnx');
    await (await CodeModel.load(dir)).dispose();
    assert.ok(readSidecarRecord(file)?.sidecar);
    await assert.rejects(CodeModel.load(dir, { memory: { sessionConfig: { load_model_format: 'ORT' } } }));
    assert.ok(readSidecarRecord(file)?.sidecar, 'not recorded as the sidecar\'s failure');
    const again = await CodeModel.load(dir);
    assert.equal(again.session.graphFile, sidecarPaths(file).graph);
    await again.dispose();
  });

  for (const c of gqa.filter((g) => g.variant === 'default' || g.variant === 'quantized')) {
    it(`${c.fixture} ${c.file}: the sidecar's greedy continuation and decode-step cache are the original's`, async () => {
      const dir = path.join(tmpRoot, `${c.fixture}-${c.variant}`);
      fs.cpSync(path.join(fixtures, c.fixture), dir, { recursive: true, filter: (src) => !/\.last-logits(\.json)?$/.test(src) });
      const grouped = await CodeModel.load(dir, { variant: c.variant });
      const original = await CodeModel.load(dir, { variant: c.variant, lastLogits: false });
      try {
        assert.equal(grouped.session.graphFile, sidecarPaths(path.join(dir, 'onnx', c.file)).graph);
        assert.equal(repeats(onnx.ModelProto.decode(fs.readFileSync(grouped.session.graphFile)).graph!), 0);
        const ids = grouped.tokenizer.encode('function add(a: number, b: number): number {\n  return a + b;\n}\nconst sum = add(');
        let a = await grouped.session.forward(ids, null);
        let b = await original.session.forward(ids, null);
        for (let step = 0; step < 8; step++) {
          assert.ok(maxAbsDiff(a.logits, b.logits.subarray(b.logits.length - a.logits.length)) <= 1e-4, `step ${step}`);
          for (let l = 0; l < grouped.config.numLayers; l++) {
            assert.ok(maxAbsDiff(a.cache.keys(l), b.cache.keys(l)) <= 1e-5, `step ${step} layer ${l} keys`);
            assert.ok(maxAbsDiff(a.cache.values(l), b.cache.values(l)) <= 1e-5, `step ${step} layer ${l} values`);
          }
          let best = 0;
          for (let i = 1; i < a.logits.length; i++) if (a.logits[i] > a.logits[best]) best = i;
          const [na, nb] = [await grouped.session.forward([best], a.cache), await original.session.forward([best], b.cache)];
          a.cache.dispose();
          b.cache.dispose();
          [a, b] = [na, nb];
        }
        a.cache.dispose();
        b.cache.dispose();
      } finally {
        await grouped.dispose();
        await original.dispose();
      }
    });
  }
});
