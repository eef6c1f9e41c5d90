// npm run demo -- [--model DIR] [--max-tokens N] [--json] [--monitor-timeout MS] [--left]
// On the bundled sample project (demo-project/):
//  1. completes several positions (most after `obj.`) with the default model, WITHOUT and WITH the
//     language monitor, and says whether each completion names a real member (the server's own
//     completion list at that point). The rest of the cursor's line is hidden; the model fills it in,
//     with the rest of the file as the FIM suffix, as the extension does (--left: left context only).
//  2. types a few keystrokes in fill-in-the-middle mode and completes after each, with and without
//     PIE (KV-cache repositioning), printing the path taken, the tokens encoded and the time per key.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { itemIdentifier, type MonitorService } from '../language-monitor/index.js';
import { defaultModelDir, type CodeModel, type StopRule } from '../model/index.js';
import { parsePositiveInt, reportCliError } from './args.js';
import { type ReplayRecord, replayEdits } from './editReplay.js';
import { completeAt, languageIdFor, openEngine, prepareMonitor, summarizeReport, type CliEngine } from './monitored.js';

const projectDir = path.join(__dirname, 'demo-project');

/** Cursor right after `after` (first occurrence); positions are found by text, never by number. */
const sites: { file: string; after: string }[] = [
  { file: 'main.ts', after: 'cart.' },
  { file: 'main.ts', after: 'inventory.inStock().' },
  { file: 'main.ts', after: '(cart.' },
  { file: 'cart.ts', after: 'this.inventory.' },
  { file: 'cart.ts', after: 'line.product.' },
  { file: 'inventory.ts', after: 'return this.stock.' },
  { file: 'inventory.ts', after: 'this.products.' },
];

/** Keystrokes typed at the start of a line inside a method (FIM: the rest of the file is the suffix). */
const keystrokes = { file: 'cart.ts', cursorAfter: 'totalCents(): number {\n', keys: '    if (this.lin' };

const leadingIdentifier = (s: string): string => /^[\p{ID_Continue}$]*/u.exec(s)![0];
const r1 = (ms: number): number => Math.round(ms * 10) / 10;

function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset).split(/\r\n|\r|\n/);
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

interface Side {
  completion: string;
  identifier: string;
  /** The completion's leading identifier is in the server's completion list here (null: no list). */
  member: boolean | null;
  exact: boolean;
  tokens: number;
  msFirstToken: number;
  msTotal: number;
  monitor?: ReturnType<typeof summarizeReport>;
}

interface SiteResult {
  at: string;
  linePrefix: string;
  expected: string;
  members: number;
  promptTokens: number;
  without: Side;
  with: Side;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      'max-tokens': { type: 'string' },
      'monitor-timeout': { type: 'string' },
      json: { type: 'boolean', default: false },
      left: { type: 'boolean', default: false },
    },
  });
  const maxTokens = parsePositiveInt('--max-tokens', values['max-tokens'], 16);
  const timeoutMs = parsePositiveInt('--monitor-timeout', values['monitor-timeout'], 300);
  const stop: StopRule[] = [{ kind: 'eos' }, { kind: 'endOfLine' }];
  const t0 = performance.now();
  let cli: CliEngine | undefined;
  const results: SiteResult[] = [];
  let replay: { pie: ReplayRecord[]; full: ReplayRecord[] } | undefined;
  let loadMs = 0;
  let serverMs = 0;
  try {
    cli = await openEngine({ modelDir: values.model ?? defaultModelDir, monitor: true, monitorTimeoutMs: timeoutMs });
    loadMs = performance.now() - t0;
    const { engine, monitor } = cli;
    const model = cli.model;
    // The demo waits for the TypeScript server to read the project (the editor never waits for it).
    const files = [...new Set(sites.map((s) => s.file))];
    await Promise.all(files.map((f) => { const p = path.join(projectDir, f); return prepareMonitor(engine, p, fs.readFileSync(p, 'utf8')); }));
    serverMs = performance.now() - t0;

    for (const site of sites) {
      const file = path.join(projectDir, site.file);
      const original = fs.readFileSync(file, 'utf8');
      const at = original.indexOf(site.after);
      if (at < 0) throw new Error(`demo site "${site.after}" not found in ${site.file}`);
      const offset = at + site.after.length;
      const eol = original.slice(offset).search(/\r?\n|$/);
      const expected = original.slice(offset, offset + eol);
      const text = original.slice(0, offset) + original.slice(offset + eol); // the rest of the line hidden
      const { line, col } = lineCol(text, offset);
      const members = await serverMembers(monitor!, file, text, offset);

      const side = async (withMonitor: boolean): Promise<Side> => {
        // No cache shared between the two sides: each computes its prompt in full.
        const result = await completeAt(engine, { file, text, offset }, { maxTokens, stop, temperature: 0, heal: true, fim: !values.left, monitor: withMonitor, cache: 'none' });
        const identifier = leadingIdentifier(result.text);
        return {
          completion: result.text,
          identifier,
          member: members ? members.has(identifier) : null,
          exact: result.text.trim() === expected.trim(),
          tokens: result.tokens.length,
          msFirstToken: r1(result.msFirstToken),
          msTotal: r1(result.msTotal),
          ...(withMonitor ? { monitor: summarizeReport(result.monitor) } : {}),
        };
      };
      const without = await side(false);
      const withMonitor = await side(true);
      const prompt = model.buildPrompt(text.slice(0, offset), text.slice(offset), { maxTokens, heal: true, noFim: values.left });
      results.push({
        at: `${site.file}:${line}:${col}`,
        linePrefix: text.slice(text.lastIndexOf('\n', offset - 1) + 1, offset).trimStart(),
        expected, members: members?.size ?? 0, promptTokens: prompt.ids.length, without, with: withMonitor,
      });
    }

    const ks = path.join(projectDir, keystrokes.file);
    const source = fs.readFileSync(ks, 'utf8');
    const cursor = source.indexOf(keystrokes.cursorAfter) + keystrokes.cursorAfter.length;
    const run = async (pie: boolean): Promise<ReplayRecord[]> => {
      const out: ReplayRecord[] = [];
      for await (const r of replayEdits(engine, source, cursor, [{ keys: keystrokes.keys }], { pie, maxTokens: 6, stop, heal: true, documentId: ks, fimOrder: 'psm' })) out.push(r);
      return out;
    };
    replay = { pie: await run(true), full: await run(false) };
  } finally {
    await cli?.dispose();
  }
  print(values.json, !values.left, cli!.model, loadMs, serverMs, results, replay!, performance.now() - t0);
}

/** Identifiers the server offers at `offset` (its completion list), or undefined when it gave none. */
async function serverMembers(monitor: MonitorService, file: string, text: string, offset: number): Promise<Set<string> | undefined> {
  const languageId = languageIdFor(file)!;
  const uri = pathToFileURL(file).href;
  const session = monitor.sessionFor(languageId, uri);
  if (!session) return undefined;
  session.openDocument(uri, languageId, text);
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  const answer = await session.completion(uri, { line, character: offset - (before.lastIndexOf('\n') + 1) }, 10_000);
  if (answer.outcome !== 'ok' || !answer.items) return undefined;
  return new Set(answer.items.map(itemIdentifier).filter((x): x is string => !!x));
}

function summarizeReplay(records: readonly ReplayRecord[]) {
  const keys = records.slice(1); // the first completion opens the document
  const mean = (f: (r: ReplayRecord) => number) => r1(keys.reduce((s, r) => s + f(r), 0) / Math.max(1, keys.length));
  return {
    keystrokes: keys.length,
    paths: Object.fromEntries([...new Set(keys.map((r) => r.path))].map((p) => [p, keys.filter((r) => r.path === p).length])),
    encodedTokens: keys.reduce((s, r) => s + r.encodedTokens, 0),
    meanReadyMs: mean((r) => r.firstTokenMs),
    meanTotalMs: mean((r) => r.totalMs),
  };
}

function print(json: boolean, fim: boolean, model: CodeModel, loadMs: number, serverMs: number, results: SiteResult[], replay: { pie: ReplayRecord[]; full: ReplayRecord[] }, totalMs: number): void {
  const pie = summarizeReplay(replay.pie);
  const full = summarizeReplay(replay.full);
  const count = (k: 'without' | 'with', f: (s: Side) => boolean) => results.filter((r) => f(r[k])).length;
  const summary = {
    sites: results.length,
    memberWithout: count('without', (s) => s.member === true),
    memberWith: count('with', (s) => s.member === true),
    exactWithout: count('without', (s) => s.exact),
    exactWith: count('with', (s) => s.exact),
  };
  const keystrokeRows = (rs: ReplayRecord[]) => rs.map((r) => ({ edit: r.edit, path: r.path, reason: r.reason, encodedTokens: r.encodedTokens, promptTokens: r.promptTokens, readyMs: r1(r.firstTokenMs), totalMs: r1(r.totalMs), completion: r.completion }));
  if (json) {
    console.log(JSON.stringify({
      model: model.dir, format: fim && model.fim ? `fim:${model.fim.family}` : 'plain', loadMs: Math.round(loadMs), serverReadyMs: Math.round(serverMs),
      results, summary,
      keystrokes: { file: keystrokes.file, keys: keystrokes.keys, pie: { ...pie, rows: keystrokeRows(replay.pie) }, noPie: { ...full, rows: keystrokeRows(replay.full) } },
      totalMs: Math.round(totalMs),
    }, null, 2));
    return;
  }
  const mark = (s: Side) => (s.member === null ? '?' : s.member ? '✓ member' : s.identifier ? '✗ no such member' : '✗ no identifier');
  const q = (s: string, w: number) => { const t = JSON.stringify(s); return t.length > w ? t.slice(0, w - 1) + '…' : t.padEnd(w); };
  console.log(`TypeGuide demo: ${model.name} (FIM: ${model.fim ? model.fim.family : 'none'}), model loaded in ${Math.round(loadMs)} ms, TypeScript server ready in ${Math.round(serverMs)} ms\n`);
  console.log(`1. Completions without and with the monitor (greedy, ${fim ? 'fill-in-the-middle' : 'left to right'}; the rest of the line is hidden; ✓ = the server lists it here)\n`);
  for (const r of results) {
    const m = r.with.monitor!;
    console.log(`${r.at}  ${r.linePrefix}▮   (expected ${JSON.stringify(r.expected)}, ${r.members} members)`);
    console.log(`  without monitor: ${q(r.without.completion, 34)} ${mark(r.without).padEnd(17)} ${String(r.without.msTotal).padStart(6)} ms`);
    console.log(`  with monitor:    ${q(r.with.completion, 34)} ${mark(r.with).padEnd(17)} ${String(r.with.msTotal).padStart(6)} ms  ` +
      `(${m.triggers.length} trigger${m.triggers.length === 1 ? '' : 's'} ${JSON.stringify(m.byOutcome)}, server ${m.serverMsP50 ?? '-'} ms, ${m.maskedSteps} masked steps, ${m.changed} changed, ${m.forcedTokens} forced tokens)`);
  }
  console.log(`\nreal members: ${summary.memberWithout}/${summary.sites} without the monitor, ${summary.memberWith}/${summary.sites} with it; exact line: ${summary.exactWithout} → ${summary.exactWith}\n`);

  console.log(`2. Keystrokes ${JSON.stringify(keystrokes.keys)} in ${keystrokes.file} (fill-in-the-middle, PSM layout as Qwen/DeepSeek/StarCoder prompt it), completing after each: with PIE | without\n`);
  console.log(' key    PIE: path  enc/prompt   ready ms | no PIE: path  enc/prompt   ready ms | completion (PIE)');
  for (let i = 1; i < replay.pie.length; i++) {
    const a = replay.pie[i];
    const b = replay.full[i];
    const cell = (r: ReplayRecord) => `${r.path.padEnd(6)} ${`${r.encodedTokens}/${r.promptTokens}`.padStart(9)} ${r1(r.firstTokenMs).toFixed(1).padStart(9)}`;
    console.log(` ${JSON.stringify(a.edit.replace(/^key /, '').slice(1, -1)).padEnd(5)}  ${cell(a)} |        ${cell(b)} | ${JSON.stringify(a.completion.split('\n')[0])}`);
  }
  console.log(`\nper keystroke: PIE ${pie.meanReadyMs} ms to logits, ${pie.encodedTokens} tokens encoded in all; without PIE ${full.meanReadyMs} ms, ${full.encodedTokens} tokens` +
    ` (${full.meanReadyMs > 0 ? (full.meanReadyMs / Math.max(pie.meanReadyMs, 0.1)).toFixed(1) : '-'}x)`);
  console.log(`demo took ${(totalMs / 1000).toFixed(1)} s`);
}

main().catch(reportCliError);
