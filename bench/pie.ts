// npm run bench:pie -- [--json OUT] [--model DIR] [--variant V] [--sizes 512,1024,2048,4096] [--package NAME@VER]
//   [--trials N] [--repeats N] [--cheap-repeats N] [--keystrokes TEXT] [--line-tokens N] [--threads T] [--edits LIST]
// --repeats: timings of full recomputation and prefix reuse per case; --cheap-repeats (default: --repeats):
// of PIE and conflict-fast, which cost little, so a shared machine's noise can be taken out by the median.
// Each path is timed in wall-clock ms and in this process's CPU ms (process.cpuUsage: less disturbed by
// other processes on a shared machine; onnxruntime's spinning worker threads count in it).
// --line-tokens 0 skips the next-line quality columns (random-weight models: timing only).
// --edits: a comma-separated subset of type,delete,rename,keystroke (default all), and of the project-context
// ring's edits ring-insert,ring-replace,ring-edit (not in the default; see ringCases): the prompt then holds
// project context before the file, laid out by engine/projectContext.ts as the engine lays it out, within
// --context-budget tokens (default 640), the file's window filling the rest of the size.
// --chunk N (default 256, the engine's prefill chunk): full recomputation and prefix reuse are also timed
// as the engine runs a prefill, in chunks of N tokens (fullChunkedMs, prefixChunkedMs): with exports that
// return logits for every row (optimum's), one 2k-token forward builds a 2048 × vocab logits tensor.
// PIE against the alternatives on real TypeScript from the evaluation list (shared/eval/dev-packages.txt,
// fetched with `npm pack` into .cache/pie-bench/): for FIM prompts of each size and realistic edits
// (type a line, delete a line, rename in several places, keystrokes at the FIM cursor), the time to
// ready next-token logits from the previous prompt's exact cache by full recomputation, prefix-only
// reuse (llama.cpp after an insertion), conflict-fast (splice, no rotation) and PIE, all in one run;
// then the next line generated greedily after each path: exact match with the file's real next line
// (em*) and agreement/edit similarity with full recomputation's line. Plus the rotation kernel's cost.
// Prints a table; --json writes {"model", "rows": [...], "rotation": [...]}.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { CodeModel, KvCache, defaultModelDir } from '../model/index.js';
import { forwardChunked } from '../model/generate.js';
import { floatGraphRunner, type ModelVariant } from '../model/onnxSession.js';
import { editSimilarity } from '../model/pie/metrics.js';
import { PieRepositioner, estimateCallCost, type PieModel, type RebuildStrategy, type Rebuilt } from '../model/pie/repositioner.js';
import { RotaryShifter, resolveRotary } from '../model/pie/rotary.js';
import { DocumentMirror } from '../engine/documentMirror.js';
import { ProjectContext, contextFormat, type ContextReport, type ContextRequest } from '../engine/projectContext.js';
import { median } from './stats.js';

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, '.cache', 'pie-bench');
const strategies: RebuildStrategy[] = ['full', 'prefix', 'conflictFast', 'pie'];

const packageDir = (spec: string): string => path.join(cacheDir, spec.replace(/[@/]/g, '_'));

/** The package's .ts sources (not .d.ts), fetched once with `npm pack`; `file` is relative to packageDir(spec). */
function packageSources(spec: string): { file: string; text: string }[] {
  const dir = packageDir(spec);
  if (!fs.existsSync(path.join(dir, 'package'))) {
    fs.mkdirSync(dir, { recursive: true });
    const out = execFileSync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const tgz = path.join(dir, out.trim().split('\n').pop()!);
    execFileSync('tar', ['-xzf', tgz, '-C', dir]);
  }
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== 'node_modules') walk(p);
      else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(p);
    }
  };
  walk(path.join(dir, 'package'));
  return files.sort().map((f) => ({ file: path.relative(dir, f), text: fs.readFileSync(f, 'utf8') }));
}

interface Scenario {
  edit: string;
  /** The excerpt before and after the edit, and the cursor in each. */
  before: string;
  after: string;
  cursorBefore: number;
  cursorAfter: number;
  /** The file's real rest of the line at the cursor (ground truth for em*). */
  truth: string;
}

const lineStarts = (t: string): number[] => [0, ...[...t.matchAll(/\n/g)].map((m) => m.index! + 1)].filter((i) => i < t.length);

/** A non-blank line start near `fraction` of the text. */
function lineNear(text: string, fraction: number): number {
  const starts = lineStarts(text);
  const target = text.length * fraction;
  const ok = starts.filter((s) => text.slice(s, text.indexOf('\n', s)).trim().length > 3);
  return ok.reduce((best, s) => (Math.abs(s - target) < Math.abs(best - target) ? s : best), ok[0] ?? 0);
}

const lineEnd = (t: string, at: number): number => {
  const e = t.indexOf('\n', at);
  return e < 0 ? t.length : e;
};

/** The FIM cursor: after the indentation of a line at ~80%; the rest of that line is what the model should write. */
function fimCursor(excerpt: string): { lineStart: number; cursor: number; truth: string } {
  const lineStart = lineNear(excerpt, 0.8);
  const cursor = lineStart + (/^[ \t]*/.exec(excerpt.slice(lineStart))?.[0].length ?? 0);
  return { lineStart, cursor, truth: excerpt.slice(cursor, lineEnd(excerpt, cursor)) };
}

function scenarios(excerpt: string): Scenario[] {
  const { lineStart: ls, cursor, truth } = fimCursor(excerpt);
  const at = lineNear(excerpt, 0.4);
  const indent = /^[ \t]*/.exec(excerpt.slice(at))?.[0] ?? '';
  const out: Scenario[] = [];
  const line = `${indent}const elapsedMs = Date.now() - startedAt;\n`;
  out.push({ edit: 'type a line', before: excerpt, after: excerpt.slice(0, at) + line + excerpt.slice(at), cursorBefore: cursor, cursorAfter: cursor + line.length, truth });
  const del = lineEnd(excerpt, at) + 1 - at;
  out.push({ edit: 'delete a line', before: excerpt, after: excerpt.slice(0, at) + excerpt.slice(at + del), cursorBefore: cursor, cursorAfter: cursor - del, truth });
  // Rename an identifier used in 3..12 places before the cursor, everywhere in the excerpt.
  const counts = new Map<string, number>();
  for (const m of excerpt.slice(0, ls).matchAll(/\b[A-Za-z_][A-Za-z0-9_]{3,}\b/g)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const keywords = new Set(['const', 'return', 'this', 'function', 'export', 'import', 'from', 'type', 'interface', 'string', 'number', 'boolean', 'undefined', 'null', 'true', 'false', 'void', 'async', 'await', 'readonly', 'extends', 'implements', 'public', 'private', 'static', 'class', 'else', 'throw', 'typeof', 'keyof', 'default', 'while', 'break', 'case', 'switch', 'unknown', 'never', 'Promise', 'Array', 'Record']);
  const name = [...counts].filter(([n, c]) => c >= 3 && c <= 12 && !keywords.has(n)).sort((a, b) => b[1] - a[1])[0]?.[0];
  if (name) {
    const re = new RegExp(`\\b${name}\\b`, 'g');
    const renamed = excerpt.replace(re, `${name}Next`);
    const shift = (excerpt.slice(0, cursor).match(re)?.length ?? 0) * 4;
    out.push({ edit: `rename in several places (${counts.get(name)}× ${name})`, before: excerpt, after: renamed, cursorBefore: cursor, cursorAfter: cursor + shift, truth: truth.replace(re, `${name}Next`) });
  }
  return out;
}

/** One edit as it is timed: the previous prompt (whose exact cache every path starts from) and the next. */
interface Case {
  edit: string;
  oldIds: number[];
  newIds: number[];
  /** The file's real rest of the line at the cursor (ground truth for em*). */
  truth: string;
  /** Ring edits: the project context's size in the old and the new prompt. */
  context?: { tokensBefore: number; tokensAfter: number; chunksBefore: number; chunksAfter: number; layout?: string };
}

const ringEdits = ['ring-insert', 'ring-replace', 'ring-edit'] as const;
type RingEdit = (typeof ringEdits)[number];

const sameIds = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const chunkKey = (c: ContextReport['chunks'][number]): string => `${c.source} ${c.path}:${c.lines} (${c.tokens} tokens)`;

/**
 * Edits of the project-context ring, in prompts built as the engine builds them (engine/completionEngine.ts
 * buildPrompt): a ProjectContext over a DocumentMirror that holds other files of the package as open
 * documents. The history: a completion in the current file (similar open-file snippets enter the ring),
 * then a line typed in each of `prior` other files, each followed by a completion (each edit's chunk
 * enters, newest next to the file). Then one more edit and completion:
 *  - ring-insert: a line typed in one more open file: a new chunk enters, newest (right before the file);
 *  - ring-replace: a line typed 6 lines below the oldest edit: that edit's chunk is dropped for one of the
 *    same size around the new line, which enters newest;
 *  - ring-edit: a line typed again where the middle edit was: its chunk keeps its place and its text
 *    changes (the new line in, its last line out).
 * The file's window is the same in both prompts (`size` minus the larger context). With 3 prior edits
 * the budget may bind (similar snippets fill it): the new chunk then cuts or drops the lowest-ranked one,
 * a second change; fewer prior edits are tried until every edit changes the ring only as described.
 * Throws unless the chunks changed exactly so, the tokens before the file changed, and the file's tokens
 * stayed identical.
 */
function ringCases(args: Omit<Parameters<typeof ringCasesWith>[0], 'prior'>): Case[] {
  let mismatch: Error | undefined;
  for (let prior = Math.min(3, args.others.length - 1); prior >= 1; prior--) {
    try {
      return ringCasesWith({ ...args, prior });
    } catch (e) {
      if (!(e instanceof RingMismatch)) throw e;
      mismatch = e;
    }
  }
  throw mismatch!;
}

class RingMismatch extends Error {}

function ringCasesWith(args: {
  model: CodeModel;
  root: string;
  current: { file: string; text: string; cursor: number; truth: string };
  /** At least 2 other files of the package (absolute paths), opened in the mirror. */
  others: { file: string; text: string }[];
  size: number;
  budget: number;
  kinds: readonly RingEdit[];
  /** Other files edited before the timed edit. */
  prior: number;
}): Case[] {
  const { model, root, current, others } = args;
  const format = contextFormat(model.tokenizer, model.fim?.family);
  const req: ContextRequest = { file: current.file, languageId: 'typescript', text: current.text, offset: current.cursor, workspaceRoot: root, budgetTokens: args.budget, readFiles: false };
  const prior = Math.min(args.prior, others.length - 1);
  const display = (file: string): string => path.relative(root, file).split(path.sep).join('/');
  const lineOffset = (text: string, line: number): number => {
    let at = 0;
    for (let i = 0; i < line; i++) at = text.indexOf('\n', at) + 1;
    return at;
  };
  const middle = (i: number): number => Math.floor(others[i].text.split('\n').length / 2);
  /** The user types a line in another file at `line`: the mirror applies it and the context notes it, as DocumentSync's change does. */
  const type = (mirror: DocumentMirror, pc: ProjectContext, file: string, line: number): void => {
    const doc = mirror.get(file)!;
    const at = lineOffset(doc.text, line);
    const text = `${/^[ \t]*/.exec(doc.text.slice(at))![0]}const startedAt = Date.now();\n`;
    const next = mirror.change(file, doc.version + 1, [{ offset: at, length: 0, text }])!;
    pc.noteChange(file, next.text, at + text.length);
  };
  const history = (): { mirror: DocumentMirror; pc: ProjectContext; before: ReturnType<ProjectContext['select']> } => {
    const mirror = new DocumentMirror();
    for (const d of [...others, current]) mirror.open({ filePath: d.file, languageId: 'typescript', version: 1, text: d.text, workspaceRoot: root });
    const pc = new ProjectContext({ mirror, tokenizer: model.tokenizer, format });
    let before = pc.select(req);
    for (let i = 0; i < prior; i++) {
      type(mirror, pc, others[i].file, middle(i));
      before = pc.select(req);
    }
    return { mirror, pc, before };
  };
  const out: Case[] = [];
  for (const kind of args.kinds) {
    const h = history();
    const b = h.before.report.chunks.map(chunkKey);
    let expect: (a: string[]) => boolean;
    if (kind === 'ring-insert') {
      type(h.mirror, h.pc, others[prior].file, middle(prior));
      const p = display(others[prior].file);
      expect = (a) => a.length === b.length + 1 && a.slice(0, -1).every((k, i) => k === b[i]) && a[a.length - 1].startsWith(`edit ${p}:`);
    } else if (kind === 'ring-replace') {
      // The first edit's chunk: lines middle-3 .. middle+9 (the typed line at `middle`, the edit noted on the next).
      type(h.mirror, h.pc, others[0].file, middle(0) + 6);
      const p = display(others[0].file);
      const dropped = b.findIndex((k) => k.startsWith(`edit ${p}:`));
      const kept = b.filter((_, i) => i !== dropped);
      expect = (a) => dropped >= 0 && a.length === b.length && a.slice(0, -1).every((k, i) => k === kept[i]) && a[a.length - 1].startsWith(`edit ${p}:`) && a[a.length - 1] !== b[dropped];
    } else {
      const j = Math.floor((prior - 1) / 2);
      type(h.mirror, h.pc, others[j].file, middle(j));
      const p = display(others[j].file);
      // Same chunks in the same places (the edited one has the same lines; its text, maybe its token count, changes).
      expect = (a) => a.length === b.length && a.every((k, i) => k === b[i] || (k.startsWith(`edit ${p}:`) && k.split(' (')[0] === b[i].split(' (')[0]));
    }
    const after = h.pc.select(req);
    const a = after.report.chunks.map(chunkKey);
    if (!expect(a)) throw new RingMismatch(`${kind}: the ring did not change as intended (budget ${args.budget}):\n  before: ${b.join('; ')}\n  after:  ${a.join('; ')}`);
    const window = args.size - Math.max(h.before.ids.length, after.ids.length);
    const prefix = current.text.slice(0, current.cursor);
    const suffix = current.text.slice(current.cursor);
    const build = (ctx?: { ids: number[]; placement: 'head' | 'prefix' }): number[] =>
      [...model.buildPrompt(prefix, suffix, { maxPromptTokens: window, maxTokens: 0, fimOrder: 'psm', ...(ctx ? { context: { ids: ctx.ids, placement: ctx.placement } } : {}) }).ids];
    const alone = build();
    const split = (ids: number[], ctx: number[]): { lead: number[]; file: number[] } => {
      // The context starts after BOS / the prefix marker: at most 2 tokens in.
      const at = [0, 1, 2].find((i) => sameIds(ids.slice(i, i + ctx.length), ctx));
      if (at === undefined) throw new Error(`${kind}: the context's tokens are not in the prompt`);
      return { lead: ids.slice(0, at), file: ids.slice(at + ctx.length) };
    };
    const oldIds = build(h.before);
    const newIds = build(after);
    const o = split(oldIds, h.before.ids);
    const n = split(newIds, after.ids);
    if (sameIds(h.before.ids, after.ids)) throw new Error(`${kind}: the tokens before the file did not change`);
    if (!sameIds(o.lead, n.lead) || !sameIds(o.file, n.file)) throw new Error(`${kind}: the file's tokens changed with the ring`);
    if (!sameIds([...o.lead, ...o.file], alone)) throw new Error(`${kind}: the context changed how the file is tokenized`);
    out.push({
      edit: kind, oldIds, newIds, truth: current.truth,
      context: { tokensBefore: h.before.ids.length, tokensAfter: after.ids.length, chunksBefore: b.length, chunksAfter: a.length, layout: `before: ${b.join('; ')}\n  after:  ${a.join('; ')}` },
    });
  }
  return out;
}

interface PathResult { ms: number; line: string; rebuilt: Rebuilt }

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** KL(softmax(p) ‖ softmax(q)) in nats: how far a path's next-token distribution is from full recomputation's. */
function klDivergence(p: Float32Array, q: Float32Array): number {
  const logSumExp = (a: Float32Array): number => {
    let m = -Infinity;
    for (const x of a) if (x > m) m = x;
    let z = 0;
    for (const x of a) z += Math.exp(x - m);
    return m + Math.log(z);
  };
  const lp = logSumExp(p);
  const lq = logSumExp(q);
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i] - lp;
    kl += Math.exp(a) * (a - (q[i] - lq));
  }
  return Math.max(0, kl);
}

/** Greedy continuation until the end of the line (or maxTokens), from a ready cache and logits. */
async function nextLine(model: CodeModel, start: Rebuilt, promptLength: number, maxTokens: number): Promise<string> {
  let logits = start.logits!;
  let cache: KvCache = start.cache;
  const stops = new Set(model.config.eosTokenIds);
  for (const t of model.fim?.stopTokens ?? []) {
    const id = model.tokenizer.tokenId(t);
    if (id !== undefined) stops.add(id);
  }
  const ids: number[] = [];
  let text = '';
  for (let i = 0; i < maxTokens; i++) {
    const id = argmax(logits);
    if (stops.has(id)) break;
    ids.push(id);
    text = model.tokenizer.decode(ids);
    if (text.includes('\n')) break;
    const r = await model.session.forward([id], cache, { positions: [promptLength + i] });
    if (cache !== start.cache) cache.dispose();
    cache = r.cache;
    logits = r.logits;
  }
  if (cache !== start.cache) cache.dispose();
  return text.split('\n')[0];
}

interface Row {
  promptTokens: number;
  edit: string;
  trials: number;
  fullMs: number;
  prefixMs: number;
  conflictFastMs: number;
  pieMs: number;
  /** Full recomputation / prefix reuse as the engine prefills: forwardChunked, --chunk tokens a call. */
  fullChunkedMs: number;
  prefixChunkedMs: number;
  speedupVsFullChunked: number;
  speedupVsPrefixChunked: number;
  /** CPU time of this process on each path (user + system, all threads). */
  fullCpuMs: number;
  prefixCpuMs: number;
  pieCpuMs: number;
  speedupVsFullCpu: number;
  speedupVsPrefixCpu: number;
  pieRotateMs: number;
  /** pieRotateMs / pieMs: the rotation's share of PIE's path. */
  pieRotateShare: number;
  /** What rotating adds to PIE's path: (PIE − conflict-fast) / PIE; conflict-fast is the same plan,
   *  copies and forward calls without the rotation, timed in the same rounds. */
  pieRotateMarginalShare: number;
  /** Time in the model's forward calls on PIE's path; the rest (pieMs − forward − rotate) is slicing/joining the cache. */
  pieForwardMs: number;
  pieCopyMs: number;
  pieForwardCalls: number;
  pieEncodedTokens: number;
  pieKeptTokens: number;
  pieRotatedTokens: number;
  prefixEncodedTokens: number;
  /** Next-token distribution against full recomputation's: KL(full ‖ path) in nats, and how often the argmax agrees (%). */
  klPie: number;
  klConflictFast: number;
  top1Pie: number;
  top1ConflictFast: number;
  speedupVsFull: number;
  speedupVsPrefix: number;
  emFull: number;
  emPrefix: number;
  emPie: number;
  emConflictFast: number;
  agreePie: number;
  agreeConflictFast: number;
  esPie: number;
  esConflictFast: number;
  beyondTrainedContext: boolean;
  /** Ring edits: the project context's tokens and chunks before the file, in the old and the new prompt (means). */
  context?: { tokensBefore: number; tokensAfter: number; chunksBefore: number; chunksAfter: number };
  /** os.loadavg()[0] when the row's first and last case ran (a shared machine). */
  loadavg1: [number, number];
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const r2 = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'string' },
      model: { type: 'string' },
      sizes: { type: 'string', default: '512,1024,2048,4096' },
      package: { type: 'string' },
      trials: { type: 'string', default: '2' },
      repeats: { type: 'string', default: '3' },
      'line-tokens': { type: 'string', default: '24' },
      keystrokes: { type: 'string', default: 'const r' },
      threads: { type: 'string' },
      variant: { type: 'string' },
      edits: { type: 'string', default: 'type,delete,rename,keystroke' },
      'cheap-repeats': { type: 'string' },
      chunk: { type: 'string', default: '256' },
      'context-budget': { type: 'string', default: '640' },
      'no-rotation-ort': { type: 'boolean' },
    },
  });
  const sizes = values.sizes!.split(',').map(Number);
  const trials = Number(values.trials);
  const repeats = Math.max(1, Number(values.repeats));
  const cheapRepeats = Math.max(1, Number(values['cheap-repeats'] ?? values.repeats));
  const chunk = Math.max(1, Number(values.chunk));
  const repeatsOf = (s: RebuildStrategy): number => (s === 'pie' || s === 'conflictFast' ? cheapRepeats : repeats);
  const lineTokens = Number(values['line-tokens']);
  const quality = lineTokens > 0;
  const edits = new Set(values.edits!.split(',').map((e) => e.trim()));
  const ringKinds = ringEdits.filter((e) => edits.has(e));
  const contextBudget = Number(values['context-budget']);
  const editKey = (edit: string): string => (edit.startsWith('rename') ? 'rename' : edit === 'type a line' ? 'type' : edit === 'delete a line' ? 'delete' : 'keystroke');
  const loadStart = os.loadavg();
  const tStart = Date.now();
  const evalList = fs.readFileSync(path.join(root, '..', 'shared', 'eval', 'dev-packages.txt'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const pkg = values.package ?? evalList[0];
  const sources = packageSources(pkg);
  const pkgDir = packageDir(pkg);
  const tLoad = performance.now();
  const model = await CodeModel.load(values.model ?? defaultModelDir, { threads: values.threads ? Number(values.threads) : undefined, variant: values.variant as ModelVariant | undefined });
  const loadMs = performance.now() - tLoad;
  // PIE splits an edit into forward calls; weigh a call's fixed cost (measured here) against tokens.
  const callCost = await estimateCallCost(model.session);
  // The session, with the time spent in its forward calls counted (to split PIE's path into forward,
  // rotation and cache copies).
  let forwardMs = 0;
  const timed: PieModel = {
    config: model.session.config,
    hasPositionIds: model.session.hasPositionIds,
    forward: async (tokens, cache, options) => {
      const t0 = performance.now();
      try {
        return await model.session.forward(tokens, cache, options);
      } finally {
        forwardMs += performance.now() - t0;
      }
    },
  };
  const rp = new PieRepositioner(timed, { callCost });
  if (!rp.rotary.ok) throw new Error(`PIE unavailable for this model: ${rp.rotary.reason}`);
  const tok = model.tokenizer;
  const corpus = sources.map((s) => `// ${s.file}\n${s.text}`).join('\n');
  const corpusLines = corpus.split('\n');
  console.error(`model ${model.session.file} (context ${model.config.maxPositions}, loaded in ${Math.round(loadMs)} ms), package ${pkg}: ${sources.length} .ts files; a forward call costs ~${callCost} tokens; loadavg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  /** An excerpt of whole lines holding about `tokens` tokens, starting at line `from`. */
  const excerptOf = (tokens: number, from: number): string => {
    let text = '';
    let count = 0;
    for (let i = from; i < corpusLines.length && count < tokens; i++) {
      const line = corpusLines[i] + '\n';
      count += tok.encode(line).length;
      text += line;
    }
    return text;
  };
  /** For ring edits: the current file (an excerpt of about `tokens` tokens from line `from`, named after the
   *  package file the cursor falls in) and up to 4 other files of the package, not in the excerpt, to open. */
  const sourceNames = new Set(sources.map((s) => s.file));
  const ringFiles = (tokens: number, from: number, trial: number): { current: { file: string; text: string; cursor: number; truth: string }; others: { file: string; text: string }[] } => {
    const text = excerptOf(tokens, from);
    const { cursor, truth } = fimCursor(text);
    let name: string | undefined;
    for (let i = from + (text.slice(0, cursor).match(/\n/g)?.length ?? 0); i >= 0 && !name; i--) {
      const m = /^\/\/ (.+\.ts)$/.exec(corpusLines[i]);
      if (m && sourceNames.has(m[1])) name = m[1];
    }
    const pool = sources.filter((s) => s.file !== name && !text.includes(`// ${s.file}\n`) && s.text.split('\n').length >= 40);
    const step = Math.max(1, Math.floor(pool.length / 4));
    const others = [...new Set(Array.from({ length: Math.min(4, pool.length) }, (_, j) => pool[(trial + j * step) % pool.length]))];
    if (others.length < 2) throw new Error(`ring edits need 2 other files of ${pkg} with 40 lines or more besides the excerpt; found ${others.length}`);
    return { current: { file: path.join(pkgDir, name ?? 'package/current.ts'), text, cursor, truth }, others: others.map((o) => ({ file: path.join(pkgDir, o.file), text: o.text })) };
  };
  // PSM layout (prefix · suffix · middle marker, the order Qwen/DeepSeek/StarCoder are prompted in): every
  // keystroke lands mid-prompt. (Our model's own SPM order makes a keystroke at the cursor an append.)
  const prompt = (text: string, cursor: number): number[] => [...model.buildPrompt(text.slice(0, cursor), text.slice(cursor), { maxPromptTokens: 1 << 20, maxTokens: 0, fimOrder: 'psm' }).ids];

  {
    // Warm-up (JIT, onnxruntime's first runs, rotation tables) so the first row is not penalised.
    const warm = prompt(excerptOf(300, 0), 200);
    const old = { tokens: warm, cache: (await model.session.forward(warm, null)).cache };
    const edited = [...warm.slice(0, 100), ...warm.slice(103)];
    for (let i = 0; i < 3; i++) for (const s of strategies) (await rp.rebuild(old, edited, s)).cache.dispose();
    old.cache.dispose();
  }
  const rows: Row[] = [];
  for (const size of sizes) {
    const samples = new Map<string, { ms: Record<RebuildStrategy, number[]>; em: Record<RebuildStrategy, number[]>; agree: Record<string, number[]>; es: Record<string, number[]>; rot: number[]; enc: number[]; kept: number[]; kl: { pie: number[]; conflictFast: number[] }; top1: { pie: number[]; conflictFast: number[] }; ctx: NonNullable<Case['context']>[]; tokens: number[]; fwd: number[]; calls: number[]; rotated: number[]; prefixEnc: number[]; load: number[]; cpu: Record<RebuildStrategy, number[]>; chunked: { full: number[]; prefix: number[] } }>();
    for (let trial = 0; trial < trials; trial++) {
      const from = Math.floor(((trial + 0.5) / trials) * Math.max(0, corpusLines.length - size / 4));
      const excerpt = excerptOf(size - 4, from);
      const all = scenarios(excerpt);
      const fileCases = all.filter((c) => edits.has(editKey(c.edit)));
      // Keystrokes at the FIM cursor: each one edits the previous keystroke's prompt.
      const ks = all[0];
      let typed = '';
      for (const ch of edits.has('keystroke') ? values.keystrokes! : '') {
        const before = ks.before.slice(0, ks.cursorBefore) + typed + ks.before.slice(ks.cursorBefore);
        typed += ch;
        const after = ks.before.slice(0, ks.cursorBefore) + typed + ks.before.slice(ks.cursorBefore);
        fileCases.push({ edit: 'FIM keystroke', before, after, cursorBefore: ks.cursorBefore + typed.length - 1, cursorAfter: ks.cursorBefore + typed.length, truth: ks.truth.startsWith(typed) ? ks.truth.slice(typed.length) : '\u0000' });
      }
      const cases: Case[] = fileCases.map((sc) => ({ edit: sc.edit, oldIds: prompt(sc.before, sc.cursorBefore), newIds: prompt(sc.after, sc.cursorAfter), truth: sc.truth }));
      if (ringKinds.length) cases.push(...ringCases({ model, root: pkgDir, ...ringFiles(size, from, trial), size, budget: contextBudget, kinds: ringKinds }));
      for (const c of cases) if (c.context) console.error(`${size}/${trial} ${c.edit}: ${c.oldIds.length} → ${c.newIds.length} tokens, context ${c.context.tokensBefore} → ${c.context.tokensAfter} tokens (${c.context.chunksBefore} → ${c.context.chunksAfter} chunks)\n  ${c.context.layout}`);
      for (const sc of cases) {
        const { oldIds, newIds } = sc;
        const old = { tokens: oldIds, cache: (await model.session.forward(oldIds, null)).cache };
        const results = {} as Record<RebuildStrategy, PathResult>;
        // Paths interleaved, each timed `repeats` times (median): the machine may be shared.
        const times: Record<string, number[]> = { full: [], prefix: [], conflictFast: [], pie: [] };
        const cpu: Record<string, number[]> = { full: [], prefix: [], conflictFast: [], pie: [] };
        const pieForward: number[] = [];
        const pieRotate: number[] = [];
        const load0 = os.loadavg()[0];
        for (let rep = 0; rep < Math.max(repeats, cheapRepeats); rep++) {
          for (const s of strategies) {
            if (rep >= repeatsOf(s)) continue;
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            forwardMs = 0;
            const rebuilt = await rp.rebuild(old, newIds, s);
            times[s].push(performance.now() - t0);
            const c = process.cpuUsage(c0);
            cpu[s].push((c.user + c.system) / 1000);
            if (s === 'pie') {
              pieForward.push(forwardMs);
              pieRotate.push(rebuilt.rotateMs);
            }
            if (rep === repeatsOf(s) - 1) results[s] = { ms: median(times[s]), rebuilt, line: '' };
            else rebuilt.cache.dispose();
          }
          if (rep < repeats) {
            // The exact paths as the engine prefills them: chunks of `chunk` tokens.
            let t0 = performance.now();
            (await forwardChunked(model.session, newIds, null, { chunk })).cache.dispose();
            times.fullChunked = [...(times.fullChunked ?? []), performance.now() - t0];
            let p = 0;
            while (p < Math.min(oldIds.length, newIds.length - 1) && oldIds[p] === newIds[p]) p++;
            t0 = performance.now();
            const prefix = old.cache.slice(0, p);
            (await forwardChunked(model.session, newIds.slice(p), prefix, { chunk, positions: newIds.slice(p).map((_, i) => p + i) })).cache.dispose();
            prefix.dispose();
            times.prefixChunked = [...(times.prefixChunked ?? []), performance.now() - t0];
          }
        }
        const kl = { pie: 0, conflictFast: 0 };
        const top1 = { pie: 0, conflictFast: 0 };
        for (const s of ['pie', 'conflictFast'] as const) {
          kl[s] = klDivergence(results.full.rebuilt.logits!, results[s].rebuilt.logits!);
          top1[s] = argmax(results.full.rebuilt.logits!) === argmax(results[s].rebuilt.logits!) ? 100 : 0;
        }
        for (const s of strategies) {
          results[s].line = await nextLine(model, results[s].rebuilt, newIds.length, lineTokens);
          results[s].rebuilt.cache.dispose();
        }
        old.cache.dispose();
        const key = sc.edit.startsWith('rename') ? 'rename in several places' : sc.edit;
        let smp = samples.get(key);
        if (!smp) {
          smp = { ms: { full: [], prefix: [], conflictFast: [], pie: [] }, em: { full: [], prefix: [], conflictFast: [], pie: [] }, agree: { pie: [], conflictFast: [] }, es: { pie: [], conflictFast: [] }, rot: [], enc: [], kept: [], kl: { pie: [], conflictFast: [] }, top1: { pie: [], conflictFast: [] }, ctx: [], tokens: [], fwd: [], calls: [], rotated: [], prefixEnc: [], load: [], cpu: { full: [], prefix: [], conflictFast: [], pie: [] }, chunked: { full: [], prefix: [] } };
          samples.set(key, smp);
        }
        for (const s of strategies) {
          smp.ms[s].push(results[s].ms);
          smp.cpu[s].push(median(cpu[s]));
          smp.em[s].push(results[s].line.trim() === sc.truth.trim() ? 100 : 0);
        }
        smp.chunked.full.push(median(times.fullChunked));
        smp.chunked.prefix.push(median(times.prefixChunked));
        for (const s of ['pie', 'conflictFast'] as const) {
          smp.agree[s].push(results[s].line === results.full.line ? 100 : 0);
          smp.es[s].push(editSimilarity(results[s].line, results.full.line) * 100);
        }
        smp.rot.push(median(pieRotate));
        smp.enc.push(results.pie.rebuilt.encodedTokens);
        smp.kept.push(results.pie.rebuilt.keptTokens);
        for (const s of ['pie', 'conflictFast'] as const) {
          smp.kl[s].push(kl[s]);
          smp.top1[s].push(top1[s]);
        }
        if (sc.context) smp.ctx.push({ ...sc.context, layout: undefined });
        smp.tokens.push(newIds.length);
        smp.fwd.push(median(pieForward));
        smp.calls.push(results.pie.rebuilt.forwardCalls);
        smp.rotated.push(results.pie.rebuilt.rotatedTokens);
        smp.prefixEnc.push(results.prefix.rebuilt.encodedTokens);
        smp.load.push(load0, os.loadavg()[0]);
      }
    }
    for (const [edit, s] of samples) {
      const row: Row = {
        promptTokens: Math.round(mean(s.tokens)), edit, trials: s.tokens.length,
        fullMs: r2(median(s.ms.full)), prefixMs: r2(median(s.ms.prefix)), conflictFastMs: r2(median(s.ms.conflictFast)), pieMs: r2(median(s.ms.pie)),
        fullChunkedMs: r2(median(s.chunked.full)), prefixChunkedMs: r2(median(s.chunked.prefix)),
        speedupVsFullChunked: r2(median(s.chunked.full) / median(s.ms.pie)), speedupVsPrefixChunked: r2(median(s.chunked.prefix) / median(s.ms.pie)),
        fullCpuMs: r2(median(s.cpu.full)), prefixCpuMs: r2(median(s.cpu.prefix)), pieCpuMs: r2(median(s.cpu.pie)),
        speedupVsFullCpu: r2(median(s.cpu.full) / median(s.cpu.pie)), speedupVsPrefixCpu: r2(median(s.cpu.prefix) / median(s.cpu.pie)),
        pieRotateMs: r2(median(s.rot)), pieRotateShare: Math.round((median(s.rot) / median(s.ms.pie)) * 1e4) / 1e4,
        pieRotateMarginalShare: Math.round(((median(s.ms.pie) - median(s.ms.conflictFast)) / median(s.ms.pie)) * 1e4) / 1e4,
        pieForwardMs: r2(median(s.fwd)), pieCopyMs: r2(Math.max(0, median(s.ms.pie) - median(s.fwd) - median(s.rot))),
        pieForwardCalls: r2(mean(s.calls)), pieEncodedTokens: r2(mean(s.enc)), pieKeptTokens: r2(mean(s.kept)), pieRotatedTokens: r2(mean(s.rotated)), prefixEncodedTokens: r2(mean(s.prefixEnc)),
        speedupVsFull: r2(median(s.ms.full) / median(s.ms.pie)), speedupVsPrefix: r2(median(s.ms.prefix) / median(s.ms.pie)),
        emFull: r2(mean(s.em.full)), emPrefix: r2(mean(s.em.prefix)), emPie: r2(mean(s.em.pie)), emConflictFast: r2(mean(s.em.conflictFast)),
        agreePie: r2(mean(s.agree.pie)), agreeConflictFast: r2(mean(s.agree.conflictFast)), esPie: r2(mean(s.es.pie)), esConflictFast: r2(mean(s.es.conflictFast)),
        klPie: Number(mean(s.kl.pie).toPrecision(3)), klConflictFast: Number(mean(s.kl.conflictFast).toPrecision(3)), top1Pie: r2(mean(s.top1.pie)), top1ConflictFast: r2(mean(s.top1.conflictFast)),
        beyondTrainedContext: mean(s.tokens) > model.config.maxPositions,
        ...(s.ctx.length ? { context: { tokensBefore: r2(mean(s.ctx.map((c) => c.tokensBefore))), tokensAfter: r2(mean(s.ctx.map((c) => c.tokensAfter))), chunksBefore: r2(mean(s.ctx.map((c) => c.chunksBefore))), chunksAfter: r2(mean(s.ctx.map((c) => c.chunksAfter))) } } : {}),
        loadavg1: [r2(s.load[0]), r2(s.load[s.load.length - 1])],
      };
      rows.push(row);
      console.error(`${row.promptTokens} tokens, ${edit}: full ${row.fullMs} ms, prefix ${row.prefixMs}, conflict-fast ${row.conflictFastMs}, PIE ${row.pieMs} (forward ${row.pieForwardMs}, rotate ${row.pieRotateMs}, copies ${row.pieCopyMs}; rotation adds ${(row.pieRotateMarginalShare * 100).toFixed(1)}% over conflict-fast; ${row.speedupVsFull}x full, ${row.speedupVsPrefix}x prefix; CPU time ${row.speedupVsFullCpu}x, ${row.speedupVsPrefixCpu}x; chunked full ${row.fullChunkedMs} ms ${row.speedupVsFullChunked}x, chunked prefix ${row.prefixChunkedMs} ms ${row.speedupVsPrefixChunked}x); loadavg ${row.loadavg1.join('→')}`);
    }
  }

  const rotation = rotationCost(model);
  // Rotated rows seen on PIE's paths above (and a whole 2k cache), for the JS-vs-onnxruntime comparison.
  const rotatedRows = [...new Set([...rows.map((r) => Math.round(r.pieRotatedTokens)).filter((n) => n > 0), 2048])].sort((a, b) => a - b);
  const rotationGraph = values['no-rotation-ort'] ? [] : await rotationOrt(model, rotatedRows, values.threads ? Number(values.threads) : undefined);
  const q = (r: Row): string => (quality ? ` ${r.emFull} | ${r.emPie} | ${r.emConflictFast} | ${r.agreePie} | ${r.agreeConflictFast} | ${r.esPie} | ${r.esConflictFast} |` : '');
  console.log(`| tokens | edit | n | full ms | prefix ms | conflict-fast ms | PIE ms | PIE forward ms | PIE rotate ms | rotate share (timed / over CF) | PIE copies ms | PIE encoded | PIE kept | PIE rotated | prefix encoded | KL PIE | KL CF | top-1 PIE | top-1 CF | ×full | ×prefix | ×full (CPU) | ×prefix (CPU) | full chunked ms | prefix chunked ms | ×full chunked | ×prefix chunked |${quality ? ' EM full | EM PIE | EM CF | agree PIE | agree CF | ES PIE | ES CF |' : ''}`);
  console.log(`|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${quality ? '---:|'.repeat(7) : ''}`);
  for (const r of rows) {
    console.log(`| ${r.promptTokens}${r.beyondTrainedContext ? '*' : ''} | ${r.edit} | ${r.trials} | ${r.fullMs} | ${r.prefixMs} | ${r.conflictFastMs} | ${r.pieMs} | ${r.pieForwardMs} | ${r.pieRotateMs} | ${(r.pieRotateShare * 100).toFixed(1)}% / ${(r.pieRotateMarginalShare * 100).toFixed(1)}% | ${r.pieCopyMs} | ${r.pieEncodedTokens} | ${r.pieKeptTokens} | ${r.pieRotatedTokens} | ${r.prefixEncodedTokens} | ${r.klPie} | ${r.klConflictFast} | ${r.top1Pie}% | ${r.top1ConflictFast}% | ${r.speedupVsFull} | ${r.speedupVsPrefix} | ${r.speedupVsFullCpu} | ${r.speedupVsPrefixCpu} | ${r.fullChunkedMs} | ${r.prefixChunkedMs} | ${r.speedupVsFullChunked} | ${r.speedupVsPrefixChunked} |${q(r)}`);
  }
  if (!quality) console.log('(next-line quality not measured: --line-tokens 0)');
  const ring = rows.filter((r) => r.context);
  if (ring.length) {
    console.log('\nproject-context ring edits (context before the file, PSM):');
    console.log('| tokens | edit | n | context tokens | chunks | full ms | prefix ms | conflict-fast ms | PIE ms | ×full | ×prefix | ×full (CPU) | ×prefix (CPU) | PIE encoded / kept / rotated | prefix encoded | KL PIE | top-1 PIE |');
    console.log('|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|');
    for (const r of ring) {
      const c = r.context!;
      console.log(`| ${r.promptTokens}${r.beyondTrainedContext ? '*' : ''} | ${r.edit} | ${r.trials} | ${c.tokensBefore} → ${c.tokensAfter} | ${c.chunksBefore} → ${c.chunksAfter} | ${r.fullMs} | ${r.prefixMs} | ${r.conflictFastMs} | ${r.pieMs} | ${r.speedupVsFull} | ${r.speedupVsPrefix} | ${r.speedupVsFullCpu} | ${r.speedupVsPrefixCpu} | ${r.pieEncodedTokens} / ${r.pieKeptTokens} / ${r.pieRotatedTokens} | ${r.prefixEncodedTokens} | ${r.klPie} | ${r.top1Pie}% |`);
    }
  }
  if (rows.some((r) => r.beyondTrainedContext)) console.log(`* beyond the model's trained context (${model.config.maxPositions} positions)`);
  console.log(`\na forward call costs about ${callCost} tokens of encoding (measured); PIE and conflict-fast re-encode shorter unchanged runs between edits`);
  console.log('rotation kernel (float32, JS):');
  for (const r of rotation) console.log(`  ${r.shape}: ${r.ms} ms for ${r.tokens} tokens (${r.nsPerPair} ns per rotated pair)`);
  if (rotationGraph.length) {
    console.log(`rotation of this model's cached keys: JS kernel vs an onnxruntime graph (per layer: ${model.config.numLayers} runs; joined: one run over all layers, with the copies in and out):`);
    for (const r of rotationGraph) console.log(`  ${r.rows} rows: JS ${r.jsMs} ms, onnxruntime per layer ${r.ortPerLayerMs} ms, joined ${r.ortJoinedMs} ms (max |JS − graph| ${r.maxAbsDiff})`);
  }
  const c = model.config;
  const result = {
    model: model.dir, file: path.basename(model.session.file), variant: values.variant ?? 'default',
    shape: { numLayers: c.numLayers, hiddenSize: c.hiddenSize, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, vocabSize: c.vocabSize, ropeTheta: c.ropeTheta, kvDtype: model.session.kvDtype },
    package: pkg, maxPositions: c.maxPositions, callCostTokens: callCost, loadMs: Math.round(loadMs),
    options: { sizes, trials, repeats, cheapRepeats, chunk, lineTokens, keystrokes: values.keystrokes, edits: [...edits], contextBudget, threads: values.threads ? Number(values.threads) : 'default' },
    quality, node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model,
    loadavgStart: loadStart.map(r2), loadavgEnd: os.loadavg().map(r2), elapsedS: Math.round((Date.now() - tStart) / 1000),
    date: new Date().toISOString(), rows, rotation, rotationGraph,
  };
  if (values.json) {
    fs.mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
    fs.writeFileSync(values.json, JSON.stringify(result, null, 2));
  }
  await model.dispose();
}

/** Cost of rotating 2048 cached tokens, for this model and for DeepSeek-Coder-1.3B's shape (one layer, scaled). */
function rotationCost(model: CodeModel): { shape: string; tokens: number; ms: number; nsPerPair: number }[] {
  const out: { shape: string; tokens: number; ms: number; nsPerPair: number }[] = [];
  const shapes = [
    { shape: `this model (${model.config.numLayers} layers × ${model.config.numKvHeads} kv heads × ${model.config.headDim})`, layers: model.config.numLayers, heads: model.config.numKvHeads, dim: model.config.headDim, scale: 1 },
    { shape: 'DeepSeek-Coder-1.3B (24 layers × 16 kv heads × 128; 1 layer timed ×24)', layers: 1, heads: 16, dim: 128, scale: 24 },
  ];
  for (const s of shapes) {
    const tokens = 2048;
    const n = s.heads * tokens * s.dim;
    const keys = Array.from({ length: s.layers }, () => Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
    const values = Array.from({ length: s.layers }, () => new Float32Array(n));
    const cache = new KvCache('float32', s.layers, s.heads, s.dim, keys, values, tokens);
    const spec = resolveRotary({ headDim: s.dim, rotaryDim: s.dim, rotaryStyle: 'half', ropeTheta: 10000, ropeScaling: null, maxPositions: 8192 });
    if (!spec.ok) continue;
    const shifter = new RotaryShifter(spec.spec);
    shifter.shiftKeys(cache, 0, tokens, 3, 0); // warm up (JIT, position table)
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      shifter.shiftKeys(cache, 0, tokens, 3 + i, 0);
      times.push(performance.now() - t0);
    }
    const ms = median(times) * s.scale;
    out.push({ shape: s.shape, tokens, ms: r2(ms), nsPerPair: r2((ms * 1e6) / (s.layers * s.scale * s.heads * tokens * (s.dim / 2))) });
    cache.dispose();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Prototype: the rotation as an onnxruntime graph (rotate-half, full rotary), to compare with the
// JavaScript kernel at this model's shape. The graph is written here as ONNX protobuf bytes (no
// Python needed): out = Concat(a·cos − b·sin, b·cos + a·sin) with [a, b] = Split(keys, last axis),
// keys [N, rows, headDim] (N = layers × kv heads when the layers are joined, or kv heads for one
// layer), cos/sin [rows, headDim/2] (RotaryShifter.rowTable's per-row angles).

/** A minimal protobuf writer: enough of ONNX's ModelProto for a graph of plain ops. */
class Pb {
  private readonly bytes: number[] = [];
  private varint(v: number): void {
    let x = v;
    while (x > 0x7f) {
      this.bytes.push((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    this.bytes.push(x);
  }
  int(field: number, v: number): this {
    this.varint(field * 8);
    if (v < 0) {
      // int64 two's complement, 10 bytes
      let lo = (v >>> 0) >>> 0;
      let hi = Math.floor(v / 2 ** 32) >>> 0;
      for (let i = 0; i < 9; i++) {
        this.bytes.push((lo & 0x7f) | 0x80);
        lo = (lo >>> 7) | ((hi & 0x7f) << 25);
        hi >>>= 7;
      }
      this.bytes.push(1);
    } else this.varint(v);
    return this;
  }
  str(field: number, s: string): this {
    return this.raw(field, Buffer.from(s, 'utf8'));
  }
  msg(field: number, m: Pb): this {
    return this.raw(field, Uint8Array.from(m.bytes));
  }
  private raw(field: number, b: Uint8Array): this {
    this.varint(field * 8 + 2);
    this.varint(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function rotaryGraph(headDim: number): Uint8Array {
  const FLOAT = 1;
  const valueInfo = (name: string, dims: (number | string)[]): Pb => {
    const shape = new Pb();
    for (const d of dims) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
    return new Pb().str(1, name).msg(2, new Pb().msg(1, new Pb().int(1, FLOAT).msg(2, shape)));
  };
  const node = (op: string, inputs: string[], outputs: string[], attrs: [string, number][] = []): Pb => {
    const n = new Pb();
    for (const i of inputs) n.str(1, i);
    for (const o of outputs) n.str(2, o);
    n.str(3, `${op}_${outputs[0]}`).str(4, op);
    for (const [name, v] of attrs) n.msg(5, new Pb().str(1, name).int(3, v).int(20, 2)); // AttributeProto INT
    return n;
  };
  const g = new Pb();
  for (const n of [
    node('Split', ['keys'], ['a', 'b'], [['axis', -1]]),
    node('Mul', ['a', 'cos'], ['ac']), node('Mul', ['b', 'sin'], ['bs']), node('Sub', ['ac', 'bs'], ['o1']),
    node('Mul', ['b', 'cos'], ['bc']), node('Mul', ['a', 'sin'], ['as']), node('Add', ['bc', 'as'], ['o2']),
    node('Concat', ['o1', 'o2'], ['out'], [['axis', -1]]),
  ]) g.msg(1, n);
  g.str(2, 'rotary_shift');
  g.msg(11, valueInfo('keys', ['n', 'rows', headDim])).msg(11, valueInfo('cos', ['rows', headDim / 2])).msg(11, valueInfo('sin', ['rows', headDim / 2]));
  g.msg(12, valueInfo('out', ['n', 'rows', headDim]));
  return new Pb().int(1, 8).str(2, 'typeguide-bench').msg(7, g).msg(8, new Pb().str(1, '').int(2, 17)).done();
}

interface OrtRotationRow { shape: string; rows: number; jsMs: number; ortPerLayerMs: number; ortJoinedMs: number; maxAbsDiff: number }

/** JS kernel vs the graph, per layer (24 runs, no input copy, output copied back) and with all layers
 *  joined in one run (gather + scatter copies), for `rowsList` rotated rows of this model's cache. */
async function rotationOrt(model: CodeModel, rowsList: number[], threads: number | undefined): Promise<OrtRotationRow[]> {
  const c = model.config;
  if (c.rotaryStyle !== 'half' || c.rotaryDim !== c.headDim) return [];
  const session = await floatGraphRunner(rotaryGraph(c.headDim), threads);
  const spec = resolveRotary(c);
  if (!spec.ok) return [];
  const out: OrtRotationRow[] = [];
  const L = c.numLayers;
  const H = c.numKvHeads;
  const D = c.headDim;
  const P = D / 2;
  for (const rows of rowsList) {
    const n = H * rows * D;
    const make = (): Float32Array[] => Array.from({ length: L }, (_, l) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + l)));
    const jsKeys = make();
    const cache = new KvCache('float32', L, H, D, jsKeys, Array.from({ length: L }, () => new Float32Array(n)), rows);
    const shifter = new RotaryShifter(spec.spec);
    const from = 800;
    const delta = 12;
    const tableOf = (): { cos: Float32Array; sin: Float32Array } => {
      const t = shifter.rowTable(from, rows, delta);
      return { cos: Float32Array.from(t.cos.subarray(0, rows * P)), sin: Float32Array.from(t.sin.subarray(0, rows * P)) };
    };
    // One checked pass of each, then timed passes (medians), rotating back and forth.
    const ortKeys = make();
    shifter.shiftKeys(cache, 0, rows, delta, from);
    const tb = tableOf();
    const cosT = { data: tb.cos, dims: [rows, P] };
    const sinT = { data: tb.sin, dims: [rows, P] };
    const perLayer = async (keys: Float32Array[]): Promise<void> => {
      for (let l = 0; l < L; l++) {
        const r = await session.run({ keys: { data: keys[l], dims: [H, rows, D] }, cos: cosT, sin: sinT });
        keys[l].set(r.out);
      }
    };
    const joinedBuf = new Float32Array(L * n);
    const joined = async (keys: Float32Array[]): Promise<void> => {
      for (let l = 0; l < L; l++) joinedBuf.set(keys[l], l * n);
      const r = await session.run({ keys: { data: joinedBuf, dims: [L * H, rows, D] }, cos: cosT, sin: sinT });
      const data = r.out;
      for (let l = 0; l < L; l++) keys[l].set(data.subarray(l * n, (l + 1) * n));
    };
    await perLayer(ortKeys);
    let maxAbsDiff = 0;
    for (let l = 0; l < L; l++) for (let i = 0; i < n; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ortKeys[l][i] - jsKeys[l][i]));
    const time = async (f: () => unknown): Promise<number> => {
      const ts: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        await f();
        ts.push(performance.now() - t0);
      }
      return median(ts);
    };
    const jsMs = await time(() => shifter.shiftKeys(cache, 0, rows, delta, from));
    const ortPerLayerMs = await time(() => perLayer(ortKeys));
    const ortJoinedMs = await time(() => joined(ortKeys));
    out.push({ shape: `${L} layers × ${H} kv heads × ${D}`, rows, jsMs: r2(jsMs), ortPerLayerMs: r2(ortPerLayerMs), ortJoinedMs: r2(ortJoinedMs), maxAbsDiff: Number(maxAbsDiff.toPrecision(3)) });
    cache.dispose();
  }
  await session.release();
  return out;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
