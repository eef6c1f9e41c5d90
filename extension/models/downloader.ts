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
  /** This file's size as the server reports it (a pinned size only when the server says nothing). */
  readonly fileTotal: number | undefined;
  /** Bytes received in this call, over all files. */
  readonly received: number;
  /** Bytes on disk over all files of the call: complete ones, kept partial ones, this one so far. */
  readonly done: number;
  /** Sum of all files' sizes (asked of the server before the first byte); undefined when one is unknown. */
  readonly total: number | undefined;
}

export interface DownloadFileSpec {
  readonly url: string;
  /** Path relative to the destination folder. */
  readonly path: string;
  readonly sha256?: string;
  /** Used only when the server reports no size: the size the server reports wins. */
  readonly size?: number;
  /** A 404 is not an error: the file is reported missing and nothing is written. */
  readonly optional?: boolean;
}

/** What one file's download established. */
export type DownloadedFile =
  | { readonly path: string; readonly missing: false; readonly size: number; readonly sha256: string; readonly verified: 'sha256' | 'size' | 'none' }
  | { readonly path: string; readonly missing: true };

/** Shared by the files of one call: what progress reports over all of them. */
interface Totals {
  received: number;
  /** Bytes of the files finished before the current one. */
  before: number;
  total: number | undefined;
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

function get(url: string, headers: Record<string, string>, signal: AbortSignal, method: 'GET' | 'HEAD' = 'GET', redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.request(url, { method, headers: { 'user-agent': 'typeguide-vscode', ...headers }, signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        // The Hub answers LFS files with a redirect to a CDN; its checksum headers are on this first answer.
        const next = new URL(res.headers.location, url).toString();
        get(next, headers, signal, method, redirects - 1).then((r) => {
          for (const h of ['x-linked-etag', 'x-linked-size']) if (res.headers[h] && !r.headers[h]) r.headers[h] = res.headers[h];
          resolve(r);
        }, reject);
        return;
      }
      resolve(res);
    });
    req.on('error', (e) => reject(signal.aborted ? new DownloadError('aborted', 'download cancelled') : new DownloadError('network', `${url}: ${e.message}`)));
    req.end();
  });
}

/** The Hub's LFS etag is the file's sha256 (quoted); plain git files carry a git sha1 instead. */
function hubSha256(res: http.IncomingMessage): string | undefined {
  const etag = String(res.headers['x-linked-etag'] ?? res.headers.etag ?? '').replace(/^W\//, '').replace(/"/g, '');
  return /^[0-9a-f]{64}$/i.test(etag) ? etag.toLowerCase() : undefined;
}

/** The file's full size as the server states it: the Hub's X-Linked-Size, a Content-Range total, or Content-Length. */
function serverSize(res: http.IncomingMessage, have: number): number | undefined {
  const linked = Number(res.headers['x-linked-size']);
  if (Number.isSafeInteger(linked) && linked >= 0 && res.headers['x-linked-size'] !== undefined) return linked;
  const range = /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''));
  if (range) return Number(range[1]);
  const length = Number(res.headers['content-length']);
  if (res.headers['content-length'] === undefined || !Number.isSafeInteger(length)) return undefined;
  return res.statusCode === 206 ? length + have : res.statusCode === 200 ? length : undefined;
}

/**
 * Asks the server (HEAD) for a file's size and sha256 without fetching it. `found: false` on a 404;
 * a server that refuses HEAD answers with nothing known (the GET then says).
 */
export async function probeFile(url: string, signal: AbortSignal = new AbortController().signal): Promise<{ found: boolean; size?: number; sha256?: string }> {
  const res = await get(url, {}, signal, 'HEAD');
  res.resume();
  if (res.statusCode === 404) return { found: false };
  if (res.statusCode !== 200) return { found: true };
  return { found: true, size: serverSize(res, 0), sha256: hubSha256(res) };
}

/**
 * Downloads one file into `root`, resuming a `.part` left by an earlier attempt with an HTTP Range
 * request, verifying sha256 (pinned, or the Hub's) and the size the server announced, and renaming
 * into place only when complete.
 */
export async function downloadFile(root: string, spec: DownloadFileSpec, options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void; totals?: Totals } = {}): Promise<DownloadedFile> {
  const signal = options.signal ?? new AbortController().signal;
  const dest = insideFolder(root, spec.path);
  const part = `${dest}.part`;
  const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const res = await get(spec.url, have > 0 ? { range: `bytes=${have}-` } : {}, signal);
  const status = res.statusCode ?? 0;
  if (status === 404) {
    res.resume();
    if (spec.optional) return { path: spec.path, missing: true };
    throw new DownloadError('notFound', `${spec.url}: not found (404)`);
  }
  if (status === 416 && have > 0) {
    // The part is already whole (the previous attempt died between writing and renaming).
    res.resume();
  } else if (status !== 200 && status !== 206) {
    res.resume();
    throw new DownloadError('http', `${spec.url}: HTTP ${status}`);
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const resuming = status === 206 || status === 416;
  if (!resuming && have > 0) fs.truncateSync(part, 0); // the server ignored the range: start over
  const pinned = spec.sha256?.toLowerCase();
  const expected = pinned ?? hubSha256(res);
  const hash = resuming ? await sha256OfFile(part) : createHash('sha256');
  let bytes = resuming ? have : 0;
  // The server's word wins over a pinned size: a stale pin must not push progress past 100 %.
  const total = serverSize(res, have) ?? spec.size;
  const totals = options.totals ?? { received: 0, before: 0, total };
  const report = (): void => options.onProgress?.({ file: spec.path, fileBytes: bytes, fileTotal: total, received: totals.received, done: totals.before + bytes, total: totals.total });
  if (status === 416) report();
  else {
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        totals.received += chunk.length;
        report();
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
  if (total !== undefined && bytes !== total) {
    fs.rmSync(part, { force: true });
    throw new DownloadError('checksum', `${spec.path}: size ${bytes} bytes, but the server announced ${total}; the partial file was deleted`);
  }
  const digest = hash.digest('hex');
  if (expected && digest !== expected) {
    fs.rmSync(part, { force: true });
    throw new DownloadError('checksum', `${spec.path}: sha256 ${digest} does not match the expected ${expected}; the partial file was deleted`);
  }
  fs.renameSync(part, dest);
  return { path: spec.path, missing: false, size: bytes, sha256: digest, verified: expected ? 'sha256' : total !== undefined ? 'size' : 'none' };
}

export interface DownloadFilesOptions {
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Whether a file is already in place and verified (default: it exists). Others are fetched again. */
  isDone?: (spec: DownloadFileSpec) => boolean;
  /** Called as each file completes (or is found missing, for an optional one), before the next starts. */
  onFile?: (file: DownloadedFile) => void;
}

/**
 * Downloads every file not already done, in order. First asks the server for every remaining file's
 * size (HEAD), so that progress counts the bytes of all files from the start, and a missing required
 * file fails the call before any large file is fetched.
 */
export async function downloadFiles(root: string, files: readonly DownloadFileSpec[], options: DownloadFilesOptions = {}): Promise<DownloadedFile[]> {
  const signal = options.signal ?? new AbortController().signal;
  const isDone = options.isDone ?? ((f: DownloadFileSpec) => fs.existsSync(insideFolder(root, f.path)));
  const plan: { spec: DownloadFileSpec; done: boolean; size: number | undefined; missing: boolean; adopted?: DownloadedFile }[] = [];
  for (const spec of files) {
    const full = insideFolder(root, spec.path);
    if (isDone(spec)) {
      // Done may also mean an optional file known to be absent.
      plan.push({ spec, done: true, size: fs.existsSync(full) ? fs.statSync(full).size : 0, missing: false });
      continue;
    }
    const probe = await probeFile(spec.url, signal);
    if (!probe.found && !spec.optional) throw new DownloadError('notFound', `${spec.url}: not found (404)`);
    // A whole file already there but not known to be verified (left by an older version, or by a crash
    // between its rename and its record): hashing it is far cheaper than fetching it again.
    const sha256 = spec.sha256?.toLowerCase() ?? probe.sha256;
    if (probe.found && sha256 && probe.size !== undefined && fs.existsSync(full) && fs.statSync(full).size === probe.size) {
      if ((await sha256OfFile(full)).digest('hex') === sha256) {
        plan.push({ spec, done: true, size: probe.size, missing: false, adopted: { path: spec.path, missing: false, size: probe.size, sha256, verified: 'sha256' } });
        continue;
      }
    }
    plan.push({ spec, done: false, size: probe.found ? (probe.size ?? spec.size) : 0, missing: !probe.found });
  }
  const totals: Totals = { received: 0, before: 0, total: plan.every((p) => p.size !== undefined) ? plan.reduce((n, p) => n + p.size!, 0) : undefined };
  const results: DownloadedFile[] = [];
  for (const p of plan) {
    if (p.done || p.missing) {
      totals.before += p.size ?? 0;
      if (p.adopted) {
        results.push(p.adopted);
        options.onFile?.(p.adopted);
      }
      if (p.missing) {
        const missing = { path: p.spec.path, missing: true } as const;
        results.push(missing);
        options.onFile?.(missing);
      }
      continue;
    }
    const result = await downloadFile(root, p.spec, {
      signal,
      totals,
      onProgress: (progress) => {
        // Should the GET report another size than the HEAD did, the total follows the GET's.
        if (totals.total !== undefined && p.size !== undefined && progress.fileTotal !== undefined && progress.fileTotal !== p.size) {
          totals.total += progress.fileTotal - p.size;
          p.size = progress.fileTotal;
        }
        options.onProgress?.({ ...progress, total: totals.total });
      },
    });
    totals.before += result.missing ? 0 : result.size;
    results.push(result);
    options.onFile?.(result);
  }
  return results;
}
