import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DownloadError, type DownloadProgress } from '../../../extension/models/downloader.js';
import { ModelStore } from '../../../extension/models/modelStore.js';
import { DEFAULT_MODEL_ID, registryEntry, type RegistryEntry } from '../../../extension/models/registry.js';
import { FakeHub } from './fixtures/fakeHub.js';

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + 11) % 251));
const entry = (id: string): RegistryEntry => registryEntry(id)!;

/** The real registry entries, served from a loopback Hub at their real repository paths with small stand-in bytes. */
describe('model store: downloads of the registry\'s real file lists (loopback Hub)', () => {
  const hub = new FakeHub();
  const deepseek = entry('deepseek-coder-1.3b-base');
  const qwen = entry('qwen2.5-coder-1.5b');
  const dsFiles = {
    'config.json': Buffer.from('{"model_type":"llama","num_hidden_layers":2}'),
    'tokenizer.json': Buffer.from('{"model":{"type":"BPE"}}'),
    'tokenizer_config.json': Buffer.from('{}'),
    // No generation_config.json: optional, and Xenova's repository may lack it.
    'onnx/decoder_model_merged.onnx': bytes(40_000, 3),
    'onnx/decoder_model_merged.onnx_data': bytes(260_000, 7),
    'onnx/decoder_model_merged_quantized.onnx': bytes(90_000, 5),
  };
  const qwenFiles = {
    'config.json': Buffer.from('{"model_type":"qwen2"}'),
    'generation_config.json': Buffer.from('{"eos_token_id":151643}'),
    'tokenizer.json': Buffer.from('{"model":{"type":"BPE","qwen":true}}'),
    'tokenizer_config.json': Buffer.from('{}'),
    'onnx/model_quantized.onnx': bytes(120_000, 13),
    'onnx/model_q4.onnx': bytes(100_000, 17),
  };
  const sum = (files: Record<string, Buffer>, names: string[]): number => names.reduce((n, f) => n + files[f].length, 0);
  let root: string;
  let builtinDir: string;
  let store: ModelStore;
  let downloads: string;

  before(async () => {
    await hub.start();
    for (const [f, b] of Object.entries(dsFiles)) hub.files.set(`${deepseek.repo}/${f}`, b);
    for (const [f, b] of Object.entries(qwenFiles)) hub.files.set(`${qwen.repo}/${f}`, b);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-store-'));
    builtinDir = path.join(root, 'builtin');
    fs.mkdirSync(path.join(builtinDir, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(builtinDir, 'onnx/model_quantized.onnx'), 'x');
  });
  after(async () => {
    await hub.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  let n = 0;
  beforeEach(() => {
    downloads = path.join(root, `downloads-${n++}`);
    store = new ModelStore(builtinDir, downloads, { hubUrl: hub.url });
    hub.requests.length = 0;
    hub.ranges.length = 0;
  });

  it('fetches DeepSeek\'s merged decoder with its external data (fp32), with progress over every file ending at exactly 100 %', async () => {
    const seen: DownloadProgress[] = [];
    await store.download(deepseek, 'fp32', { onProgress: (p) => seen.push(p) });
    const dir = store.folderOf(deepseek.id);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'onnx/decoder_model_merged.onnx_data')), dsFiles['onnx/decoder_model_merged.onnx_data']);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'onnx/decoder_model_merged.onnx')), dsFiles['onnx/decoder_model_merged.onnx']);
    const total = sum(dsFiles, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/decoder_model_merged.onnx', 'onnx/decoder_model_merged.onnx_data']);
    for (const p of seen) {
      assert.equal(p.total, total);
      assert.ok(p.done <= total, `${p.done} <= ${total}`);
      if (p.fileTotal !== undefined) assert.ok(p.fileBytes <= p.fileTotal);
    }
    assert.equal(seen.at(-1)!.done, total);
    assert.ok(!hub.requests.some((r) => r.includes('model_quantized') || r.includes('model_q4')), 'asks only for files the repository has');
    const loc = store.resolve(deepseek.id);
    assert.equal(loc.kind, 'folder');
    assert.ok(loc.kind === 'folder' && loc.variant === 'fp32' && loc.onnxFile === 'onnx/decoder_model_merged.onnx');
  });

  it('fetches the q8 merged decoder under its real name and tells the loader which file to open', async () => {
    await store.download(deepseek, 'q8');
    const loc = store.resolve(deepseek.id);
    assert.ok(loc.kind === 'folder', loc.kind);
    assert.equal(loc.variant, 'q8');
    assert.equal(loc.onnxFile, 'onnx/decoder_model_merged_quantized.onnx');
    assert.ok(fs.existsSync(path.join(loc.dir, loc.onnxFile)));
    assert.ok(!hub.requests.some((r) => r.endsWith('decoder_model_merged.onnx_data')), 'q8 does not fetch the fp32 weights');
  });

  it('resumes an interrupted external-data file with a Range request and checks its sha256', async () => {
    hub.cut = { bytes: 100_000, path: 'onnx/decoder_model_merged.onnx_data' };
    await assert.rejects(store.download(deepseek, 'fp32'), (e: DownloadError) => e.kind === 'network');
    const dir = store.folderOf(deepseek.id);
    const kept = fs.statSync(path.join(dir, 'onnx/decoder_model_merged.onnx_data.part')).size;
    assert.ok(kept > 0 && kept < dsFiles['onnx/decoder_model_merged.onnx_data'].length);
    assert.equal(store.resolve(deepseek.id).kind, 'notDownloaded');
    hub.requests.length = 0;
    await store.download(deepseek, 'fp32');
    assert.deepEqual(hub.ranges, [`onnx/decoder_model_merged.onnx_data bytes=${kept}-`]);
    assert.ok(!hub.requests.includes(`GET ${deepseek.repo}/onnx/decoder_model_merged.onnx`), 'the graph, verified before the cut, is not fetched again');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'onnx/decoder_model_merged.onnx_data')), dsFiles['onnx/decoder_model_merged.onnx_data']);
    assert.equal(store.resolve(deepseek.id).kind, 'folder');
  });

  it('rejects external data whose sha256 is not the Hub\'s, deletes it, and does not count the model as downloaded', async () => {
    hub.etagOverride.set('onnx/decoder_model_merged.onnx_data', 'c'.repeat(64));
    try {
      await assert.rejects(store.download(deepseek, 'fp32'), (e: DownloadError) => e.kind === 'checksum' && e.message.includes('decoder_model_merged.onnx_data'));
    } finally {
      hub.etagOverride.clear();
    }
    const dir = store.folderOf(deepseek.id);
    assert.ok(!fs.existsSync(path.join(dir, 'onnx/decoder_model_merged.onnx_data')));
    assert.ok(!fs.existsSync(path.join(dir, 'onnx/decoder_model_merged.onnx_data.part')));
    assert.equal(store.resolve(deepseek.id).kind, 'notDownloaded');
    assert.deepEqual(store.downloaded(), []);
  });

  it('"downloaded" means every file of the variant is there as verified, not any .onnx file', async () => {
    // A folder in the old sense of complete: a config.json and some .onnx file.
    const dir = store.folderOf(deepseek.id);
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    fs.writeFileSync(path.join(dir, 'onnx/decoder_model_merged.onnx'), dsFiles['onnx/decoder_model_merged.onnx']);
    assert.equal(store.resolve(deepseek.id).kind, 'notDownloaded');
    assert.deepEqual(store.downloaded(), []);

    await store.download(deepseek, 'fp32');
    assert.ok(store.isComplete(deepseek, 'fp32'));
    assert.deepEqual(store.downloaded().map((e) => e.id), [deepseek.id]);
    assert.equal(store.isComplete(deepseek, 'q8'), false, 'another variant is not downloaded by this one');
    // External data missing: not complete.
    const data = path.join(dir, 'onnx/decoder_model_merged.onnx_data');
    fs.renameSync(data, `${data}.aside`);
    assert.equal(store.isComplete(deepseek, 'fp32'), false);
    assert.equal(store.resolve(deepseek.id).kind, 'notDownloaded');
    fs.renameSync(`${data}.aside`, data);
    assert.ok(store.isComplete(deepseek, 'fp32'));
    // Truncated: not complete; a new download fetches it again and nothing else.
    fs.truncateSync(data, 1000);
    assert.equal(store.isComplete(deepseek, 'fp32'), false);
    hub.requests.length = 0;
    await store.download(deepseek, 'fp32');
    assert.deepEqual(hub.requests.filter((r) => r.startsWith('GET')), [`GET ${deepseek.repo}/onnx/decoder_model_merged.onnx_data`]);
    assert.ok(store.isComplete(deepseek, 'fp32'));
  });

  it('remembers the variant per model: a q8 download and an fp32 preference leave the built-in model on its q8', async () => {
    await store.download(qwen, 'q8');
    const builtin = store.resolve(DEFAULT_MODEL_ID, 'fp32');
    assert.ok(builtin.kind === 'folder');
    assert.equal(builtin.variant, 'q8');
    assert.equal(builtin.onnxFile, 'onnx/model_quantized.onnx');
    assert.equal(builtin.dir, builtinDir);
    // The preference does not override what this model was downloaded in...
    const q = store.resolve(qwen.id, 'q4');
    assert.ok(q.kind === 'folder' && q.variant === 'q8' && q.onnxFile === 'onnx/model_quantized.onnx');
    // ...and a second variant downloaded becomes this model's, until another is selected.
    await store.download(qwen, 'q4');
    assert.equal(store.variantOf(qwen), 'q4');
    store.select(qwen, 'q8');
    assert.equal(store.variantOf(qwen, 'q4'), 'q8');
    assert.throws(() => store.select(qwen, 'fp16'), /not downloaded in fp16/);
    // Another store over the same folders (a new window) sees the same.
    assert.equal(new ModelStore(builtinDir, downloads, { hubUrl: hub.url }).variantOf(qwen), 'q8');
  });

  it('a model not downloaded reports the variant a download would fetch: the preference if offered, else the default', () => {
    const a = store.resolve(qwen.id, 'q4');
    assert.ok(a.kind === 'notDownloaded' && a.variant === 'q4');
    const b = store.resolve(qwen.id, 'fp32');
    assert.ok(b.kind === 'notDownloaded' && b.variant === 'q8');
  });

  it('does not trust a folder left by another repository (the old Instruct entry): files are fetched again, partials not resumed', async () => {
    const dir = store.folderOf(qwen.id);
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), '{"instruct":true}');
    fs.writeFileSync(path.join(dir, 'onnx/model_quantized.onnx'), bytes(120_000, 99));
    fs.writeFileSync(path.join(dir, 'onnx/model_q4.onnx.part'), bytes(5000, 98));
    fs.writeFileSync(path.join(dir, 'typeguide-download.json'), JSON.stringify({ repo: 'onnx-community/Qwen2.5-Coder-1.5B-Instruct', revision: 'main', selected: 'q8', files: { 'onnx/model_quantized.onnx': { size: 120_000, sha256: '0'.repeat(64), verified: 'sha256' } } }));
    assert.equal(store.resolve(qwen.id).kind, 'notDownloaded');
    await store.download(qwen, 'q8');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'onnx/model_quantized.onnx')), qwenFiles['onnx/model_quantized.onnx']);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'config.json')), qwenFiles['config.json']);
    assert.ok(!fs.existsSync(path.join(dir, 'onnx/model_q4.onnx.part')));
    await store.download(qwen, 'q4');
    assert.deepEqual(hub.ranges, [], 'nothing was resumed from the other repository\'s partial file');
  });

  it('adopts a whole file already in the folder when its sha256 is the Hub\'s, instead of fetching it again', async () => {
    // As left by an older version (no record): the right weights, and a config.json from elsewhere.
    const dir = store.folderOf(qwen.id);
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'onnx/model_quantized.onnx'), qwenFiles['onnx/model_quantized.onnx']);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"stale":true}');
    assert.equal(store.resolve(qwen.id).kind, 'notDownloaded');
    await store.download(qwen, 'q8');
    const gets = hub.requests.filter((r) => r.startsWith('GET'));
    assert.ok(!gets.includes(`GET ${qwen.repo}/onnx/model_quantized.onnx`), 'the weights were hashed, not fetched');
    assert.ok(gets.includes(`GET ${qwen.repo}/config.json`), 'a small git file has no sha256 to check against: fetched');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'config.json')), qwenFiles['config.json']);
    assert.ok(store.isComplete(qwen, 'q8'));
  });

  it('fails before fetching any weights when a required file is missing, and tolerates a missing optional one', async () => {
    const tok = hub.files.get(`${deepseek.repo}/tokenizer.json`)!;
    hub.files.delete(`${deepseek.repo}/tokenizer.json`);
    try {
      await assert.rejects(store.download(deepseek, 'q8'), (e: DownloadError) => e.kind === 'notFound' && e.message.includes('tokenizer.json'));
      assert.ok(!hub.requests.some((r) => r.startsWith('GET') && r.endsWith('.onnx')), 'no weights fetched');
    } finally {
      hub.files.set(`${deepseek.repo}/tokenizer.json`, tok);
    }
    await store.download(deepseek, 'q8'); // generation_config.json is absent there
    assert.ok(store.isComplete(deepseek, 'q8'));
  });

  it('a folder on disk loads the variant present, in either naming, the preference first', () => {
    const dir = path.join(root, 'user-folder');
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'onnx/decoder_model_merged_quantized.onnx'), 'x');
    const a = store.resolve(dir, 'fp32');
    assert.ok(a.kind === 'folder' && a.variant === 'q8' && a.onnxFile === 'onnx/decoder_model_merged_quantized.onnx');
    fs.writeFileSync(path.join(dir, 'onnx/model.onnx'), 'x');
    const b = store.resolve(dir, 'auto');
    assert.ok(b.kind === 'folder' && b.variant === 'fp32' && b.onnxFile === 'onnx/model.onnx');
    const c = store.resolve(dir, 'q8');
    assert.ok(c.kind === 'folder' && c.variant === 'q8');
  });
});
