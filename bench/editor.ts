// npm run bench:editor -- [--package NAME@VERSION] [--files 4] [--sites-per-file 4] [--storm-seconds 60]
//   [--cap-ms 10000] [--seed 1] [--json docs/bench-editor/last.json] [--keep] [--log-level debug (diagnosis)]
//   [--skip-baseline]
// TypeGuide as a user meets it: the packaged VSIX in code-server (VS Code 1.139) driven through Chromium
// (as test/e2e/editor.test.ts does), default TypeGuide settings, a real package from
// shared/eval/dev-packages.txt with its dependencies installed as the workspace (a temporary copy;
// files.autoSave off and nothing is ever saved). It measures, with the page's own clock:
//  - dereference sites across several files, visited as a person hops between files: at each, the text
//    after `receiver.` is deleted with the dot, the dot retyped, and the time from its keydown to the
//    first ghost text in the DOM taken (capped; nothing within the cap is "no suggestion"), then the
//    same after two letters of the member typed on;
//  - a typing storm: real statement lines of the package retyped in place at ~10 characters/s with
//    pauses ≥300 ms between words and lines; pauses with a suggestion, stale ghost texts;
//  - RSS of the extension host and of TypeGuide's language servers (/proc, code-server's process tree)
//    at start, after the sites, after the storm; the extension host's event-loop delay from Show Statistics;
//  - the same RSS in a baseline session first: VS Code alone (no TypeGuide installed) driven through the
//    same sites and storm, so TypeGuide's share of the extension host is its growth above VS Code's own
//    under the same typing (--skip-baseline leaves it out).
// Prints one JSON object and a table; writes the JSON (default docs/bench-editor/last.json).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CODE_SERVER_VERSION, REPO_ROOT } from '../test/e2e/installVsCode.js';
import { distribution, firstGhostAfter, pauseOutcomes, staleGhosts, typingRate, type Pause } from './editor/analysis.js';
import { ensureVsCode, extensionHostLog, packageVsix, startEditor, typeGuideLog, type EditorSession } from './editor/codeServer.js';
import { Workbench, sleep } from './editor/driver.js';
import type { GhostRecord } from './editor/pageProbe.js';
import { chooseSites, classFiles, installFromDevList, makeWorkspace, stormChunks, type EditorSite } from './editor/fixture.js';
import { formatTable } from './editor/report.js';
import { sampleMemory, type MemorySample } from './editor/procTree.js';
import { Rng } from './mgd/random.js';

/** Idle time before the last memory sample (longer than the engine's 1 s idle trim). */
const IDLE_MS = 3000;

const { values: args } = parseArgs({
  options: {
    package: { type: 'string', default: 'prosemirror-model@1.25.13' },
    files: { type: 'string', default: '4' },
    'sites-per-file': { type: 'string', default: '4' },
    'storm-seconds': { type: 'string', default: '60' },
    'cap-ms': { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string', default: path.join(REPO_ROOT, 'docs', 'bench-editor', 'last.json') },
    keep: { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    // Diagnosis only: the TypeGuide output channel's level (the measured runs keep the default).
    'log-level': { type: 'string' },
    // A/B runs: `--setting typeguide.context.enabled=false` (repeatable; JSON values). Recorded in the result.
    setting: { type: 'string', multiple: true, default: [] },
  },
});
/** TypeGuide settings this run changes from their defaults (--setting KEY=JSON, and --log-level). */
const TYPEGUIDE_OVERRIDES: Record<string, unknown> = Object.fromEntries([
  ...(args.setting ?? []).map((kv): [string, unknown] => {
    const eq = kv.indexOf('=');
    if (eq < 0 || !kv.startsWith('typeguide.')) throw new Error(`--setting ${kv}: expected typeguide.KEY=VALUE`);
    const raw = kv.slice(eq + 1);
    let value: unknown = raw;
    try { value = JSON.parse(raw); } catch { /* a plain string */ }
    return [kv.slice(0, eq), value];
  }),
  ...(args['log-level'] ? [['typeguide.logLevel', args['log-level']] as [string, unknown]] : []),
]);
const CAP_MS = Number(args['cap-ms']);
const STORM_MS = Number(args['storm-seconds']) * 1000;
const SEED = Number(args.seed);
const CACHE = path.join(REPO_ROOT, '.cache', 'bench-editor');
const DEV_LIST = path.resolve(REPO_ROOT, '..', 'shared', 'eval', 'dev-packages.txt');
/** Target time per typed character (10 characters/s). */
const CHAR_MS = 100;
const log = (m: string): void => console.error(`[bench:editor] ${m}`);
const load = (): number[] => os.loadavg().map((l) => Math.round(l * 100) / 100);

/** VS Code settings for scripted typing; TypeGuide's own settings stay at their defaults. */
const USER_SETTINGS = {
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  // The fixture is a temporary copy that must never be written: the browser would save it on focus changes.
  'files.autoSave': 'off',
  'files.hotExit': 'off',
  // The suggest widget would take Enter and change what is typed; ghost text is what is measured.
  'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
  'editor.suggestOnTriggerCharacters': false,
  'editor.acceptSuggestionOnEnter': 'off',
  'editor.inlineSuggest.enabled': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
};

interface SiteResult {
  site: string;
  /** Wall-clock time of the dot (to find it in the TypeGuide log). */
  at?: string;
  receiver: string;
  authorsMember: string;
  /** The ghost text the deletion's own request showed before the dot (dismissed), if any. */
  preDotGhost: string | null;
  msToGhost: number | null;
  firstGhost: string | null;
  settledGhost: string | null;
  /** Every distinct ghost text shown from the dot to the end of settling, in order. */
  ghostsSeen: string[];
  /** The settled ghost text starts with the member the authors wrote. */
  authorsMemberFirst: boolean;
  /** Two letters of the member typed after the dot (null for a shorter member), and the time from the second to a ghost text. */
  typedPrefix: string | null;
  msToGhostAfterPrefix: number | null;
  ghostAfterPrefix: string | null;
  /** Ghost texts shown after the dot that do not continue the line (see analysis.staleGhosts). */
  stale: { rule: string; before: string; ghost: string }[];
  /** With a ghost text: whether the probe read the text before it as the line up to the dot. */
  beforeAsExpected?: boolean;
  beforeRead?: string;
  /** Without one: whether VS Code showed an inline edit instead. */
  inlineEditShown?: boolean;
  note?: string;
}

function beforeCheck(r: GhostRecord, expected: string): Pick<SiteResult, 'beforeAsExpected' | 'beforeRead'> {
  // A suggestion that starts on the next line has no inline part: nothing before it to read.
  if (r.ghost === '') return {};
  const ok = r.before.trimStart() === expected.trimStart();
  return ok ? { beforeAsExpected: true } : { beforeAsExpected: false, beforeRead: r.before };
}

async function runSite(wb: Workbench, site: EditorSite, shotDir: string | undefined, capMs = CAP_MS): Promise<SiteResult> {
  const { page } = wb;
  const base: Pick<SiteResult, 'site' | 'receiver' | 'authorsMember'> = {
    site: `${site.file}:${site.line}:${site.dotColumn}`, receiver: site.receiver, authorsMember: site.member,
  };
  await wb.openFile(site.file);
  await wb.goTo(site.line, site.dotColumn);
  await sleep(600); // a person reads before typing
  // Delete from the dot to the end of the line, then retype the dot.
  await page.keyboard.press('Shift+End');
  await page.keyboard.press('Delete');
  // The deletion itself asks for a suggestion: let it come and dismiss it, so that the dot starts from
  // a line without ghost text: none shown for 1.2 s in a row (at most 6 s).
  let preDot: string | undefined;
  for (let quietSince = Date.now(), deadline = Date.now() + 6000; Date.now() < deadline && Date.now() - quietSince < 1200; await sleep(200)) {
    const c = await wb.current();
    if (c.ghost.trim() !== '' || c.more.trim() !== '') {
      preDot ??= c.more ? `${c.ghost}\n${c.more}` : c.ghost;
      await wb.dismissGhost();
      quietSince = Date.now();
    }
  }
  const line = await wb.cursorLine();
  const note = line !== null && line.trimEnd() !== site.lineText.slice(0, site.dotColumn - 1).trimEnd() ? `line before the dot reads ${JSON.stringify(line)}` : undefined;
  const from = await wb.marks();
  const at = new Date().toISOString(); // to find the site in the TypeGuide log
  await page.keyboard.type('.');
  await wb.waitForGhostAfterKey(from, '.', capMs);
  const dump = await wb.dump(from);
  const key = dump.keys.find((k) => k.key === '.');
  const first = key ? firstGhostAfter(dump.ghosts, key.t, capMs) : undefined;
  let settled: string | null = null;
  if (first) {
    // Streaming extends the text: wait until it has not changed for 1 s (at most 4 s).
    let last = '';
    for (let stable = 0, t0 = Date.now(); stable < 4 && Date.now() - t0 < 4000; await sleep(250)) {
      const c = await wb.current();
      const text = c.more ? `${c.ghost}\n${c.more}` : c.ghost;
      stable = text === last ? stable + 1 : 0;
      last = text;
    }
    settled = last;
  }
  // Every distinct ghost text shown at the site from the dot to the end of settling (does it grow?).
  const seen = first ? [...new Set((await wb.dump(from)).ghosts.filter((g) => g.ghost || g.more).map((g) => (g.more ? `${g.ghost}\n${g.more}` : g.ghost)))] : [];
  const inlineEdit = first ? false : await wb.inlineEditShown();
  if (!first && shotDir) await page.screenshot({ path: path.join(shotDir, `no-suggestion-${site.file.replace(/\W+/g, '_')}-${site.line}.png`) }).catch(() => undefined);
  // Then two letters of the authors' member, as a person goes on typing (`.se`).
  const prefix = site.member.slice(0, 2);
  let afterPrefix: { ms: number; record: { ghost: string } } | undefined;
  if (prefix.length === 2) {
    const fromPrefix = await wb.marks();
    await page.keyboard.type(prefix, { delay: CHAR_MS });
    await wb.waitForGhostAfterKey(fromPrefix, prefix[1], capMs, 'last');
    const d = await wb.dump(fromPrefix);
    const k = d.keys.filter((x) => x.key === prefix[1]).at(-1);
    afterPrefix = k ? firstGhostAfter(d.ghosts.filter((g) => g.before.endsWith(`.${prefix}`)), k.t, capMs) : undefined;
  }
  const after = key ? (await wb.dump(from)).ghosts.filter((g) => g.t > key.t) : [];
  const stale = staleGhosts(after);
  // Put the line back as it was (Escape, then undo the typing and the deletion).
  await page.keyboard.press('Escape');
  for (let i = 0; i < 6 && (await wb.cursorLine())?.trimEnd() !== site.lineText.trimEnd(); i++) {
    await page.keyboard.press('Control+Z');
    await sleep(150);
  }
  const restored = (await wb.cursorLine())?.trimEnd() === site.lineText.trimEnd();
  const ghostText = first ? (first.record.more ? `${first.record.ghost}\n${first.record.more}` : first.record.ghost) : null;
  return {
    ...base,
    at,
    preDotGhost: preDot ?? null,
    msToGhost: first ? Math.round(first.ms) : null,
    firstGhost: ghostText,
    settledGhost: settled,
    ghostsSeen: seen,
    authorsMemberFirst: settled !== null && settled.startsWith(site.member) && !/[\w$]/.test(settled[site.member.length] ?? ''),
    typedPrefix: prefix.length === 2 ? prefix : null,
    msToGhostAfterPrefix: afterPrefix ? Math.round(afterPrefix.ms) : null,
    ghostAfterPrefix: afterPrefix ? afterPrefix.record.ghost : null,
    stale: stale.map((g) => ({ rule: g.rule, before: g.before, ghost: g.ghost })),
    // The probe's reading of the line before the ghost text must be the line up to the typed dot.
    ...(first ? beforeCheck(first.record, `${site.lineText.slice(0, site.dotColumn - 1)}.`) : { inlineEditShown: inlineEdit }),
    ...(note || !restored ? { note: [note, restored ? undefined : 'line not restored by undo'].filter(Boolean).join('; ') } : {}),
  };
}

interface StormResult {
  seconds: number;
  chunks: string[];
  keys: number;
  charactersPerSecondWhileTyping: number;
  pauses: number;
  pausesWithSuggestion: number;
  pausesWithSuggestionAtEnd: number;
  pauseMsToGhost: ReturnType<typeof distribution>;
  pauseDurationMs: ReturnType<typeof distribution>;
  /** After the last key of the storm, the time to a ghost text (null: none within the cap). */
  msToGhostAfterTypingStops: number | null;
  ghostStatesSeen: number;
  staleGhostTexts: number;
  staleByRule: Record<string, number>;
  staleExamples: { rule: string; before: string; ghost: string; earlierBefore?: string }[];
  pausesWithoutSuggestion: { durationMs: number; typedBefore: string }[];
}


async function runStorm(wb: Workbench, chunks: ReturnType<typeof stormChunks>, rng: Rng, rawDir: string | undefined, capMs = CAP_MS): Promise<StormResult> {
  const { page } = wb;
  const start = await wb.marks();
  const pauses: Pause[] = [];
  const pauseAt: number[] = []; // index of the first key after each pause
  const pauseKeys: number[] = []; // pauseAt of each entry of `pauses`
  const t0 = Date.now();
  const used: string[] = [];
  let keyDelay = CHAR_MS * 0.8;
  // A pause of min..max ms in the page: from the last keydown (`sinceKey` ms ago) to the next one.
  const pause = async (min: number, max: number, sinceKey: number): Promise<void> => {
    pauseAt.push((await wb.marks()).keys - start.keys);
    await sleep(Math.max(0, min + rng.next() * (max - min) - sinceKey));
  };
  typing: for (const chunk of chunks) {
    if (Date.now() - t0 >= STORM_MS) break;
    used.push(`${chunk.file}:${chunk.line} (${chunk.lines.length} lines)`);
    await wb.openFile(chunk.file);
    await wb.goTo(chunk.line, chunk.indent.length + 1);
    for (let i = 1; i < chunk.lines.length; i++) await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+End');
    await page.keyboard.press('Delete');
    await pause(500, 700, 0);
    for (const [i, text] of chunk.lines.entries()) {
      if (i > 0) {
        await page.keyboard.press('Enter'); // auto-indent keeps the chunk's indentation
        await pause(400, 700, 0);
      }
      const words = text.split(/(?<= )/);
      for (const [w, word] of words.entries()) {
        // Playwright waits `delay` between keydown and keyup; its round trips add to that, more on a
        // loaded machine: adjust the delay so that characters come at CHAR_MS.
        const t = Date.now();
        await page.keyboard.type(word, { delay: keyDelay });
        const perChar = (Date.now() - t) / word.length;
        keyDelay = Math.min(CHAR_MS, Math.max(20, keyDelay + (CHAR_MS - perChar) * 0.5));
        const endOfLine = w === words.length - 1;
        await pause(endOfLine ? 400 : 300, endOfLine ? 700 : 450, keyDelay);
        if (Date.now() - t0 >= STORM_MS) break typing;
      }
    }
  }
  const endOfTyping = (await wb.marks()).now;
  // Then the person stops: how long until a suggestion shows (capped like the sites).
  for (const deadline = Date.now() + capMs; Date.now() < deadline; await sleep(200)) {
    const c = await wb.current();
    if (c.ghost.trim() !== '' || c.more.trim() !== '') break;
  }
  const dump = await wb.dump(start);
  if (rawDir) fs.writeFileSync(path.join(rawDir, 'storm-probe.json'), JSON.stringify(dump));
  await page.keyboard.press('Escape');
  for (const at of pauseAt) {
    const before = dump.keys[at - 1];
    const after = dump.keys[at];
    if (before) {
      pauses.push({ start: before.t, end: after?.t ?? endOfTyping });
      pauseKeys.push(at);
    }
  }
  const lastKeyT = dump.keys.at(-1)?.t;
  const afterStop = lastKeyT === undefined ? undefined : firstGhostAfter(dump.ghosts, lastKeyT, capMs);
  const outcomes = pauseOutcomes(pauses, dump.ghosts);
  const stale = staleGhosts(dump.ghosts);
  const byRule: Record<string, number> = {};
  for (const s of stale) byRule[s.rule] = (byRule[s.rule] ?? 0) + 1;
  return {
    seconds: Math.round((endOfTyping - (dump.keys[0]?.t ?? endOfTyping)) / 100) / 10,
    chunks: used,
    keys: dump.keys.length,
    charactersPerSecondWhileTyping: typingRate(dump.keys, 300),
    pauses: outcomes.length,
    pausesWithSuggestion: outcomes.filter((o) => o.suggested).length,
    pausesWithSuggestionAtEnd: outcomes.filter((o) => o.shownAtEnd).length,
    pauseMsToGhost: distribution(outcomes.flatMap((o) => (o.msToGhost === undefined ? [] : [o.msToGhost]))),
    pauseDurationMs: distribution(outcomes.map((o) => o.durationMs)),
    msToGhostAfterTypingStops: afterStop ? Math.round(afterStop.ms) : null,
    ghostStatesSeen: dump.ghosts.filter((g) => g.ghost.trim() !== '' || g.more.trim() !== '').length,
    staleGhostTexts: stale.length,
    staleByRule: byRule,
    staleExamples: stale.slice(0, 8).map((s) => ({ rule: s.rule, before: s.before, ghost: s.ghost, ...(s.earlierBefore !== undefined ? { earlierBefore: s.earlierBefore } : {}) })),
    // The pauses that showed nothing: the keys typed just before each (to find them in a debug log).
    pausesWithoutSuggestion: outcomes.flatMap((o, i) => (o.suggested ? [] : [{
      durationMs: o.durationMs,
      typedBefore: dump.keys.slice(Math.max(0, pauseKeys[i] - 24), pauseKeys[i]).map((k) => (k.key.length === 1 ? k.key : `<${k.key}>`)).join(''),
    }])),
  };
}

/** Show Statistics' table rows (label → value), read from the TypeGuide log where the command writes it. */
async function extensionStatistics(wb: Workbench, session: EditorSession): Promise<Record<string, string> | undefined> {
  const before = typeGuideLog(session.userDir).length;
  await wb.runCommand('TypeGuide: Show Statistics');
  const deadline = Date.now() + 10_000;
  let report: string | undefined;
  while (Date.now() < deadline && report === undefined) {
    await sleep(250);
    const text = typeGuideLog(session.userDir);
    report = /# TypeGuide statistics.*$/m.exec(text.slice(Math.max(0, before - 1)))?.[0] ?? /# TypeGuide statistics.*$/m.exec(text)?.[0];
  }
  // The command opens an untitled document: close it without saving.
  await wb.page.locator('.editor-instance .view-lines', { hasText: 'TypeGuide statistics' }).waitFor({ state: 'visible', timeout: 10_000 }).catch(() => undefined);
  await wb.runCommand('View: Revert and Close Editor').catch(() => undefined);
  if (!report) return undefined;
  const rows: Record<string, string> = {};
  for (const m of report.matchAll(/\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*(?=\|)/g)) {
    if (!/^-+$/.test(m[1]) && m[1].trim() !== '') rows[m[1]] = m[2];
  }
  return rows;
}

function eventLoopDelay(stats: Record<string, string> | undefined): Record<string, unknown> {
  const row = stats && Object.entries(stats).find(([k]) => /event-loop delay/i.test(k));
  if (!row) return { skipped: 'Show Statistics reported no event-loop delay (the extension exposes it nowhere else)' };
  const nums = (v: string): number[] => [...v.matchAll(/([\d.]+) ms/g)].map((m) => Number(m[1]));
  const out: Record<string, unknown> = { source: 'TypeGuide: Show Statistics (perf_hooks in the extension host)' };
  for (const [k, v] of Object.entries(stats!).filter(([k]) => /event-loop delay|while generating/i.test(k))) {
    const [p50, p99, max] = nums(v);
    out[/while generating/i.test(k) ? 'whileGenerating' : 'all'] = { p50, p99, max, raw: v };
  }
  return out;
}

async function waitForLog(read: () => string, pattern: RegExp, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(250)) if (pattern.test(read())) return true;
  return false;
}

function gitState(): { commit: string; dirty: string[] } {
  const git = (a: string[]): string => execFileSync('git', a, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  try {
    return { commit: git(['rev-parse', 'HEAD']), dirty: git(['status', '--porcelain', '--', 'extension', 'engine', 'language-monitor', 'model', 'package.json']).split('\n').filter(Boolean) };
  } catch {
    return { commit: 'unknown', dirty: [] };
  }
}

/** The baseline session's waits: no ghost text can come, so the sites and the storm's end wait this long. */
const BASELINE_CAP_MS = 1500;
/** After opening the first file: about as long as the TypeGuide session waits for its model. */
const BASELINE_SETTLE_MS = 8000;

/**
 * VS Code alone (TypeGuide not installed) through the same sites and storm: the extension host's own
 * growth under this typing (its TypeScript extension, the documents, the editor's undo stacks), which
 * the TypeGuide session's growth is compared with.
 */
async function baselineSession(vscode: Awaited<ReturnType<typeof ensureVsCode>>, tmp: string, workspace: string, firstFile: string,
  sites: readonly EditorSite[], chunks: ReturnType<typeof stormChunks>): Promise<Record<string, MemorySample>> {
  const dir = path.join(tmp, 'baseline');
  fs.mkdirSync(dir, { recursive: true });
  log('baseline: VS Code alone through the same sites and storm');
  const session = await startEditor({ vscode, tmp: dir, workspace, userSettings: USER_SETTINGS, log });
  try {
    const wb = new Workbench(session.page);
    await session.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
    const memory: Record<string, MemorySample> = {};
    const sample = (): MemorySample => sampleMemory(session.serverPid, session.extensionFolder);
    if (await waitForLog(() => extensionHostLog(session.userDir), /Eager extensions activated/, 60_000)) memory.beforeOpen = sample();
    await wb.openFile(firstFile);
    await sleep(BASELINE_SETTLE_MS);
    await wb.installProbe();
    memory.start = sample();
    for (const site of sites) await runSite(wb, site, undefined, BASELINE_CAP_MS).catch(() => undefined);
    memory.afterSites = sample();
    await runStorm(wb, chunks, new Rng(SEED), undefined, BASELINE_CAP_MS);
    memory.afterStorm = sample();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    memory.afterIdle = sample();
    log(`baseline: extension host ${memory.start.extensionHostMb} → ${memory.afterSites.extensionHostMb} → ${memory.afterStorm.extensionHostMb} MB`);
    return memory;
  } finally {
    await session.close();
  }
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const loadStart = load();
  const git = gitState();
  const vscode = await ensureVsCode(log);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-bench-editor-'));
  let session: EditorSession | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: ending code-server`);
    void (session?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const notes: string[] = [];
  try {
    log('packaging the VSIX (scripts/package.mjs)');
    const vsix = packageVsix(tmp);
    const pkg = await installFromDevList(DEV_LIST, args.package!, CACHE, log);
    const ws = makeWorkspace(pkg, path.join(tmp, 'workspace', pkg.spec.name.replace(/^@/, '').replace(/\//g, '-')));
    const files = classFiles(ws.dir, Number(args.files));
    const sites = chooseSites(ws.dir, files, Number(args['sites-per-file']), SEED);
    const chunks = stormChunks(ws.dir, files, 3, SEED);
    if (sites.length < 15) notes.push(`only ${sites.length} sites found`);
    log(`${ws.label}: ${sites.length} sites in ${files.length} files, ${chunks.length} storm chunks`);
    const firstFile = sites[0]?.file ?? path.relative(ws.dir, files[0]);
    const baseline = args['skip-baseline'] ? undefined : await baselineSession(vscode, tmp, ws.dir, firstFile, sites, chunks);

    const t0 = Date.now();
    const userSettings = { ...USER_SETTINGS, ...TYPEGUIDE_OVERRIDES };
    if (args['log-level']) notes.push(`typeguide.logLevel set to ${args['log-level']} (diagnosis run)`);
    session = await startEditor({ vscode, vsix, tmp, workspace: ws.dir, userSettings, log });
    const wb = new Workbench(session.page);
    const { page } = session;
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
    const workbenchMs = Date.now() - t0;
    const marker = session.extensionFolder;
    const memory: Record<string, MemorySample> = {};
    // VS Code alone: the extension host once its startup extensions are active, before a file of
    // TypeGuide's languages is opened (TypeGuide is installed but not yet activated).
    if (await waitForLog(() => extensionHostLog(session!.userDir), /Eager extensions activated/, 60_000)) {
      memory.beforeTypeGuide = sampleMemory(session.serverPid, marker);
    } else {
      notes.push('the extension host did not log "Eager extensions activated" within 60 s: no beforeTypeGuide sample');
    }
    // TypeGuide activates on its languages: open the first file, as a person starts, then wait for it.
    await wb.openFile(firstFile);
    await page.locator('.statusbar-item', { hasText: /TypeGuide: ready/ }).waitFor({ state: 'visible', timeout: 180_000 });
    const readyMs = Date.now() - t0;
    log(`workbench ${workbenchMs} ms, TypeGuide ready ${readyMs} ms`);
    await wb.installProbe();
    memory.start = sampleMemory(session.serverPid, marker);

    const siteResults: SiteResult[] = [];
    for (const [i, site] of sites.entries()) {
      const r = await runSite(wb, site, args.keep ? tmp : undefined).catch((e: unknown) => ({ site: `${site.file}:${site.line}:${site.dotColumn}`, receiver: site.receiver, authorsMember: site.member,
        preDotGhost: null, msToGhost: null, firstGhost: null, settledGhost: null, ghostsSeen: [], authorsMemberFirst: false, typedPrefix: null, msToGhostAfterPrefix: null, ghostAfterPrefix: null, stale: [], note: `failed: ${(e as Error).message.split('\n')[0]}` }));
      log(`site ${i + 1}/${sites.length} ${r.site} ${site.receiver}.: ${r.msToGhost === null ? 'no suggestion' : `${r.msToGhost} ms`} ${JSON.stringify(r.settledGhost ?? '')}${r.note ? ` (${r.note})` : ''}`);
      siteResults.push(r);
    }
    memory.afterSites = sampleMemory(session.serverPid, marker);
    const loadAfterSites = load();

    log(`typing storm, ${STORM_MS / 1000} s`);
    const storm = await runStorm(wb, chunks, new Rng(SEED), args.keep ? tmp : undefined);
    memory.afterStorm = sampleMemory(session.serverPid, marker);
    // The storm's pauses are shorter than the engine's idle trim delay (1 s): a sample after a few idle
    // seconds shows what stays once the user stops.
    await new Promise((r) => setTimeout(r, IDLE_MS));
    memory.afterIdle = sampleMemory(session.serverPid, marker);
    log(`storm: ${storm.pausesWithSuggestion}/${storm.pauses} pauses with a suggestion, ${storm.staleGhostTexts} stale`);

    const stats = await extensionStatistics(wb, session).catch((e: unknown) => {
      notes.push(`Show Statistics failed: ${(e as Error).message.split('\n')[0]}`);
      return undefined;
    });
    const notifications = (await wb.toasts().catch(() => [])).map((n) => n.text);
    await page.screenshot({ path: path.join(tmp, 'final.png') }).catch(() => undefined);
    const latencies = siteResults.flatMap((r) => (r.msToGhost === null ? [] : [r.msToGhost]));
    const noSuggestion = siteResults.filter((r) => r.msToGhost === null).length;
    const result = {
      bench: 'editor',
      startedAt,
      git,
      machine: { cpus: os.cpus().length, memGb: Math.round(os.totalmem() / 2 ** 30), loadavg: { start: loadStart, afterSites: loadAfterSites, end: load() } },
      editor: `code-server ${CODE_SERVER_VERSION} (VS Code ${CODE_SERVER_VERSION.replace(/^4\./, '1.')}) + ${vscode.chromium} (headless)`,
      workspace: { package: ws.label, files: files.map((f) => path.relative(ws.dir, f)), sourceFiles: ws.sourceFiles, tsconfigAdded: ws.tsconfigAdded },
      settings: { typeguide: Object.keys(TYPEGUIDE_OVERRIDES).length > 0 ? TYPEGUIDE_OVERRIDES : 'defaults', vscode: USER_SETTINGS },
      startup: { workbenchMs, typeGuideReadyMs: readyMs },
      sites: {
        count: siteResults.length,
        capMs: CAP_MS,
        msToGhost: distribution(latencies),
        // No suggestion counted as the cap: what a person waiting at every site experiences.
        msToGhostCensored: distribution(siteResults.map((r) => r.msToGhost ?? CAP_MS)),
        noSuggestion,
        // Sites where the deletion's own request showed no ghost text before the dot (it may still have
        // computed what serves the dot).
        msToGhostNoPreDotGhost: distribution(siteResults.flatMap((r) => (r.msToGhost === null || r.preDotGhost !== null ? [] : [r.msToGhost]))),
        sitesWithPreDotGhost: siteResults.filter((r) => r.preDotGhost !== null).length,
        // After the dot's suggestion, two letters of the member typed at 10/s: from the second letter.
        msToGhostAfterPrefix: distribution(siteResults.flatMap((r) => (r.msToGhostAfterPrefix === null ? [] : [r.msToGhostAfterPrefix]))),
        noSuggestionAfterPrefix: siteResults.filter((r) => r.typedPrefix !== null && r.msToGhostAfterPrefix === null).length,
        authorsMemberFirst: siteResults.filter((r) => r.authorsMemberFirst).length,
        // The suggestion grew while shown (the first line completed, or the generation ended, and the
        // extension had VS Code show the longer text) rather than staying as first shown.
        grewWhileShown: siteResults.filter((r) => r.firstGhost !== null && r.settledGhost !== null && r.settledGhost.length > r.firstGhost.length && r.settledGhost.replace(/^\n+/, "").startsWith(r.firstGhost.replace(/^\n+/, "").split("\n")[0])).length,
        staleGhostTexts: siteResults.reduce((n, r) => n + r.stale.length, 0),
        list: siteResults,
      },
      storm,
      memoryMb: memory,
      // VS Code alone through the same script (absent with --skip-baseline).
      baselineMemoryMb: baseline ?? null,
      eventLoop: eventLoopDelay(stats),
      extensionStatistics: stats ?? null,
      // Notification toasts seen during the run (any extension), each text once.
      notifications,
      notes,
    };
    fs.mkdirSync(path.dirname(args.json!), { recursive: true });
    fs.writeFileSync(args.json!, JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify(result));
    console.log(formatTable(result));
    log(`wrote ${path.relative(process.cwd(), args.json!)}`);
  } catch (e) {
    await session?.page.screenshot({ path: path.join(tmp, 'failure.png') }).catch(() => undefined);
    throw e;
  } finally {
    if (session) fs.writeFileSync(path.join(tmp, 'code-server.log'), session.serverLog.join(''));
    await session?.close();
    if (args.keep) log(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
