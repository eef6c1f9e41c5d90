// Benchmark of the language monitor: mask time per step (shipped vocabulary and a 32k synthetic one,
// 500 candidates), server query time at a trigger (first, warm p50/p95) per server, and the latency of
// monitored vs unmonitored completions with the real model at the same positions.
// Usage: npm run bench:monitor -- [--json OUT] [--quick]
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CompletionEngine } from '../engine/completionEngine.js';
import { CodeModel, defaultModelDir } from '../model/index.js';
import { CandidateSet, MaskBuilder, identifierByteTable, LspSession, builtinServer, MonitorService, TokenIndex } from '../language-monitor/index.js';

const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const quick = args.includes('--quick');
const FIX = path.resolve(__dirname, '../test/fixtures/language-monitor');

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const WORDS = ['get', 'set', 'load', 'save', 'item', 'value', 'count', 'name', 'data', 'index', 'node', 'tree', 'user', 'file', 'path', 'size', 'type', 'list', 'map', 'key', 'zorb', 'flarn', 'quib'];
const ident = () => { let s = WORDS[Math.floor(rand() * WORDS.length)]; for (let k = Math.floor(rand() * 3); k > 0; k--) { const w = WORDS[Math.floor(rand() * WORDS.length)]; s += w[0].toUpperCase() + w.slice(1); } return s; };

function maskBench(index: TokenIndex, candidates: string[], narrowing = false) {
  const mask = new MaskBuilder(index, identifierByteTable('js'));
  const set = new CandidateSet(candidates);
  const logits = new Float32Array(index.vocabSize);
  const enc = new TextEncoder();
  // The trigger step (all candidates legal) is the costly one; narrowing steps add 2-char partials.
  const partials = (narrowing ? candidates.slice(0, 20).map((c) => c.slice(0, 2)) : ['']).map((p) => enc.encode(p));
  const times: number[] = [];
  for (let round = 0; round < (quick ? 20 : 200); round++) {
    for (const partial of partials) {
      for (let i = 0; i < logits.length; i += 97) logits[i] = i;
      const t0 = performance.now();
      mask.compute(set, partial);
      mask.apply(logits);
      times.push((performance.now() - t0) * 1000);
    }
  }
  return { p50Us: +pct(times, 50).toFixed(1), p95Us: +pct(times, 95).toFixed(1), vocab: index.vocabSize, candidates: set.size };
}

/** A 32k vocabulary: the shipped tokens plus synthetic identifier pieces. */
function syntheticIndex(real: TokenIndex, size: number): TokenIndex {
  const seen = new Set(real.bytes.map((b) => Buffer.from(b).toString('latin1')));
  const bytes = [...real.bytes];
  while (bytes.length < size) {
    const s = ident().slice(0, 2 + Math.floor(rand() * 8));
    const t = rand() < 0.3 ? ' ' + s : s;
    if (seen.has(t)) continue;
    seen.add(t);
    bytes.push(Buffer.from(t, 'latin1'));
  }
  return new TokenIndex(bytes);
}

async function serverBench(name: 'typescript7' | 'typescript-language-server' | 'pyright') {
  const python = name === 'pyright';
  const file = path.join(FIX, python ? 'py-project/main.py' : 'ts-project/src/main.ts');
  const text = fs.readFileSync(file, 'utf8');
  const uri = pathToFileURL(file).href;
  const session = new LspSession(builtinServer(name), pathToFileURL(path.dirname(python ? file : path.dirname(file))).href);
  const t0 = performance.now();
  await session.start();
  const startMs = performance.now() - t0;
  session.openDocument(uri, python ? 'python' : 'typescript', text);
  const offset = text.indexOf('store.') + 'store.'.length;
  const before = text.slice(0, offset);
  const pos = { line: before.split('\n').length - 1, character: offset - before.lastIndexOf('\n') - 1 };
  const first = await session.completion(uri, pos, 60_000);
  const warm: number[] = [];
  for (let i = 0; i < (quick ? 5 : 30); i++) {
    // A keystroke elsewhere in the document, so the server cannot answer from its own cache.
    const edited = text + `\n${python ? '#' : '//'} ${i}\n`;
    session.changeDocument(uri, [{ text: edited }], edited);
    const a = await session.completion(uri, pos, 60_000);
    if (a.outcome === 'ok') warm.push(a.ms);
  }
  await session.dispose();
  return { startMs: +startMs.toFixed(1), firstMs: +first.ms.toFixed(1), warmP50Ms: +pct(warm, 50).toFixed(2), warmP95Ms: +pct(warm, 95).toFixed(2), items: first.items?.length ?? 0 };
}

/**
 * Monitored vs unmonitored completions through the one engine (as the extension completes), at the
 * default 300 ms bound, each side with its own engine and the prompt computed in full on both sides.
 * Two measures: answers cached (each trigger asked once before, the same text again: the fixed cost of
 * monitoring) and fresh answers (another document edited before each completion: every trigger asks
 * its server, as when the user types between completions). Each with the shipped waiting for answers
 * and with decoding ahead of them (speculate: true), interleaved, the order alternating per round.
 */
async function latencyBench(model: CodeModel) {
  const service = await MonitorService.create({ timeoutMs: 300 });
  const withMonitor = new CompletionEngine({ model, monitor: service, ownsModel: false });
  const without = new CompletionEngine({ model, ownsModel: false });
  const sites: { languageId: string; file: string; needle: string }[] = [
    { languageId: 'typescript', file: 'ts-project/src/main.ts', needle: 'store.' },
    { languageId: 'typescript', file: 'ts-project/src/main.ts', needle: 'const value = ' },
    { languageId: 'python', file: 'py-project/main.py', needle: 'store.' },
    { languageId: 'python', file: 'py-project/main.py', needle: 'value = ' },
  ];
  let plain = 0, monitored = 0, waiting = 0;
  // Fresh answers: before each monitored completion another document of the project is edited (a
  // keystroke in a file beside it, never saved), so no answer comes from the cache, as when the user
  // types between completions; the completion's own prompt is unchanged.
  let freshPlain = 0, freshMonitored = 0, freshWaiting = 0;
  const freshTriggers: Record<string, number> = {};
  const speculation = { decoded: 0, kept: 0, rollbacks: 0 };
  const rows = [];
  const triggers: Record<string, number> = {};
  try {
    for (const site of sites) {
      const file = path.join(FIX, site.file);
      const text = fs.readFileSync(file, 'utf8');
      const offset = text.indexOf(site.needle) + site.needle.length;
      const req = { file, languageId: site.languageId, prefix: text.slice(0, offset), suffix: text.slice(offset), maxTokens: 16, temperature: 0, cache: 'none' as const };
      await withMonitor.warm({ file, languageId: site.languageId, text });
      // The server's first answers at a site are reported above (servers); keep them out of this ratio:
      // one whole completion first, so that every trigger of the measured ones has been asked once.
      await withMonitor.complete(req);
      for (let r = 0; r < (quick ? 2 : 4); r++) {
        // Interleaved: unmonitored, monitored decoding ahead of the server's answer (speculate: true), and
        // monitored waiting for each answer as shipped (speculate: false) — same output.
        const a = await without.complete(req);
        const [b, c] = r % 2 === 0
          ? [await withMonitor.complete({ ...req, speculate: true }), await withMonitor.complete({ ...req, speculate: false })]
          : [...[await withMonitor.complete({ ...req, speculate: false }), await withMonitor.complete({ ...req, speculate: true })].reverse()];
        if (c.text !== b.text) throw new Error(`decoding ahead changed the output at ${site.file} @ ${site.needle}: ${JSON.stringify(b.text)} vs ${JSON.stringify(c.text)}`);
        for (const t of b.monitor?.triggers ?? []) triggers[t.outcome] = (triggers[t.outcome] ?? 0) + 1;
        for (const k of ['decoded', 'kept', 'rollbacks'] as const) speculation[k] += b.speculation?.[k] ?? 0;
        plain += a.msTotal; monitored += b.msTotal; waiting += c.msTotal;
        if (r === 0) rows.push({ site: `${site.file} @ ${site.needle}`, plainMs: +a.msTotal.toFixed(1), monitoredMs: +b.msTotal.toFixed(1), waitingMs: +c.msTotal.toFixed(1), plain: a.text, monitored: b.text });
      }
      const scratch = path.join(path.dirname(file), site.languageId === 'python' ? 'bench_scratch.py' : 'benchScratch.ts');
      let version = 1;
      withMonitor.documents.open({ filePath: scratch, languageId: site.languageId, version, text: '', workspaceRoot: path.dirname(file) });
      const keystroke = () => withMonitor.documents.change(scratch, ++version, [{ offset: 0, length: 0, text: ' ' }]);
      for (let r = 0; r < (quick ? 2 : 4); r++) {
        const a = await without.complete(req);
        const fresh = async (speculate: boolean) => {
          keystroke();
          return withMonitor.complete({ ...req, speculate });
        };
        const [b, c] = r % 2 === 0 ? [await fresh(true), await fresh(false)] : [...[await fresh(false), await fresh(true)].reverse()];
        if (c.text !== b.text) throw new Error(`decoding ahead changed the output at ${site.file} @ ${site.needle}: ${JSON.stringify(b.text)} vs ${JSON.stringify(c.text)}`);
        for (const t of b.monitor?.triggers ?? []) freshTriggers[t.outcome] = (freshTriggers[t.outcome] ?? 0) + 1;
        for (const k of ['decoded', 'kept', 'rollbacks'] as const) speculation[k] += b.speculation?.[k] ?? 0;
        freshPlain += a.msTotal; freshMonitored += b.msTotal; freshWaiting += c.msTotal;
      }
      withMonitor.documents.close(scratch);
    }
  } finally {
    await without.dispose();
    await withMonitor.dispose();
  }
  const stats = service.statistics();
  // ratio: as shipped (waiting for each answer); speculatingRatio: decoding ahead of the answers.
  return {
    ratio: +(waiting / plain).toFixed(3), speculatingRatio: +(monitored / plain).toFixed(3),
    freshRatio: +(freshWaiting / freshPlain).toFixed(3), freshSpeculatingRatio: +(freshMonitored / freshPlain).toFixed(3), freshTriggers,
    speculation, rows, triggers, stats: { triggers: stats.triggers, maskedSteps: stats.maskedSteps, argmaxChanged: stats.argmaxChanged, fastForwards: stats.fastForwards, forcedTokens: stats.forcedTokens, forwardPassesSaved: stats.forwardPassesSaved, cacheHits: stats.cacheHits, timeouts: stats.timeouts } };
}

async function main() {
  const model = await CodeModel.load(defaultModelDir);
  const real = TokenIndex.for(model.tokenizer);
  const unique = new Set<string>();
  while (unique.size < 500) unique.add(ident() + (rand() < 0.3 ? String(unique.size) : ''));
  const candidates = [...unique];
  const maskShipped = maskBench(real, candidates);
  const mask32k = maskBench(syntheticIndex(real, 32768), candidates);
  const servers: Record<string, unknown> = {};
  for (const name of ['typescript7', 'typescript-language-server', 'pyright'] as const) servers[name] = await serverBench(name);
  const latency = await latencyBench(model);
  await model.dispose();
  const maskNarrowing32k = maskBench(syntheticIndex(real, 32768), candidates, true);
  const result = { mask: mask32k, maskShipped, maskNarrowing32k, servers, latencyRatio: latency.ratio, speculatingLatencyRatio: latency.speculatingRatio, freshLatencyRatio: latency.freshRatio, freshSpeculatingLatencyRatio: latency.freshSpeculatingRatio, latency };
  console.table([{ what: 'mask (shipped)', ...maskShipped }, { what: 'mask (32k synthetic)', ...mask32k }, { what: 'mask, narrowing steps (32k)', ...maskNarrowing32k }]);
  console.table(Object.entries(servers).map(([k, v]) => ({ server: k, ...(v as object) })));
  console.table(latency.rows.map(({ site, plainMs, monitoredMs, waitingMs, plain, monitored }) => ({ site, plainMs, monitoredMs: waitingMs, speculatingMs: monitoredMs, plain: JSON.stringify(plain), monitored: JSON.stringify(monitored) })));
  console.log(`monitored / unmonitored (as shipped: waiting for each answer), answers cached: ${latency.ratio} (decoding ahead: ${latency.speculatingRatio}); fresh answers: ${latency.freshRatio} (decoding ahead: ${latency.freshSpeculatingRatio}; triggers ${JSON.stringify(latency.freshTriggers)}); decoded ahead ${latency.speculation.decoded}, kept ${latency.speculation.kept}, rollbacks ${latency.speculation.rollbacks}`);
  console.log(JSON.stringify(result, null, 2));
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(result, null, 2));
}

main().catch((err) => { console.error(err); process.exit(1); });
