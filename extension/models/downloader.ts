import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

export class DownloadError extends Error {
  constructor(
    readonly kind: 'notFound' | 'http' | 'checksum' | 'diskFull' | 'aborted' | 'unsafePath' | 'network',
    message: string,
  ) {
    super(message);
  }
}

export interface DownloadProgress {
  readonly file: string;
  /** Bytes on disk for this file (resumed bytes included). */
  readonly fileBytes: number;
  readonly fileTotal: number | undefined;
  /** Bytes received in this call, over all files. */
  readonly received: number;
}

export interface DownloadFileSpec {
  readonly url: string;
  /** Path relative to the destination folder. */
  readonly path: string;
  readonly sha256?: string;
  readonly size?: number;
}

/**
 * Joins `rel` under `root`, refusing anything that would land outside it (`..`, absolute paths):
 * downloads are written into the extension's global storage and nowhere else.
 */
export function insideFolder(root: string, rel: string): string {
  const full = path.resolve(root, rel);
  const r = path.resolve(root);
  if (path.isAbsolute(rel) || (full !== r && !full.startsWith(r + path.sep)) || full === r) {
    throw new DownloadError('unsafePath', `refusing to write ${JSON.stringify(rel)} outside ${r}`);
  }
  return full;
}

async function sha256OfFile(file: string): Promise<ReturnType<typeof createHash>> {
  const hash = createHash('sha256');
  if (!fs.existsSync(file)) return hash;
  await pipeline(fs.createReadStream(file), new Transform({ transform(c: Buffer, _e, cb) { hash.update(c); cb(); } }));
  return hash;
}

function get(url: string, headers: Record<string, string>, signal: AbortSignal, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { headers: { 'user-agent': 'typeguide-vscode', ...headers }, signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        // The Hub answers LFS files with a redirect to a CDN; its checksum headers are on this first answer.
        const next = new URL(res.headers.location, url).toString();
        get(next, headers, signal, redirects - 1).then((r) => {
          for (const h of ['x-linked-etag', 'x-linked-size']) if (res.headers[h] && !r.headers[h]) r.headers[h] = res.headers[h];
          resolve(r);
        }, reject);
        return;
      }
      resolve(res);
    });
    req.on('error', (e) => reject(signal.aborted ? new DownloadError('aborted', 'download cancelled') : new DownloadError('network', `${url}: ${e.message}`)));
  });
}

/** The Hub's LFS etag is the file's sha256 (quoted); plain git files carry a git sha1 instead. */
function hubSha256(res: http.IncomingMessage): string | undefined {
  const etag = String(res.headers['x-linked-etag'] ?? res.headers.etag ?? '').replace(/^W\//, '').replace(/"/g, '');
  return /^[0-9a-f]{64}$/i.test(etag) ? etag.toLowerCase() : undefined;
}

/**
 * Downloads one file into `root`, resuming a `.part` left by an earlier attempt with an HTTP Range
 * request, verifying sha256 (pinned, or the Hub's), and renaming into place only when complete.
 */
export async function downloadFile(root: string, spec: DownloadFileSpec, options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void; received?: { n: number } } = {}): Promise<void> {
  const signal = options.signal ?? new AbortController().signal;
  const dest = insideFolder(root, spec.path);
  const part = `${dest}.part`;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const res = await get(spec.url, have > 0 ? { range: `bytes=${have}-` } : {}, signal);
  const status = res.statusCode ?? 0;
  if (status === 404) {
    res.resume();
    throw new DownloadError('notFound', `${spec.url}: not found (404)`);
  }
  if (status === 416 && have > 0) {
    // The part is already whole (the previous attempt died between writing and renaming).
    res.resume();
  } else if (status !== 200 && status !== 206) {
    res.resume();
    throw new DownloadError('http', `${spec.url}: HTTP ${status}`);
  }
  const resuming = status === 206 || status === 416;
  if (!resuming && have > 0) fs.truncateSync(part, 0); // the server ignored the range: start over
  const expected = spec.sha256?.toLowerCase() ?? hubSha256(res);
  const hash = resuming ? await sha256OfFile(part) : createHash('sha256');
  let bytes = resuming ? have : 0;
  const lengthHeader = Number(res.headers['content-length']);
  const total = spec.size ?? (Number(res.headers['x-linked-size']) || (Number.isFinite(lengthHeader) ? lengthHeader + (status === 206 ? have : 0) : undefined));
  const received = options.received ?? { n: 0 };
  if (status !== 416) {
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        received.n += chunk.length;
        options.onProgress?.({ file: spec.path, fileBytes: bytes, fileTotal: total, received: received.n });
        cb(null, chunk);
      },
    });
    try {
      // Opened up front so that whatever arrived before a failure is on disk for the next attempt.
      const fd = fs.openSync(part, resuming ? 'a' : 'w');
      await pipeline(res, meter, fs.createWriteStream(part, { fd }), { signal });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new DownloadError('diskFull', `no space left on the device while writing ${part} (${bytes} bytes kept; the download resumes from there)`);
      if (signal.aborted) throw new DownloadError('aborted', `download cancelled (${bytes} bytes of ${spec.path} kept for resuming)`);
      throw new DownloadError('network', `${spec.url}: ${(e as Error).message}`);
    }
  }
  const digest = hash.digest('hex');
  if (expected && digest !== expected) {
    fs.rmSync(part, { force: true });
    throw new DownloadError('checksum', `${spec.path}: sha256 ${digest} does not match the expected ${expected}; the partial file was deleted`);
  }
  fs.renameSync(part, dest);
}

/** Downloads every file (skipping ones already complete), in order. */
export async function downloadFiles(root: string, files: readonly DownloadFileSpec[], options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {}): Promise<void> {
  const received = { n: 0 };
  for (const f of files) {
    if (fs.existsSync(insideFolder(root, f.path))) continue;
    await downloadFile(root, f, { ...options, received });
  }
}
