// npm run bench:storm -- [--node PATH] [--semi default,2,8,16] [--batches 8] [--json OUT]
// The engine process's memory under typing: for each V8 semi-space size (`default` = the runtime's own),
// a fresh child process (run by --node, default this one; the extension host's runtime in VS Code 1.139
// is Node 24, whose defaults differ from Node 20's) with the engine process's allocator settings
// (ENGINE_MALLOC_ENV) completes through the one engine with the language monitor (TypeScript 7 on this
// repository) while a line is typed character by character into three documents in turn: one completion
// per keystroke, most aborted 60-120 ms in (the next keystroke), some left to finish. Reports RSS after
// each batch of one line, after a full GC, and the KV cache held; then the settings' speed: ms per token
// of 24 completions left to finish (32 tokens each). Prints a table and JSON; MiB.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CompletionEngine } from '../engine/completionEngine.js';
import { ENGINE_MALLOC_ENV } from '../extension/completion/engineClient.js';
import { MonitorService } from '../language-monitor/index.js';
import { CodeModel, defaultModelDir } from '../model/index.js';

const mib = (b: number): number => Math.round(b / 1048576);
const TYPED = 'const total = items.map((item) => item.value).reduce((a, b) => a + b, 0);';

async function child(batches: number): Promise<void> {
  const model = await CodeModel.load(defaultModelDir, { threads: 1 });
  const monitor = await MonitorService.create();
  const engine = new CompletionEngine({ model, monitor });
  const root = path.resolve(__dirname, '..');
  const docs = ['engine/completionEngine.ts', 'model/pie/promptCache.ts', 'language-monitor/monitors.ts']
    .map((f) => ({ file: path.join(root, f), text: fs.readFileSync(path.join(root, f), 'utf8') }));
  docs.forEach((d) => engine.documents.open({ filePath: d.file, languageId: 'typescript', version: 1, text: d.text, workspaceRoot: root }));
  let seed = 3;
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const rss = [mib(process.memoryUsage().rss)];
  const t0 = performance.now();
  for (let batch = 0; batch < batches; batch++) {
    const doc = docs[batch % docs.length];
    const at = doc.text.indexOf('\n', Math.floor(doc.text.length * (0.3 + 0.4 * rand()))) + 1;
    for (let k = 1; k <= TYPED.length; k++) {
      const controller = new AbortController();
      const done = engine.complete({ file: doc.file, languageId: 'typescript', prefix: doc.text.slice(0, at) + TYPED.slice(0, k), suffix: '\n' + doc.text.slice(at), maxTokens: 24, temperature: 0, monitor: true, workspaceRoot: root }, { signal: controller.signal });
      const timer = setTimeout(() => controller.abort(), rand() < 0.85 ? 60 + rand() * 60 : 400);
      await done.catch(() => undefined);
      clearTimeout(timer);
    }
    rss.push(mib(process.memoryUsage().rss));
  }
  const ms = performance.now() - t0;
  // Speed with these settings: completions left to finish (32 tokens at `x.` sites of one document).
  const doc = docs[0];
  const dots = [...doc.text.matchAll(/\w\./g)].map((m) => m.index + 2).filter((_, i) => i % 7 === 0).slice(0, 24);
  let tokens = 0;
  let genMs = 0;
  for (const at of dots) {
    const r = await engine.complete({ file: doc.file, languageId: 'typescript', prefix: doc.text.slice(0, at), suffix: doc.text.slice(at), maxTokens: 32, temperature: 0, monitor: true, workspaceRoot: root });
    tokens += r.tokens.length;
    genMs += r.msTotal;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setTimeout(r, 100));
  gc?.();
  const mu = process.memoryUsage();
  process.stdout.write(JSON.stringify({ rss, afterGcMiB: mib(mu.rss), heapTotalMiB: mib(mu.heapTotal), arrayBuffersMiB: mib(mu.arrayBuffers), cachedMiB: mib(engine.cacheUsage().bytes), batchesMs: Math.round(ms), msPerToken: +(genMs / tokens).toFixed(2), node: process.version }) + '\n');
  await engine.dispose();
  await monitor.dispose();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { node: { type: 'string' }, semi: { type: 'string', default: 'default,8' }, batches: { type: 'string', default: '8' }, json: { type: 'string' }, child: { type: 'boolean', default: false } } });
  const batches = Number(values.batches);
  if (values.child) return child(batches);
  const node = values.node ?? process.execPath;
  const rows = values.semi.split(',').map((semi) => {
    const flags = semi === 'default' ? [] : [`--max-semi-space-size=${semi}`];
    const r = spawnSync(node, [...flags, '--expose-gc', '--import', 'tsx', __filename, '--child', '--batches', String(batches)], { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1', ...ENGINE_MALLOC_ENV } });
    if (r.status !== 0) throw new Error(`semi ${semi}: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rss: number[]; afterGcMiB: number; heapTotalMiB: number; arrayBuffersMiB: number; cachedMiB: number; batchesMs: number; msPerToken: number; node: string };
    return { semiSpaceMiB: semi, node: out.node, firstBatchMiB: out.rss[1], finalMiB: out.rss.at(-1)!, growthAfterFirstMiB: out.rss.at(-1)! - out.rss[1], afterGcMiB: out.afterGcMiB, heapTotalMiB: out.heapTotalMiB, arrayBuffersMiB: out.arrayBuffersMiB, cachedMiB: out.cachedMiB, batchesMs: out.batchesMs, msPerToken: out.msPerToken, series: out.rss };
  });
  console.table(rows.map(({ series: _s, ...r }) => r));
  console.log(JSON.stringify({ batches, rows }));
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ batches, rows }, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
