// Output of an evaluation: the JSON document (keys fixed by the issue), a console table, and a
// Markdown report with an SVG bar chart of with vs without.
import type { ContextReport } from '../../engine/completionEngine.js';
import { parseConfig, type ConfigName } from './completer.js';
import { contextComparisons, round, summarizeConfig, type ArmSummary, type Comparison, type ConfigReport, type ConfigSummary, type EvalRun } from './evaluate.js';
import type { Interval } from './metrics.js';
import type { SiteKind } from './sites.js';
import type { MonitorStatistics } from '../../language-monitor/index.js';

export interface RunInfo {
  readonly model: string;
  /** From the model folder's training.json when present (which build of the model this was). */
  readonly modelInfo?: { params?: number; tokensSeen?: number; valLoss?: number; preset?: string; onnxFile?: string; onnxBytes?: number; onnxModified?: string };
  readonly monitor: boolean;
  readonly seed: number;
  readonly limit: number;
  readonly packageList: string;
  readonly wallMs: number;
  readonly maxPromptTokens?: number;
  readonly maxNewTokens?: number;
  readonly monitorTimeoutMs?: number;
  /** Project context budget of the context configurations (tokens). */
  readonly contextBudgetTokens?: number;
}

export interface EvalJson extends ConfigReport {
  /** Which configuration the top-level numbers are (the one the extension uses by default). */
  defaultConfig: ConfigName;
  configs: Partial<Record<ConfigName, ConfigReport>>;
  /** Paired differences across configurations: project context vs none, with and without the monitor. */
  comparisons: Comparison[];
  run: RunInfo;
  packageRuns: EvalRun['packages'];
  /** What the monitor did over the whole run (absent without a monitor). */
  monitorStatistics?: MonitorSummary;
  results: {
    id: string;
    kind: SiteKind;
    member: string;
    truth: string;
    legalCount: number;
    baselineErrors: number;
    outputs: Partial<Record<ConfigName, {
      without: string; with: string; crWithout: number; crWith: number; errorsWithout: number; errorsWith: number;
      /** The errors each arm's line introduced (line, code, message), at most 5, each at most 200 characters. */
      newErrorsWithout: string[]; newErrorsWith: string[];
      nimWithout: number; nimWith: number;
      /** Exact match (0/1) and edit similarity (0–1) of the whole completed line. */
      emWithout: number; emWith: number; esWithout: number; esWith: number;
      msWithout: number; msWith: number;
      /** What project context each arm's prompt held (context configurations). */
      contextWithout?: ContextReport; contextWith?: ContextReport;
    }>>;
  }[];
}

/** The first errors, each cut to 200 characters (TypeScript's messages quote whole types). */
const errorSample = (keys: readonly string[]): string[] => keys.slice(0, 5).map((k) => (k.length > 200 ? `${k.slice(0, 199)}…` : k));

/**
 * The extension completes with fill-in-the-middle when the model has a template, else left context only.
 * The top level is a configuration without project context when one ran, comparable with runs made
 * before context existed.
 */
export function defaultMode(modes: readonly ConfigName[]): ConfigName {
  return (['fim', 'left', 'fim+context', 'left+context'] as const).find((m) => modes.includes(m)) ?? 'left';
}

export function buildJson(run: EvalRun, info: RunInfo): EvalJson {
  const configs: Partial<Record<ConfigName, ConfigReport>> = {};
  for (const mode of run.modes) configs[mode] = summarizeConfig(run.results, mode, info.seed);
  const def = defaultMode(run.modes);
  const top = configs[def] ?? summarizeConfig([], def, info.seed);
  return {
    ...top,
    defaultConfig: def,
    configs,
    comparisons: contextComparisons(run.results, run.modes, info.seed),
    run: info,
    packageRuns: run.packages,
    results: run.results.map((r) => ({
      id: r.site.id,
      kind: r.site.kind,
      member: r.site.member,
      truth: r.site.truth,
      legalCount: r.site.legalCount,
      baselineErrors: r.baselineErrors,
      outputs: Object.fromEntries(
        Object.entries(r.configs).map(([mode, c]) => [mode, {
          without: c.without.text, with: c.with.text, crWithout: c.without.cr, crWith: c.with.cr, errorsWithout: c.without.errors, errorsWith: c.with.errors,
          newErrorsWithout: errorSample(c.without.newErrors), newErrorsWith: errorSample(c.with.newErrors),
          nimWithout: c.without.nim, nimWith: c.with.nim,
          emWithout: c.without.em, emWith: c.with.em, esWithout: round(c.without.es, 4), esWith: round(c.with.es, 4),
          msWithout: round(c.without.ms, 1), msWith: round(c.with.ms, 1),
          ...(c.without.context ? { contextWithout: c.without.context } : {}),
          ...(c.with.context ? { contextWith: c.with.context } : {}),
        }]),
      ),
    })),
  };
}

export interface MonitorSummary {
  triggers: Record<string, number>;
  queries: number;
  cacheHits: number;
  timeouts: number;
  failures: number;
  serverMsP50: number | null;
  serverMsP95: number | null;
  maskedSteps: number;
  argmaxChanged: number;
  maskUsP50: number | null;
  fastForwards: number;
  forcedTokens: number;
  forwardPassesSaved: number;
}

function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 100) / 100;
}

export function summarizeStatistics(s: MonitorStatistics): MonitorSummary {
  return {
    triggers: { ...s.triggers },
    queries: s.queries,
    cacheHits: s.cacheHits,
    timeouts: s.timeouts,
    failures: s.failures,
    serverMsP50: quantile(s.serverMs, 0.5),
    serverMsP95: quantile(s.serverMs, 0.95),
    maskedSteps: s.maskedSteps,
    argmaxChanged: s.argmaxChanged,
    maskUsP50: quantile(s.maskUs, 0.5),
    fastForwards: s.fastForwards,
    forcedTokens: s.forcedTokens,
    forwardPassesSaved: s.forwardPassesSaved,
  };
}

const fmtIv = (iv: Interval): string => `${sign(iv.mean)} [${sign(iv.lo)}, ${sign(iv.hi)}]`;
const sign = (x: number): string => (x > 0 ? `+${x.toFixed(1)}` : x.toFixed(1));

/** The monitored arm's triggers: total, constrained, timed out, no usable answer. */
const triggerCells = (s: ConfigSummary): string[] => [String(s.triggers.total), String(s.triggers.constrained), String(s.triggers.timeout), String(s.triggers.noAnswer)];
const TRIGGER_HEADER = ['trig', 'constr', 'tmo', 'no-ans'];

function tableRows(report: ConfigReport): string[][] {
  const row = (label: string, s: ConfigSummary): string[] => [
    label,
    String(s.sites),
    s.without.nim.toFixed(1),
    s.with.nim.toFixed(1),
    fmtIv(s.nimDelta),
    s.without.ism.toFixed(1),
    s.with.ism.toFixed(1),
    s.without.pm.toFixed(1),
    s.with.pm.toFixed(1),
    s.without.cr.toFixed(1),
    s.with.cr.toFixed(1),
    fmtIv(s.crDelta),
    s.changed.toFixed(0),
    s.without.msMean.toFixed(0),
    s.with.msMean.toFixed(0),
    ...triggerCells(s),
  ];
  return [...Object.entries(report.packages).map(([label, s]) => row(label, s)), row('overall', report)];
}

const HEADER = ['package', 'n', 'NIM', 'NIM+M', 'ΔNIM [95% CI]', 'ISM', 'ISM+M', 'PM', 'PM+M', 'CR', 'CR+M', 'ΔCR [95% CI]', 'chg%', 'ms', 'ms+M', ...TRIGGER_HEADER];

/** One row per site kind: does the monitor help at `this.#x`, `?.`, `this.` and in JavaScript too. */
function kindRows(report: ConfigReport): string[][] {
  return Object.entries(report.byKind).map(([kind, s]) => [
    kind, String(s.sites), s.without.nim.toFixed(1), s.with.nim.toFixed(1), fmtIv(s.nimDelta), s.without.cr.toFixed(1), s.with.cr.toFixed(1), fmtIv(s.crDelta), s.changed.toFixed(0), ...triggerCells(s),
  ]);
}

const KIND_HEADER = ['kind', 'n', 'NIM', 'NIM+M', 'ΔNIM [95% CI]', 'CR', 'CR+M', 'ΔCR [95% CI]', 'chg%', ...TRIGGER_HEADER];

function textTable(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
}

/** Percent of the monitored arm's triggers answered within the bound (not timed out), or null without triggers. */
export function answeredInTime(s: ConfigSummary): number | null {
  return s.triggers.total === 0 ? null : Math.round(((s.triggers.total - s.triggers.timeout) / s.triggers.total) * 1000) / 10;
}

function triggerLine(s: ConfigSummary): string {
  const t = s.triggers;
  const inTime = answeredInTime(s);
  return `triggers (with monitor): ${t.total} total, ${t.constrained} constrained, ${t.timeout} timed out, ${t.noAnswer} no answer` +
    (inTime === null ? '' : `; ${inTime}% answered in time`);
}

/** What a configuration is, in words. */
export function configTitle(name: ConfigName, budgetTokens?: number): string {
  const { mode, context } = parseConfig(name);
  const base = mode === 'fim' ? 'fill-in-the-middle (left + right context)' : 'left context only';
  return context ? `${base}, with project context${budgetTokens !== undefined ? ` (budget ${budgetTokens} tokens)` : ''}` : base;
}

const ARM_HEADER = ['config', 'arm', 'n', 'NIM', 'ISM', 'PM', 'CR', 'EM', 'ES', 'ms p50', 'ms mean', 'ctx tok', 'ctx %', 'decl %', 'chunks by source'];

/** One row per configuration and arm: every score, the latency and what project context went in. */
function armRows(json: EvalJson): string[][] {
  const rows: string[][] = [];
  for (const [name, c] of Object.entries(json.configs) as [ConfigName, ConfigReport][]) {
    for (const arm of ['without', 'with'] as const) {
      const s: ArmSummary = c[arm];
      const ctx = s.context;
      rows.push([
        name, arm === 'with' ? 'monitor' : 'none', String(c.sites),
        s.nim.toFixed(1), s.ism.toFixed(1), s.pm.toFixed(1), s.cr.toFixed(1),
        // JSON written before EM/ES were reported has none.
        s.em?.toFixed(1) ?? 'n/a', s.es?.toFixed(1) ?? 'n/a', s.msP50?.toFixed(0) ?? 'n/a', s.msMean.toFixed(0),
        ctx ? ctx.tokensMean.toFixed(0) : '-', ctx ? ctx.sitesWithContext.toFixed(0) : '-', ctx ? ctx.sitesWithDeclaration.toFixed(0) : '-',
        ctx ? Object.entries(ctx.chunksBySource).map(([k, n]) => `${k} ${n}`).join(', ') || 'none' : '-',
      ]);
    }
  }
  return rows;
}

const COMPARISON_HEADER = ['difference', 'b − a', 'n', 'ΔNIM [95% CI]', 'ΔCR [95% CI]', 'ΔEM [95% CI]', 'ΔES [95% CI]', 'NIM +/−', 'CR +/−', 'EM +/−', 'chg'];

function comparisonRows(comparisons: readonly Comparison[]): string[][] {
  return comparisons.map((c) => [
    c.label, `${c.b} − ${c.a}`, String(c.sites), fmtIv(c.nim), fmtIv(c.cr), fmtIv(c.em), fmtIv(c.es),
    `${c.better.nim}/${c.worse.nim}`, `${c.better.cr}/${c.worse.cr}`, `${c.better.em}/${c.worse.em}`, String(c.changed),
  ]);
}

/** Plain-text tables (all configurations and arms, the cross-configuration differences, then per configuration: by package, by site kind) for the console. */
export function formatTables(json: EvalJson): string {
  const out: string[] = [];
  out.push('configurations and arms   (percent; EM/ES: the whole completed line; ms: completion latency; ctx: project context tokens, % of sites with any, with a declaration)');
  out.push(...textTable([ARM_HEADER, ...armRows(json)]), '');
  if (json.comparisons?.length) {
    out.push('paired differences across configurations   (b − a, percentage points, paired bootstrap 95% CI; +/−: sites where b scored higher/lower)');
    out.push(...textTable([COMPARISON_HEADER, ...comparisonRows(json.comparisons)]), '');
  }
  for (const [mode, report] of Object.entries(json.configs)) {
    out.push(`configuration: ${mode}${mode === json.defaultConfig ? ' (default)' : ''}   (+M = with monitor; percent; CI = paired bootstrap; trig..no-ans: the monitored arm's triggers)`);
    out.push(...textTable([HEADER, ...tableRows(report)]));
    out.push('', ...textTable([KIND_HEADER, ...kindRows(report)]));
    out.push(triggerLine(report), '');
  }
  return out.join('\n');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Grouped bars: NIM, ISM, PM, CR without vs with the monitor, with the arms' 95% intervals for NIM and CR. */
export function barChartSvg(report: ConfigSummary, title: string): string {
  const metrics: { key: 'nim' | 'ism' | 'pm' | 'cr'; label: string }[] = [
    { key: 'nim', label: 'next-identifier match' },
    { key: 'ism', label: 'identifier-sequence match' },
    { key: 'pm', label: 'prefix match' },
    { key: 'cr', label: 'compile rate' },
  ];
  const W = 640;
  const H = 320;
  const left = 50;
  const bottom = 260;
  const top = 40;
  const plotH = bottom - top;
  const groupW = (W - left - 20) / metrics.length;
  const barW = groupW * 0.32;
  const y = (v: number): number => bottom - (Math.max(0, Math.min(100, v)) / 100) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (let v = 0; v <= 100; v += 25) {
    parts.push(`<line x1="${left}" x2="${W - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  metrics.forEach((m, i) => {
    const gx = left + i * groupW + groupW * 0.15;
    const arms: { name: 'without' | 'with'; color: string }[] = [{ name: 'without', color: '#9aa5b1' }, { name: 'with', color: '#2f6fdf' }];
    arms.forEach((a, j) => {
      const v = report[a.name][m.key];
      const x = gx + j * (barW + 4);
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(bottom - y(v)).toFixed(1)}" fill="${a.color}"><title>${a.name} monitor: ${v.toFixed(1)}%</title></rect>`);
      let labelY = y(v) - 4;
      if (m.key === 'nim' || m.key === 'cr') {
        const iv = report.intervals[a.name][m.key];
        const cx = x + barW / 2;
        parts.push(`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${y(iv.lo).toFixed(1)}" y2="${y(iv.hi).toFixed(1)}" stroke="#222"/>`);
        labelY = Math.min(labelY, y(iv.hi) - 4);
      }
      parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${labelY.toFixed(1)}" text-anchor="middle" font-size="10">${v.toFixed(1)}</text>`);
    });
    parts.push(`<text x="${(gx + barW + 2).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${esc(m.label)}</text>`);
  });
  parts.push(
    `<rect x="${left}" y="${H - 28}" width="12" height="12" fill="#9aa5b1"/><text x="${left + 16}" y="${H - 18}">without monitor</text>`,
    `<rect x="${left + 140}" y="${H - 28}" width="12" height="12" fill="#2f6fdf"/><text x="${left + 156}" y="${H - 18}">with monitor</text>`,
    `<text x="${W - 20}" y="${H - 18}" text-anchor="end" fill="#555">n = ${report.sites} sites; whiskers: 95% bootstrap CI</text>`,
    '</svg>',
  );
  return parts.join('\n') + '\n';
}

/** The Markdown report; `chartFile(mode)` names the SVG written beside it for each configuration. */
export function markdownReport(json: EvalJson, chartFile: (mode: ConfigName) => string): string {
  const mdTable = (header: readonly string[], rows: readonly string[][], textColumns: readonly number[]): string[] => [
    `| ${header.join(' | ')} |`, `|${header.map((_, i) => (textColumns.includes(i) ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  const contextRan = Object.keys(json.configs).some((m) => parseConfig(m as ConfigName).context);
  const lines: string[] = [
    '# Monitor-guided decoding: dereference benchmark',
    '',
    `Model \`${json.run.model}\`${json.run.modelInfo?.params ? ` (${(json.run.modelInfo.params / 1e6).toFixed(1)}M parameters${json.run.modelInfo.onnxFile ? `, ${json.run.modelInfo.onnxFile}` : ''}, validation loss ${json.run.modelInfo.valLoss ?? '?'})` : ''}, package list \`${json.run.packageList}\`, seed ${json.run.seed}, limit ${json.run.limit}, ` +
      `${json.sites} sites, wall time ${(json.run.wallMs / 1000).toFixed(1)} s. Monitor: ${json.run.monitor ? 'on' : 'not available (the with-monitor arm repeats the without arm)'}.`,
    '',
    'Each site is an `expr.` or `expr?.` in a real TypeScript or hand-written JavaScript file where the checker resolves the receiver and the authors\' member is legal. ' +
      'The model completes greedily to the end of the line. NIM: first identifier equals the authors\'; ISM/PM: longest common prefix ' +
      'of identifiers/tokens over the authors\' count; CR: the generated line is non-empty and the file with it has no error the original lacks ' +
      '(errors compared as a multiset by line, code and message, with the package\'s own tsconfig.json when it has one); ' +
      'EM/ES: exact match and edit similarity (1 − Levenshtein / longer length) of the whole completed line with the authors\' line. ' +
      'Percent; Δ with paired bootstrap 95% CI.' +
      (contextRan
        ? ' A `+context` configuration puts project context before the file in the prompt, as the extension does with `typeguide.context.enabled` (off by default, from these numbers): declarations of the names the file imports, ' +
          'found through the arm\'s own language server (go to definition; looked up before the completion, not timed), within ' +
          `${json.run.contextBudgetTokens ?? '?'} tokens on top of the prompt window. The harness opens no editor documents, so recent edits and open-file snippets never apply.`
        : ''),
    '',
    '## All configurations and arms',
    '',
    ...mdTable(ARM_HEADER, armRows(json), [0, 1, ARM_HEADER.length - 1]),
    '',
    'ctx tok: mean project-context tokens per prompt; ctx %: sites with any context; decl %: sites with at least one declaration chunk.',
    '',
  ];
  if (json.comparisons?.length) {
    lines.push('## Project context: paired differences', '',
      'b − a over the same sites, percentage points, paired bootstrap 95% CI; +/−: sites where b scored higher / lower; chg: sites where the texts differ.', '',
      ...mdTable(COMPARISON_HEADER, comparisonRows(json.comparisons), [0, 1]), '');
    lines.push(...contextExamples(json));
  }
  for (const [mode, report] of Object.entries(json.configs) as [ConfigName, ConfigReport][]) {
    lines.push(`## Configuration: ${configTitle(mode, json.run.contextBudgetTokens)}${mode === json.defaultConfig ? ' (default)' : ''}`, '');
    lines.push(`![with vs without, ${mode}](${chartFile(mode)})`, '');
    lines.push(`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const r of tableRows(report)) lines.push(`| ${r.join(' | ')} |`);
    lines.push('', 'By site kind (`private`: `x.#name`; `optional`: `x?.name`; `this`: `this.name`; `js`: any access in a JavaScript file; `member`: the rest):', '');
    lines.push(`| ${KIND_HEADER.join(' | ')} |`, `|${KIND_HEADER.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const r of kindRows(report)) lines.push(`| ${r.join(' | ')} |`);
    lines.push('', `Relative compile-rate change: ${report.crRelative === null ? 'n/a' : `${sign(report.crRelative)}%`}; latency ratio with/without: ${report.latencyRatio ?? 'n/a'}; ${triggerLine(report)}.`, '');
  }
  const ms = json.monitorStatistics;
  if (ms) {
    lines.push('## What the monitor did', '',
      `Server queries ${ms.queries} (cache hits ${ms.cacheHits}, timeouts ${ms.timeouts}, failures ${ms.failures}); server answer p50 ${ms.serverMsP50 ?? 'n/a'} ms, p95 ${ms.serverMsP95 ?? 'n/a'} ms. ` +
      `Masked steps ${ms.maskedSteps}, argmax changed ${ms.argmaxChanged}; mask p50 ${ms.maskUsP50 ?? 'n/a'} µs. Fast-forwards ${ms.fastForwards} (${ms.forcedTokens} tokens forced, ${ms.forwardPassesSaved} forward passes saved). ` +
      `Triggers: ${Object.entries(ms.triggers).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '');
  }
  const ran = json.packageRuns.filter((p) => !p.error);
  if (ran.length > 0) {
    lines.push('## Packages', '', '| package | files | JavaScript | sites | by kind | checker options |', '|---|---:|---:|---:|---|---|');
    for (const p of ran) {
      const opts = p.compilerOptions?.source === 'tsconfig' ? `\`${p.compilerOptions.file}\`` : `defaults${p.compilerOptions?.note ? ` (${p.compilerOptions.note.replace(/\|/g, '\\|')})` : ''}`;
      lines.push(`| ${p.label} | ${p.files} | ${p.jsFiles} | ${p.sites} | ${Object.entries(p.sitesByKind).map(([k, n]) => `${k} ${n}`).join(', ')} | ${opts} |`);
    }
    lines.push('');
  }
  const skipped = json.packageRuns.filter((p) => p.error);
  if (skipped.length > 0) {
    lines.push('## Packages skipped', '');
    for (const p of skipped) lines.push(`- ${p.label}: ${p.error}`);
    lines.push('');
  }
  const changed = json.results.filter((r) => { const o = r.outputs[json.defaultConfig]; return o && o.with !== o.without; }).slice(0, 15);
  if (changed.length > 0) {
    lines.push(`## Examples where the monitor changed the output (${json.defaultConfig})`, '', '| site | authors | without | with |', '|---|---|---|---|');
    const cell = (s: string): string => (s === '' ? '(empty)' : `\`${s.replace(/\|/g, '\\|').replace(/`/g, "'").slice(0, 60)}\``);
    for (const r of changed) {
      const o = r.outputs[json.defaultConfig]!;
      lines.push(`| ${r.id} | ${cell(r.truth)} | ${cell(o.without)} | ${cell(o.with)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** Sites where project context changed the first score (without the monitor): where it hurt first. */
function contextExamples(json: EvalJson): string[] {
  const cell = (s: string): string => (s === '' ? '(empty)' : `\`${s.replace(/\|/g, '\\|').replace(/`/g, "'").slice(0, 60)}\``);
  const out: string[] = [];
  for (const name of Object.keys(json.configs) as ConfigName[]) {
    const { mode, context } = parseConfig(name);
    if (!context || !json.configs[mode]) continue;
    const rows = json.results
      .map((r) => ({ r, a: r.outputs[mode], b: r.outputs[name] }))
      .filter((x) => x.a && x.b && x.a.without !== x.b.without)
      .map((x) => ({ ...x, d: (x.b!.nimWithout - x.a!.nimWithout) * 4 + (x.b!.crWithout - x.a!.crWithout) * 2 + (x.b!.emWithout - x.a!.emWithout) }))
      .sort((x, y) => x.d - y.d)
      .slice(0, 15);
    if (rows.length === 0) continue;
    out.push(`### Where context changed the output (${name} vs ${mode}, no monitor; worst first)`, '',
      '| site | authors | without context | with context | NIM | CR | context chunks |', '|---|---|---|---|---:|---:|---|');
    for (const { r, a, b } of rows) {
      const chunks = b!.contextWithout?.chunks.map((c) => `${c.source} ${c.path}:${c.lines}`).join(', ') || 'none';
      out.push(`| ${r.id} | ${cell(r.truth)} | ${cell(a!.without)} | ${cell(b!.without)} | ${a!.nimWithout}→${b!.nimWithout} | ${a!.crWithout}→${b!.crWithout} | ${chunks.replace(/\|/g, '\\|')} |`);
    }
    out.push('');
  }
  return out;
}

/** Side-by-side comparison of runs (one JSON per model): the paper's question is whether a small model
 *  with the monitor beats a larger one without it. */
export function comparisonMarkdown(runs: readonly EvalJson[]): string {
  const header = ['model', 'config', 'n', 'NIM', 'NIM+M', 'ΔNIM [95% CI]', 'CR', 'CR+M', 'ΔCR [95% CI]', 'ISM', 'ISM+M', 'PM', 'PM+M', 'ms', 'ms+M', 'trig', 'in time %'];
  const lines = ['# Monitor-guided decoding: models side by side', '', `| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const run of runs) {
    for (const [mode, c] of Object.entries(run.configs) as [ConfigName, ConfigReport][]) {
      const label = run.run.model + (run.run.monitorTimeoutMs !== undefined ? `, monitor bound ${run.run.monitorTimeoutMs} ms` : '');
      lines.push(`| ${[label, mode + (mode === run.defaultConfig ? ' (default)' : ''), String(c.sites), c.without.nim.toFixed(1), c.with.nim.toFixed(1), fmtIv(c.nimDelta),
        c.without.cr.toFixed(1), c.with.cr.toFixed(1), fmtIv(c.crDelta), c.without.ism.toFixed(1), c.with.ism.toFixed(1), c.without.pm.toFixed(1), c.with.pm.toFixed(1),
        c.without.msMean.toFixed(0), c.with.msMean.toFixed(0),
        // JSON written before triggers were reported has none.
        c.triggers ? String(c.triggers.total) : 'n/a', c.triggers ? String(answeredInTime(c) ?? 'n/a') : 'n/a'].join(' | ')} |`);
    }
  }
  const sameSites = runs.every((r) => r.results.map((x) => x.id).join() === runs[0]?.results.map((x) => x.id).join());
  lines.push('', sameSites ? 'All runs scored the same sites (same package list, seed and limit).' : 'Warning: the runs scored different sites; compare with care.', '');
  return lines.join('\n');
}
