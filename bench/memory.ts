// npm run bench:memory -- [--model DIR] [--completions N] [--json OUT]
// Where the engine's memory goes: resident set size of this process after loading the model and after
// each of N completions through the one engine (as the extension's worker runs them), at sites in
// documents of 300-2,000 prompt tokens, moving between 8+ documents as an editor session does. Two
// configurations in the same run, each in a fresh child process so neither inherits the other's heap:
//   - chunked: the shipped engine (prefill in chunks of 256 tokens, KV cache capped in bytes);
//   - whole:   the prompt encoded in one forward pass (what the extension did before the one engine).
// Prints JSON and a table; RSS in MiB.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CompletionEngine } from '../engine/completionEngine.js';
import { CodeModel, defaultModelDir } from '../model/index.js';

const mib = (b: number): number => Math.round(b / 1048576);

/** Real TypeScript of different lengths: the repo's own sources, cut at member accesses. */
function documents(): { file: string; text: string }[] {
  const root = path.resolve(__dirname, '..');
  const files = ['engine/completionEngine.ts', 'model/pie/promptCache.ts', 'model/generate.ts', 'language-monitor/lspSession.ts',
    'language-monitor/monitors.ts', 'extension/completion/completionService.ts', 'cli/demo.ts', 'bench/mgd/evaluate.ts', 'model/pie/rotary.ts', 'language-monitor/triggers.ts'];
  return files.filter((f) => fs.existsSync(path.join(root, f))).map((f) => ({ file: path.join(root, f), text: fs.readFileSync(path.join(root, f), 'utf8') }));
}

async function child(mode: 'chunked' | 'whole', modelDir: string, completions: number): Promise<void> {
  const model = await CodeModel.load(modelDir, { threads: 1 });
  const engine = new CompletionEngine({ model, prefillChunkTokens: mode === 'chunked' ? 256 : 1_000_000 });
  const rss: number[] = [mib(process.memoryUsage().rss)];
  const docs = documents();
  let seed = 7;
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < completions; i++) {
    const doc = docs[i % docs.length];
    const dots = [...doc.text.matchAll(/\w\./g)].map((m) => m.index + 2);
    const at = dots[Math.floor(rand() * dots.length)];
    await engine.complete({ file: doc.file, languageId: 'typescript', prefix: doc.text.slice(0, at), suffix: doc.text.slice(at), maxTokens: 16, temperature: 0, monitor: false });
    rss.push(mib(process.memoryUsage().rss));
  }
  const usage = engine.cacheUsage();
  await engine.dispose();
  process.stdout.write(JSON.stringify({ mode, rss, cachedMiB: mib(usage.bytes), cachedDocuments: usage.documents, window: engine.promptWindowTokens }) + '\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, completions: { type: 'string', default: '18' }, json: { type: 'string' }, child: { type: 'string' } } });
  const modelDir = path.resolve(values.model ?? defaultModelDir);
  const n = Number(values.completions);
  if (values.child === 'chunked' || values.child === 'whole') return child(values.child, modelDir, n);
  const rows = (['whole', 'chunked'] as const).map((mode) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', mode, '--model', modelDir, '--completions', String(n)], { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } });
    if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { mode: string; rss: number[]; cachedMiB: number; cachedDocuments: number; window: number };
  });
  const summary = rows.map((r) => ({
    mode: r.mode, loadedMiB: r.rss[0], peakMiB: Math.max(...r.rss), finalMiB: r.rss.at(-1)!, growthMiB: r.rss.at(-1)! - r.rss[0],
    secondHalfGrowthMiB: r.rss.at(-1)! - r.rss[Math.floor(r.rss.length / 2)], cachedMiB: r.cachedMiB, cachedDocuments: r.cachedDocuments,
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
