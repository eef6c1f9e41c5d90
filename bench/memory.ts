// npm run bench:memory -- [--model DIR] [--completions N] [--cache-mib N (the prompt cache's cap; default the engine's)]
//   [--park false (keep inactive documents' caches in float32)] [--json OUT]
// Where the engine's memory goes: resident set size of this process after loading the model and after
// each of N completions through the one engine (as the extension's worker runs them), at sites in
// documents of 300-2,000 prompt tokens, moving between 8+ documents as an editor session does. Three
// configurations in the same run, each in a fresh child process so none inherits another's heap:
//   - chunked:            the shipped engine (prefill in chunks of 256 tokens, KV cache capped in bytes);
//   - chunkedOrtDefaults: the same with onnxruntime's own memory settings (memory pattern on), what
//                         model/onnxSession.ts used before `sessionMemoryDefaults`;
//   - chunkedNoArena:     the same without onnxruntime's CPU arena (less memory, a few % slower per token);
//   - whole:              the prompt encoded in one forward pass (what the extension did before the one engine).
//   - chunked128:         the shipped engine with prefill chunks of 128 tokens;
//   - monitored:          the shipped engine with the language monitor, as the extension runs it: TypeScript 7's
//                         server on the repository, documents opened in the engine, every completion monitored
//                         (tree-sitter triggers, the server's answers, the shadow documents);
//   - monitoredMallocTuned: the same in a process started with the engine process's glibc settings
//                         (ENGINE_MALLOC_ENV: 2 arenas, a fixed mmap threshold);
//   - monitoredMallocTunedNoArena: the same without onnxruntime's CPU arena.
// Per configuration: RSS before the model loads (node + tsx + our modules), after it loads, after the
// first completion, growth from loaded to the last completion, the KV prompt cache's bytes, and RSS
// after a full GC (what the allocators keep, not garbage waiting for V8). Prints JSON and a table; MiB.
// bench/memoryBreakdown.ts takes the session alone apart (per stage, per onnxruntime option, speed).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CompletionEngine } from '../engine/completionEngine.js';
import { ENGINE_MALLOC_ENV } from '../extension/completion/engineClient.js';
import { MonitorService } from '../language-monitor/index.js';
import { CodeModel, defaultModelDir } from '../model/index.js';

const mib = (b: number): number => Math.round(b / 1048576);

/** Real TypeScript of different lengths: the repo's own sources, cut at member accesses. */
function documents(): { file: string; text: string }[] {
  const root = path.resolve(__dirname, '..');
  const files = ['engine/completionEngine.ts', 'model/pie/promptCache.ts', 'model/generate.ts', 'language-monitor/lspSession.ts',
    'language-monitor/monitors.ts', 'extension/completion/completionService.ts', 'cli/demo.ts', 'bench/mgd/evaluate.ts', 'model/pie/rotary.ts', 'language-monitor/triggers.ts'];
  return files.filter((f) => fs.existsSync(path.join(root, f))).map((f) => ({ file: path.join(root, f), text: fs.readFileSync(path.join(root, f), 'utf8') }));
}

const modes = ['whole', 'chunkedOrtDefaults', 'chunkedNoArena', 'chunked', 'chunked128', 'monitored', 'monitoredMallocTuned', 'monitoredMallocTunedNoArena'] as const;
/** The engine process's allocator settings (EngineClient); `--malloc-mmap-threshold BYTES` tries another threshold. */
const mallocTuned = (threshold?: string): Record<string, string> => ({ ...ENGINE_MALLOC_ENV, ...(threshold ? { MALLOC_MMAP_THRESHOLD_: threshold } : {}) });
type Mode = (typeof modes)[number];

async function child(mode: Mode, modelDir: string, completions: number, cacheMiB?: number, park = true): Promise<void> {
  const startMiB = mib(process.memoryUsage().rss);
  const memory = mode === 'chunkedOrtDefaults' ? { cpuMemArena: true, memPattern: true } : mode === 'chunkedNoArena' || mode === 'monitoredMallocTunedNoArena' ? { cpuMemArena: false } : {};
  const model = await CodeModel.load(modelDir, { threads: 1, memory });
  const monitored = mode.startsWith('monitored');
  const monitor = monitored ? await MonitorService.create() : undefined;
  const engine = new CompletionEngine({ model, prefillChunkTokens: mode === 'whole' ? 1_000_000 : mode === 'chunked128' ? 128 : 256, monitor, parkFloat16: park, ...(cacheMiB ? { cacheBytes: cacheMiB * 1048576 } : {}) });
  const docs = documents();
  const root = path.resolve(__dirname, '..');
  if (monitored) docs.forEach((d) => engine.documents.open({ filePath: d.file, languageId: 'typescript', version: 1, text: d.text, workspaceRoot: root }));
  const rss: number[] = [mib(process.memoryUsage().rss)];
  let seed = 7;
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < completions; i++) {
    const doc = docs[i % docs.length];
    const dots = [...doc.text.matchAll(/\w\./g)].map((m) => m.index + 2);
    const at = dots[Math.floor(rand() * dots.length)];
    await engine.complete({ file: doc.file, languageId: 'typescript', prefix: doc.text.slice(0, at), suffix: doc.text.slice(at), maxTokens: 16, temperature: 0, monitor: monitored, workspaceRoot: root });
    rss.push(mib(process.memoryUsage().rss));
  }
  const usage = engine.cacheUsage();
  const arrayBuffersMiB = mib(process.memoryUsage().arrayBuffers);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setTimeout(r, 50));
  gc?.();
  const afterGcMiB = gc ? mib(process.memoryUsage().rss) : undefined;
  await engine.dispose();
  await monitor?.dispose();
  process.stdout.write(JSON.stringify({ mode, startMiB, rss, afterGcMiB, arrayBuffersMiB, cachedMiB: mib(usage.bytes), cachedDocuments: usage.documents, parkedDocuments: usage.parked, window: engine.promptWindowTokens }) + '\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, completions: { type: 'string', default: '18' }, json: { type: 'string' }, child: { type: 'string' }, 'malloc-mmap-threshold': { type: 'string' }, 'cache-mib': { type: 'string' }, park: { type: 'string', default: 'true' }, modes: { type: 'string', default: modes.join(',') } } });
  const modelDir = path.resolve(values.model ?? defaultModelDir);
  const n = Number(values.completions);
  if (values.child) {
    if (!(modes as readonly string[]).includes(values.child)) throw new Error(`unknown mode ${values.child}`);
    return child(values.child as Mode, modelDir, n, values['cache-mib'] ? Number(values['cache-mib']) : undefined, values.park !== 'false');
  }
  const chosen = values.modes.split(',');
  const unknown = chosen.filter((m) => !(modes as readonly string[]).includes(m));
  if (unknown.length) throw new Error(`unknown mode ${unknown.join(', ')}; expected ${modes.join(', ')}`);
  const rows = chosen.map((mode) => {
    const env = { ...process.env, ORT_DISABLE_TELEMETRY: '1', ...(mode.startsWith('monitoredMallocTuned') ? mallocTuned(values['malloc-mmap-threshold']) : {}) };
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, '--child', mode, '--model', modelDir, '--completions', String(n), ...(values['cache-mib'] ? ['--cache-mib', values['cache-mib']] : []), '--park', values.park], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      mode: string; startMiB: number; rss: number[]; afterGcMiB?: number; arrayBuffersMiB: number; cachedMiB: number; cachedDocuments: number; parkedDocuments?: number; window: number;
    };
  });
  const summary = rows.map((r) => ({
    mode: r.mode, startMiB: r.startMiB, loadedMiB: r.rss[0], firstCompletionMiB: r.rss[1], peakMiB: Math.max(...r.rss), finalMiB: r.rss.at(-1)!,
    growthMiB: r.rss.at(-1)! - r.rss[0], secondHalfGrowthMiB: r.rss.at(-1)! - r.rss[Math.floor(r.rss.length / 2)],
    cachedMiB: r.cachedMiB, cachedDocuments: r.cachedDocuments, parkedDocuments: r.parkedDocuments, arrayBuffersMiB: r.arrayBuffersMiB, afterGcMiB: r.afterGcMiB,
  }));
  const result = { model: modelDir, completions: n, window: rows[0].window, summary, series: Object.fromEntries(rows.map((r) => [r.mode, r.rss])) };
  console.table(summary);
  console.log(JSON.stringify(result));
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
