// Hub exports compute the lm_head for every position of a prefill chunk; the loader gives them a
// sidecar graph with `num_logits_to_keep` (model/lastLogits.ts) so that a chunk computes one row. On
// every stand-in layout (plain, external data, int8 MatMulInteger, q4 MatMulNBits, fp16, merged
// decoder in fp32 and int8, no position_ids, a biased lm_head) the sidecar must give the original's
// last rows, keep allLogits, reference the original's weights instead of copying them, and anything
// unexpected must load the original file as before. Fixtures are copied to a temp folder first.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { CodeModel } from '../../../model/codeModel.js';
import { lastLogitsGraph, readSidecarRecord, sidecarPaths, type SidecarRecord } from '../../../model/lastLogits.js';
import type { ModelVariant } from '../../../model/onnxSession.js';
import { maxAbsDiff } from '../model/testModel.js';

const fixtures = path.resolve(__dirname, '../../fixtures/models');

interface Case {
  fixture: string;
  variant: ModelVariant;
  file: string;
  /** Largest |sidecar − original| of a last row: 0 where the same kernels run, q4's one-row MatMulNBits path differs. */
  tolerance: number;
}
const cases: Case[] = [
  { fixture: 'qwen2', variant: 'default', file: 'model.onnx', tolerance: 0 },
  { fixture: 'qwen2', variant: 'quantized', file: 'model_quantized.onnx', tolerance: 0 },
  { fixture: 'qwen2', variant: 'q4', file: 'model_q4.onnx', tolerance: 1e-5 },
  { fixture: 'qwen2', variant: 'fp16', file: 'model_fp16.onnx', tolerance: 0 },
  { fixture: 'deepseek-coder', variant: 'default', file: 'decoder_model_merged.onnx', tolerance: 0 },
  { fixture: 'deepseek-coder', variant: 'quantized', file: 'decoder_model_merged_quantized.onnx', tolerance: 0 },
  { fixture: 'starcoder2', variant: 'default', file: 'model.onnx', tolerance: 0 },
  { fixture: 'starcoder2', variant: 'quantized', file: 'model_quantized.onnx', tolerance: 0 },
  { fixture: 'starcoder2-nopos', variant: 'default', file: 'model.onnx', tolerance: 0 },
  { fixture: 'gptj', variant: 'default', file: 'model.onnx', tolerance: 0 },
];

const source = [
  'export function total(items: { price: number; qty: number }[]): number {\n',
  '  let sum = 0;\n',
  '  for (const item of items) sum += item.price * item.qty;\n',
  '  return Math.round(sum * 100) / 100;\n',
  '}\n',
  'const cart = [{ price: 2.5, qty: 4 }, { price: 10, qty: 1 }];\n',
  'console.log(total(cart));\n',
].join('');

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-last-logits-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let copies = 0;
/** A private copy of a fixture folder (the loader writes sidecars beside the graph). */
function copyFixture(fixture: string): string {
  const dir = path.join(tmpRoot, `${fixture}-${copies++}`);
  // Without sidecars other tests' loads of test/fixtures left there (gitignored).
  fs.cpSync(path.join(fixtures, fixture), dir, { recursive: true, filter: (src) => !/\.last-logits(\.json)?$/.test(src) });
  return dir;
}

const row = (logits: Float32Array, vocab: number, r: number) => logits.subarray(r * vocab, (r + 1) * vocab);

/** Bytes of the sidecar's initializers that are references into `original` (its weights, not copies). */
function referencedBytes(sidecar: string, original: string): { referenced: number; embeddedLarge: number } {
  const model = onnx.ModelProto.decode(fs.readFileSync(sidecar));
  let referenced = 0;
  let embeddedLarge = 0;
  const visit = (g: onnx.IGraphProto | null | undefined): void => {
    for (const t of g?.initializer ?? []) {
      const entries = new Map((t.externalData ?? []).map((e) => [e.key, e.value]));
      if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL && entries.get('location') === path.basename(original)) referenced += Number(entries.get('length'));
      else if ((t.rawData?.byteLength ?? 0) >= 1024) embeddedLarge++;
    }
    for (const n of g?.node ?? []) for (const a of n.attribute ?? []) visit(a.g);
  };
  visit(model.graph);
  return { referenced, embeddedLarge };
}

for (const c of cases) {
  void describe(`last-logits sidecar: ${c.fixture} ${c.file}`, () => {
    let dir: string;
    let withSidecar: CodeModel;
    let original: CodeModel;
    const logs: string[] = [];
    before(async () => {
      dir = copyFixture(c.fixture);
      withSidecar = await CodeModel.load(dir, { variant: c.variant, log: (m) => logs.push(m) });
      original = await CodeModel.load(dir, { variant: c.variant, lastLogits: false });
    });
    after(async () => {
      await withSidecar?.dispose();
      await original?.dispose();
    });

    it('loads a sidecar beside the original that takes num_logits_to_keep', () => {
      const file = path.join(dir, 'onnx', c.file);
      assert.deepEqual(logs.filter((l) => !/: grouped attention \(/.test(l)), [], 'nothing fell back');
      assert.equal(withSidecar.session.file, file, 'errors and reports still name the export');
      assert.equal(withSidecar.session.graphFile, sidecarPaths(file).graph);
      assert.equal(withSidecar.session.logitsToKeepInput, 'num_logits_to_keep');
      assert.equal(original.session.graphFile, file);
      assert.equal(original.session.logitsToKeepInput, undefined, 'the export itself has no such input');
      assert.ok(readSidecarRecord(file)?.sidecar, 'the record beside it keeps the probe fingerprint');
    });

    it('gives the last row of the whole computation, for a prompt and for a chunk after its cache', async () => {
      const ids = withSidecar.tokenizer.encode(source).slice(0, 48);
      const v = withSidecar.config.vocabSize;
      const first = await withSidecar.session.forward(ids.slice(0, 32), null);
      const firstAll = await original.session.forward(ids.slice(0, 32), null, { allLogits: true });
      assert.equal(first.rows, 1);
      assert.equal(first.logits.length, v);
      assert.ok(maxAbsDiff(first.logits, row(firstAll.logits, v, 31)) <= c.tolerance, `prompt: ${maxAbsDiff(first.logits, row(firstAll.logits, v, 31))}`);
      const next = await withSidecar.session.forward(ids.slice(32), first.cache);
      const nextOriginal = await original.session.forward(ids.slice(32), firstAll.cache);
      assert.ok(maxAbsDiff(next.logits, nextOriginal.logits) <= c.tolerance, `after a cache: ${maxAbsDiff(next.logits, nextOriginal.logits)}`);
      for (let l = 0; l < withSidecar.config.numLayers; l++) assert.ok(maxAbsDiff(next.cache.keys(l), nextOriginal.cache.keys(l)) <= c.tolerance, `layer ${l} keys`);
      for (const r of [first, firstAll, next, nextOriginal]) r.cache.dispose();
    });

    it('still returns every row with allLogits', async () => {
      const ids = withSidecar.tokenizer.encode(source).slice(0, 20);
      const v = withSidecar.config.vocabSize;
      const all = await withSidecar.session.forward(ids, null, { allLogits: true });
      const allOriginal = await original.session.forward(ids, null, { allLogits: true });
      assert.equal(all.rows, ids.length);
      assert.equal(all.logits.length, ids.length * v);
      assert.ok(maxAbsDiff(all.logits, allOriginal.logits) <= c.tolerance, `all rows: ${maxAbsDiff(all.logits, allOriginal.logits)}`);
      all.cache.dispose();
      allOriginal.cache.dispose();
    });

    it('references the original\'s weights instead of copying them', () => {
      const file = path.join(dir, 'onnx', c.file);
      const sidecar = sidecarPaths(file).graph;
      const { referenced, embeddedLarge } = referencedBytes(sidecar, file);
      assert.equal(embeddedLarge, 0, 'no initializer of 1 KiB or more is embedded in the sidecar');
      // The sidecar is the original less the weights it now points at, plus a few nodes.
      assert.ok(fs.statSync(sidecar).size <= fs.statSync(file).size - referenced + 4096, `sidecar ${fs.statSync(sidecar).size} bytes, original ${fs.statSync(file).size}, referenced ${referenced}`);
    });
  });
}

void describe('last-logits sidecar: what falls back to the original file', () => {
  const load = async (dir: string, variant: ModelVariant = 'default') => {
    const logs: string[] = [];
    const model = await CodeModel.load(dir, { variant, log: (m) => logs.push(m) });
    return { model, logs };
  };
  const graph = (dir: string) => path.join(dir, 'onnx', 'model.onnx');

  it('a folder it cannot write to', { skip: process.getuid?.() === 0 ? 'runs as root, who can write to a read-only folder' : false }, async () => {
    const dir = copyFixture('qwen2');
    fs.chmodSync(path.join(dir, 'onnx'), 0o555);
    try {
      const { model, logs } = await load(dir);
      assert.equal(model.session.graphFile, graph(dir));
      assert.equal(logs.length, 1);
      assert.match(logs[0], /not writable/);
      await model.dispose();
    } finally {
      fs.chmodSync(path.join(dir, 'onnx'), 0o755);
    }
  });

  it('a sidecar that cannot be written (its name taken by a folder)', async () => {
    const dir = copyFixture('qwen2');
    fs.mkdirSync(sidecarPaths(graph(dir)).graph);
    const { model, logs } = await load(dir);
    assert.equal(model.session.graphFile, graph(dir));
    assert.equal(logs.length, 1);
    assert.match(logs[0], /cannot write model\.onnx\.last-logits/);
    const probe = await model.session.forward([1, 2, 3], null);
    assert.equal(probe.logits.length, model.config.vocabSize, 'the original runs as before');
    probe.cache.dispose();
    await model.dispose();
    assert.match(readSidecarRecord(graph(dir))?.failed ?? '', /cannot write/, 'the failure is recorded, not retried at every load');
    const again = await load(dir);
    assert.equal(again.model.session.graphFile, graph(dir));
    assert.equal(again.logs.length, 1, 'and said once per load');
    await again.model.dispose();
  });

  it('a graph whose lm_head it does not recognize (never guesses)', async () => {
    const dir = copyFixture('qwen2');
    // logits = Transpose(perm 0,1,2)(lm_head): the same values, through a node the walk does not know.
    const model = onnx.ModelProto.decode(fs.readFileSync(graph(dir)));
    const g = model.graph as onnx.GraphProto;
    const head = (g.node as onnx.NodeProto[]).find((n) => n.output.includes('logits'))!;
    head.output = ['lm_head_out'];
    g.node.push(onnx.NodeProto.create({ name: 'identity_transpose', opType: 'Transpose', input: ['lm_head_out'], output: ['logits'], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [0, 1, 2] }] }));
    fs.writeFileSync(graph(dir), onnx.ModelProto.encode(model).finish());
    assert.match(String((lastLogitsGraph(fs.readFileSync(graph(dir)), 'model.onnx') as { reason?: string }).reason), /Transpose node identity_transpose between logits and the lm_head/);
    const { model: lm, logs } = await load(dir);
    assert.equal(lm.session.graphFile, graph(dir));
    assert.equal(lm.session.logitsToKeepInput, undefined);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /no last-logits sidecar: .*Transpose/);
    assert.equal(fs.existsSync(sidecarPaths(graph(dir)).graph), false, 'nothing is written but the record');
    await lm.dispose();
  });

  it('a sidecar that onnxruntime refuses, and one whose probe logits differ', async () => {
    const dir = copyFixture('qwen2');
    const first = await load(dir);
    assert.equal(first.model.session.graphFile, sidecarPaths(graph(dir)).graph);
    await first.model.dispose();
    const { graph: sidecar, record } = sidecarPaths(graph(dir));
    const good = fs.readFileSync(sidecar);
    const goodRecord = fs.readFileSync(record, 'utf8');
    // Same size (the record checks it), garbage content.
    fs.writeFileSync(sidecar, Buffer.alloc(good.length, 0xff));
    const refused = await load(dir);
    assert.equal(refused.model.session.graphFile, graph(dir));
    assert.match(refused.logs.join('\n'), /onnxruntime refused it/);
    await refused.model.dispose();

    fs.writeFileSync(sidecar, good);
    const wrong = JSON.parse(goodRecord) as SidecarRecord;
    fs.writeFileSync(record, JSON.stringify({ ...wrong, sidecar: { ...wrong.sidecar!, probe: { ...wrong.sidecar!.probe, values: wrong.sidecar!.probe.values.map((vs) => vs.map((x) => x + 1)) } } }));
    const differs = await load(dir);
    assert.equal(differs.model.session.graphFile, graph(dir));
    assert.match(differs.logs.join('\n'), /probe logits differ/);
    await differs.model.dispose();
  });

  it('a changed original is given a new sidecar', async () => {
    const dir = copyFixture('qwen2');
    const first = await load(dir);
    await first.model.dispose();
    const before = readSidecarRecord(graph(dir));
    assert.ok(before?.sidecar);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(graph(dir), later, later);
    assert.equal(readSidecarRecord(graph(dir)), undefined, 'the record is for the old version');
    const second = await load(dir);
    assert.equal(second.model.session.graphFile, sidecarPaths(graph(dir)).graph);
    assert.equal(readSidecarRecord(graph(dir))?.original.mtimeMs, fs.statSync(graph(dir)).mtimeMs);
    await second.model.dispose();
  });
});
