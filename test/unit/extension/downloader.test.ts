import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { downloadFile, downloadFiles, DownloadError, insideFolder } from '../../../extension/models/downloader.js';
import { filesFor, registryEntry, resolveUrl } from '../../../extension/models/registry.js';

/**
 * A loopback server in the Hub's layout: /<repo>/resolve/<revision>/<path>, LFS-style files answered
 * with X-Linked-Etag = sha256 and honouring Range requests. `cutAfter` makes it drop a connection
 * mid-file once, like a flaky network.
 */
class FakeHub {
  readonly files = new Map<string, Buffer>();
  readonly etagOverride = new Map<string, string>();
  readonly ranges: string[] = [];
  cutAfter: number | undefined;
  private server = http.createServer((req, res) => this.handle(req, res));
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const m = /^\/(.+?\/.+?)\/resolve\/([^/]+)\/(.+)$/.exec(decodeURIComponent(req.url ?? ''));
    const body = m ? this.files.get(`${m[1]}/${m[3]}`) : undefined;
    if (!m || !body) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    const sha = this.etagOverride.get(m[3]) ?? createHash('sha256').update(body).digest('hex');
    const headers = { 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(body.length), 'accept-ranges': 'bytes' };
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (req.headers.range) this.ranges.push(req.headers.range);
    const start = range ? Number(range[1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(range ? 206 : 200, { ...headers, 'content-length': slice.length });
    if (this.cutAfter !== undefined) {
      const n = this.cutAfter;
      this.cutAfter = undefined;
      res.write(slice.subarray(0, n), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(slice);
  }
}

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
    hub.cutAfter = 100_000;
    const spec = { url: url('onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' };
    await assert.rejects(downloadFile(dir, spec), (e: DownloadError) => e.kind === 'network');
    const kept = fs.statSync(path.join(dir, 'onnx/model_quantized.onnx.part')).size;
    assert.ok(kept > 0 && kept < weights.length, `a partial file was kept (${kept} bytes)`);
    hub.ranges.length = 0;
    await downloadFile(dir, spec);
    assert.deepEqual(hub.ranges, [`bytes=${kept}-`]);
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

  it('registry entries name the transformers.js files of each variant', () => {
    const qwen = registryEntry('qwen2.5-coder-0.5b')!;
    assert.deepEqual(filesFor(qwen, 'q8')!.map((f) => f.path), ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model_quantized.onnx']);
    assert.equal(filesFor(qwen, 'fp32'), undefined);
    assert.equal(resolveUrl('https://huggingface.co', qwen.repo!, 'main', 'onnx/model_q4.onnx'), 'https://huggingface.co/onnx-community/Qwen2.5-Coder-0.5B-Instruct/resolve/main/onnx/model_q4.onnx');
  });
});
