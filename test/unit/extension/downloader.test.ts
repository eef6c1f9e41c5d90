import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { downloadFile, downloadFiles, DownloadError, insideFolder } from '../../../extension/models/downloader.js';
import { resolveUrl } from '../../../extension/models/registry.js';
import { FakeHub } from './fixtures/fakeHub.js';

describe('model download (loopback Hub)', () => {
  const hub = new FakeHub();
  const repo = 'onnx-community/Tiny-Coder';
  const weights = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
  let root: string;
  before(async () => {
    await hub.start();
    hub.files.set(`${repo}/config.json`, Buffer.from('{"model_type":"llama"}'));
    hub.files.set(`${repo}/onnx/model_quantized.onnx`, weights);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-dl-'));
  });
  after(async () => {
    await hub.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const url = (file: string): string => resolveUrl(hub.url, repo, 'main', file);

  it('downloads files into the folder and checks the Hub sha256', async () => {
    const dir = path.join(root, 'plain');
    const seen: number[] = [];
    await downloadFiles(dir, [{ url: url('config.json'), path: 'config.json' }, { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' }], { onProgress: (p) => seen.push(p.received) });
    assert.deepEqual(fs.readFileSync(path.join(dir, 'onnx/model_quantized.onnx')), weights);
    assert.equal(seen.at(-1), weights.length + '{"model_type":"llama"}'.length);
    assert.ok(!fs.existsSync(path.join(dir, 'onnx/model_quantized.onnx.part')));
  });

  it('resumes a broken download with a Range request', async () => {
    const dir = path.join(root, 'resume');
    hub.cut = { bytes: 100_000 };
    const spec = { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' };
    await assert.rejects(downloadFile(dir, spec), (e: DownloadError) => e.kind === 'network');
    const kept = fs.statSync(path.join(dir, 'onnx/model_quantized.onnx.part')).size;
    assert.ok(kept > 0 && kept < weights.length, `a partial file was kept (${kept} bytes)`);
    hub.ranges.length = 0;
    await downloadFile(dir, spec);
    assert.deepEqual(hub.ranges, [`onnx/model_quantized.onnx bytes=${kept}-`]);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'onnx/model_quantized.onnx')), weights);
  });

  it('rejects a checksum mismatch and deletes the bad file', async () => {
    const dir = path.join(root, 'bad');
    hub.etagOverride.set('onnx/model_quantized.onnx', 'a'.repeat(64));
    try {
      await assert.rejects(downloadFile(dir, { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' }),
        (e: DownloadError) => e.kind === 'checksum' && /does not match/.test(e.message));
    } finally {
      hub.etagOverride.clear();
    }
    assert.ok(!fs.existsSync(path.join(dir, 'onnx/model_quantized.onnx')));
    assert.ok(!fs.existsSync(path.join(dir, 'onnx/model_quantized.onnx.part')));
  });

  it('reports a missing file (404) by its URL', async () => {
    await assert.rejects(downloadFile(path.join(root, 'nf'), { url: url('onnx/model_q4.onnx'), path: 'onnx/model_q4.onnx' }),
      (e: DownloadError) => e.kind === 'notFound' && e.message.includes('resolve/main/onnx/model_q4.onnx'));
  });

  it('reports a full disk (a real ENOSPC from /dev/full)', { skip: !fs.existsSync('/dev/full') }, async () => {
    const dir = path.join(root, 'full');
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    fs.symlinkSync('/dev/full', path.join(dir, 'onnx/model_quantized.onnx.part'));
    await assert.rejects(downloadFile(dir, { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' }),
      (e: DownloadError) => e.kind === 'diskFull' && /no space left/.test(e.message));
    assert.ok(!fs.existsSync(path.join(dir, 'onnx/model_quantized.onnx')));
  });

  it('cancels on abort and keeps the part for later', async () => {
    const dir = path.join(root, 'abort');
    const c = new AbortController();
    await assert.rejects(downloadFile(dir, { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' }, { signal: c.signal, onProgress: () => c.abort() }),
      (e: DownloadError) => e.kind === 'aborted');
  });

  it('never writes outside the destination folder', () => {
    assert.throws(() => insideFolder(root, '../escape.onnx'), (e: DownloadError) => e.kind === 'unsafePath');
    assert.throws(() => insideFolder(root, '/etc/passwd'), (e: DownloadError) => e.kind === 'unsafePath');
    assert.equal(insideFolder(root, 'onnx/model.onnx'), path.join(root, 'onnx/model.onnx'));
  });

  it('takes the size the server reports over a stale expected size, so progress ends at 100 %', async () => {
    const dir = path.join(root, 'stale-size');
    const seen: { fileBytes: number; fileTotal: number | undefined }[] = [];
    await downloadFile(dir, { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx', size: 1000 }, { onProgress: (p) => seen.push(p) });
    assert.ok(seen.length > 0);
    for (const p of seen) assert.equal(p.fileTotal, weights.length);
    assert.equal(seen.at(-1)!.fileBytes, weights.length);
  });

  it('reports progress over all files: done climbs to the sum of their sizes and never passes it', async () => {
    const dir = path.join(root, 'overall');
    const seen: { done: number; total: number | undefined }[] = [];
    const config = '{"model_type":"llama"}'.length;
    await downloadFiles(dir, [{ url: url('config.json'), path: 'config.json' }, { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' }], { onProgress: (p) => seen.push(p) });
    const total = config + weights.length;
    for (const p of seen) {
      assert.equal(p.total, total, 'the total is known from the first byte (HEAD of every file first)');
      assert.ok(p.done <= total);
    }
    assert.equal(seen.at(-1)!.done, total);
    assert.deepEqual(seen.map((p) => p.done), [...seen.map((p) => p.done)].sort((a, b) => a - b), 'monotonic');
  });

  it('counts resumed bytes as done, and a file already in place as done, without fetching it again', async () => {
    const dir = path.join(root, 'overall-resume');
    hub.cut = { bytes: 50_000, path: 'onnx/model_quantized.onnx' };
    const files = [{ url: url('config.json'), path: 'config.json' }, { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' }];
    await assert.rejects(downloadFiles(dir, files), (e: DownloadError) => e.kind === 'network');
    const kept = fs.statSync(path.join(dir, 'onnx/model_quantized.onnx.part')).size;
    const seen: { done: number; total: number | undefined }[] = [];
    hub.requests.length = 0;
    await downloadFiles(dir, files, { onProgress: (p) => seen.push(p) });
    assert.ok(seen[0].done > kept, `first report counts the ${kept} bytes kept and config.json`);
    assert.equal(seen.at(-1)!.done, seen.at(-1)!.total);
    assert.ok(!hub.requests.includes(`GET ${repo}/config.json`), 'config.json was already complete');
  });

  it('fails a transfer that ends short of the size the server announced, and keeps nothing', async () => {
    const dir = path.join(root, 'short');
    hub.files.set(`${repo}/onnx/short.onnx`, weights);
    hub.sizeOverride.set('onnx/short.onnx', weights.length + 10);
    try {
      await assert.rejects(downloadFile(dir, { url: url('onnx/short.onnx'), path: 'onnx/short.onnx' }), (e: DownloadError) => e.kind === 'checksum' && /size/.test(e.message));
    } finally {
      hub.sizeOverride.clear();
    }
    assert.ok(!fs.existsSync(path.join(dir, 'onnx/short.onnx')));
  });
});
