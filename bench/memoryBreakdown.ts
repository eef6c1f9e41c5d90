// tsx bench/memoryBreakdown.ts -- [--model DIR] [--variants shipped,ortDefaults,...] [--rounds N] [--json OUT]
// Where the session's memory goes and what onnxruntime's memory settings change, without the engine
// around it. Each variant (a set of session options, see `variants`) runs in a fresh child process:
// resident set size before loading, after CodeModel.load (binding + InferenceSession.create + the
// one-token probe), after the first 256-token forward, after each document (prefill in 256-token chunks
// as the engine does, then 16 decoded tokens; no cache kept between documents, so any growth is the
// allocators' and not ours) and after a full GC. Then one more child loads every variant and times them
// interleaved on the same prompt (prefill of 1,024 tokens, ms per decoded token at ~1,024 cached tokens):
// on a shared machine only ratios within one run mean anything. Prints JSON and two tables; MiB.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CodeModel, defaultModelDir, type KvCache } from '../model/index.js';
import type { SessionMemoryOptions } from '../model/onnxSession.js';
import { median } from './stats.js';

const variants: Record<string, SessionMemoryOptions> = {
  shipped: {},
  ortDefaults: { cpuMemArena: true, memPattern: true },
  noArena: { cpuMemArena: false, memPattern: false },
  arenaNoPattern: { cpuMemArena: true, memPattern: false },
  noPrepacking: { sessionConfig: { disable_prepacking: '1' } },
  initializersOutsideArena: { sessionConfig: { use_device_allocator_for_initializers: '1' } },
};

const mib = (b: number): number => Math.round(b / 1048576);
function memory(): { rss: number; arrayBuffers: number } {
  const m = process.memoryUsage();
  return { rss: mib(m.rss), arrayBuffers: mib(m.arrayBuffers) };
}

/** Prompt lengths of the documents, in the order run: the window's 1,024 and shorter ones. */
const documentTokens = [300, 1024, 600, 900, 450, 1024, 750, 1024, 380, 1000, 640, 1024];

function tokens(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 16000);
}

function argmaxLast(logits: Float32Array, width: number): number {
  let best = 0;
  for (let i = 1; i < width; i++) if (logits[logits.length - width + i] > logits[logits.length - width + best]) best = i;
  return best;
}

/** Prefill in chunks, then `decode` greedy tokens; returns the times and disposes the cache. */
async function runDocument(model: CodeModel, prompt: readonly number[], decode: number): Promise<{ prefillMs: number; decodeMsPerToken: number }> {
  const lm = model.session;
  let cache: KvCache | null = null;
  let next = 0;
  const step = async (ids: readonly number[]) => {
    const r = await lm.forward(ids, cache);
    cache?.dispose();
    cache = r.cache;
    next = argmaxLast(r.logits, model.config.vocabSize);
  };
  const t0 = performance.now();
  for (let i = 0; i < prompt.length; i += 256) await step(prompt.slice(i, i + 256));
  const t1 = performance.now();
  for (let i = 0; i < decode; i++) await step([next]);
  const t2 = performance.now();
  (cache as KvCache | null)?.dispose();
  return { prefillMs: t1 - t0, decodeMsPerToken: (t2 - t1) / Math.max(1, decode) };
}

async function memoryChild(name: string, modelDir: string): Promise<void> {
  const stages: Record<string, { rss: number; arrayBuffers: number }> = { start: memory() };
  const model = await CodeModel.load(modelDir, { threads: 1, memory: variants[name] });
  stages.loaded = memory();
  await runDocument(model, tokens(256, 1), 0);
  stages.firstForward = memory();
  const perDocument: number[] = [];
  for (const [i, n] of documentTokens.entries()) {
    await runDocument(model, tokens(n, i + 2), 16);
    perDocument.push(memory().rss);
  }
  stages.documents = memory();
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
    gc();
    stages.afterGc = memory();
  }
  await model.dispose();
  process.stdout.write(JSON.stringify({ variant: name, stages, perDocument }) + '\n');
}

async function speedChild(names: string[], modelDir: string, rounds: number): Promise<void> {
  const models: CodeModel[] = [];
  for (const n of names) models.push(await CodeModel.load(modelDir, { threads: 1, memory: variants[n] }));
  const prompt = tokens(1024, 99);
  const times = names.map(() => ({ prefill: [] as number[], decode: [] as number[] }));
  for (let r = 0; r <= rounds; r++) {
    for (const [i, model] of models.entries()) {
      const t = await runDocument(model, prompt, 32);
      if (r === 0) continue; // warm-up
      times[i].prefill.push(t.prefillMs);
      times[i].decode.push(t.decodeMsPerToken);
    }
  }
  for (const m of models) await m.dispose();
  process.stdout.write(JSON.stringify({ times }) + '\n');
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function runChild(args: string[]): string {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, ...args], { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    model: { type: 'string' }, variants: { type: 'string', default: Object.keys(variants).join(',') }, rounds: { type: 'string', default: '8' },
    json: { type: 'string' }, 'memory-child': { type: 'string' }, 'speed-child': { type: 'string' },
  } });
  const modelDir = path.resolve(values.model ?? defaultModelDir);
  const names = values.variants.split(',');
  const unknown = names.filter((n) => !(n in variants));
  if (unknown.length) throw new Error(`unknown variant ${unknown.join(', ')}; expected ${Object.keys(variants).join(', ')}`);
  if (values['memory-child']) return memoryChild(values['memory-child'], modelDir);
  if (values['speed-child']) return speedChild(values['speed-child'].split(','), modelDir, Number(values.rounds));

  const memoryRows = names.map((n) => JSON.parse(runChild(['--memory-child', n, '--model', modelDir])) as {
    variant: string; stages: Record<string, { rss: number; arrayBuffers: number }>; perDocument: number[];
  });
  const speed = JSON.parse(runChild(['--speed-child', names.join(','), '--model', modelDir, '--rounds', values.rounds])) as { times: { prefill: number[]; decode: number[] }[] };
  const base = speed.times[0];
  const rows = memoryRows.map((m, i) => {
    const s = m.stages;
    const t = speed.times[i];
    return {
      variant: m.variant,
      startMiB: s.start.rss,
      loadedMiB: s.loaded.rss,
      firstForwardMiB: s.firstForward.rss,
      documentsMiB: s.documents.rss,
      afterGcMiB: s.afterGc?.rss,
      growthMiB: (s.afterGc ?? s.documents).rss - s.loaded.rss,
      prefill1024Ms: Math.round(median(t.prefill)),
      decodeMsPerToken: round1(median(t.decode)),
      // Per round against the first variant, then the median: robust to load that shifts between rounds.
      prefillRatio: round3(median(t.prefill.map((x, r) => x / base.prefill[r]))),
      decodeRatio: round3(median(t.decode.map((x, r) => x / base.decode[r]))),
      // Fastest run against the first variant's fastest: closest to an idle machine when others share it.
      bestPrefillRatio: round3(Math.min(...t.prefill) / Math.min(...base.prefill)),
      bestDecodeRatio: round3(Math.min(...t.decode) / Math.min(...base.decode)),
    };
  });
  const result = { model: modelDir, threads: 1, documentTokens, rounds: Number(values.rounds), variants: Object.fromEntries(names.map((n) => [n, variants[n]])), rows, series: Object.fromEntries(memoryRows.map((m) => [m.variant, m.perDocument])) };
  console.table(rows);
  console.log(JSON.stringify(result));
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
