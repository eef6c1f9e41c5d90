// Benchmark of trigger detection on a long real file: the time of each `detect` call that reaches the
// parser while a completion is "generated" (the file's own next characters appended a few at a time
// after a cursor), with a fresh parse per call (before) and incremental reparsing (after). Both see the
// same calls; the detection results are compared. Prints JSON and a table.
// Usage: npx tsx bench/triggerParse.ts [FILE.ts] [--json OUT]
import fs from 'node:fs';
import path from 'node:path';
import { TriggerDetector } from '../language-monitor/triggers.js';

const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const file = args.find((a) => a.endsWith('.ts')) ?? path.resolve(__dirname, '../node_modules/@azure/msal-browser/src/controllers/StandardController.ts');
const text = fs.readFileSync(file, 'utf8');
const CURSORS = 24;
const GENERATED = 240; // characters generated after each cursor
const STEP = 3; // characters per "token"

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

void (async () => {
  const full = await TriggerDetector.create({ incremental: false });
  const incremental = await TriggerDetector.create();
  const times = { full: [] as number[], incremental: [] as number[] };
  let calls = 0;
  let mismatches = 0;
  let triggers = 0;
  for (let c = 0; c < CURSORS; c++) {
    // Cursors spread over the second half of the file, where the prefix is long.
    const cursor = Math.floor(text.length * (0.5 + (0.5 * c) / CURSORS));
    for (let n = 0; n <= GENERATED; n += STEP) {
      const prefix = text.slice(0, cursor + n);
      if (!TriggerDetector.mightTrigger(prefix, false)) continue;
      const suffix = text.slice(cursor + n);
      calls++;
      let t0 = performance.now();
      const a = full.detect('typescript', prefix, suffix);
      times.full.push(performance.now() - t0);
      t0 = performance.now();
      const b = incremental.detect('typescript', prefix, suffix);
      times.incremental.push(performance.now() - t0);
      if (JSON.stringify(a) !== JSON.stringify(b)) mismatches++;
      if (a) triggers++;
    }
  }
  full.dispose();
  incremental.dispose();
  const row = (xs: number[]) => ({ meanMs: +(xs.reduce((s, x) => s + x, 0) / xs.length).toFixed(2), p50Ms: +pct(xs, 50).toFixed(2), p95Ms: +pct(xs, 95).toFixed(2) });
  const result = { file: path.relative(process.cwd(), file), lines: text.split('\n').length, chars: text.length, detectCalls: calls, triggers, mismatches, fresh: row(times.full), incremental: row(times.incremental) };
  console.log(JSON.stringify(result, null, 2));
  console.log(`\n| detection | mean ms | p50 ms | p95 ms |\n|---|---|---|---|`);
  for (const [name, r] of [['fresh parse (before)', result.fresh], ['incremental (after)', result.incremental]] as const) console.log(`| ${name} | ${r.meanMs} | ${r.p50Ms} | ${r.p95Ms} |`);
  console.log(`\n${result.lines} lines, ${calls} detect calls that parse, ${triggers} triggers, ${mismatches} results differ`);
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(result, null, 2));
})();
