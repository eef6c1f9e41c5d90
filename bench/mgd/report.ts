// Output of an evaluation: the JSON document (keys fixed by the issue), a console table, and a
// Markdown report with an SVG bar chart of with vs without.
import type { PromptMode } from './completer.js';
import { summarizeConfig, type ConfigReport, type ConfigSummary, type EvalRun } from './evaluate.js';
import type { Interval } from './metrics.js';
import type { SiteKind } from './sites.js';
import type { MonitorStatistics } from '../../language-monitor/index.js';

export interface RunInfo {
  readonly model: string;
  /** From the model folder's training.json when present (which build of the model this was). */
  readonly modelInfo?: { params?: number; tokensSeen?: number; valLoss?: number; preset?: string; onnxBytes?: number; onnxModified?: string };
  readonly monitor: boolean;
  readonly seed: number;
  readonly limit: number;
  readonly packageList: string;
  readonly wallMs: number;
  readonly maxPromptTokens?: number;
  readonly maxNewTokens?: number;
  readonly monitorTimeoutMs?: number;
}

export interface EvalJson extends ConfigReport {
  /** Which configuration the top-level numbers are (the one the extension uses by default). */
  defaultConfig: PromptMode;
  configs: Partial<Record<PromptMode, ConfigReport>>;
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
    outputs: Partial<Record<PromptMode, {
      without: string; with: string; crWithout: number; crWith: number; errorsWithout: number; errorsWith: number;
      /** The errors each arm's line introduced (line, code, message), at most 5, each at most 200 characters. */
      newErrorsWithout: string[]; newErrorsWith: string[];
    }>>;
  }[];
}

/** The first errors, each cut to 200 characters (TypeScript's messages quote whole types). */
const errorSample = (keys: readonly string[]): string[] => keys.slice(0, 5).map((k) => (k.length > 200 ? `${k.slice(0, 199)}…` : k));

/** The extension completes with fill-in-the-middle when the model has a template, else left context only. */
export function defaultMode(modes: readonly PromptMode[]): PromptMode {
  return modes.includes('fim') ? 'fim' : 'left';
}

export function buildJson(run: EvalRun, info: RunInfo): EvalJson {
  const configs: Partial<Record<PromptMode, ConfigReport>> = {};
  for (const mode of run.modes) configs[mode] = summarizeConfig(run.results, mode, info.seed);
  const def = defaultMode(run.modes);
  const top = configs[def] ?? summarizeConfig([], def, info.seed);
  return {
    ...top,
    defaultConfig: def,
    configs,
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

/** Plain-text tables (per configuration: by package, then by site kind) for the console. */
export function formatTables(json: EvalJson): string {
  const out: string[] = [];
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
export function markdownReport(json: EvalJson, chartFile: (mode: PromptMode) => string): string {
  const lines: string[] = [
    '# Monitor-guided decoding: dereference benchmark',
    '',
    `Model \`${json.run.model}\`${json.run.modelInfo?.params ? ` (${(json.run.modelInfo.params / 1e6).toFixed(1)}M parameters, validation loss ${json.run.modelInfo.valLoss ?? '?'})` : ''}, package list \`${json.run.packageList}\`, seed ${json.run.seed}, limit ${json.run.limit}, ` +
      `${json.sites} sites, wall time ${(json.run.wallMs / 1000).toFixed(1)} s. Monitor: ${json.run.monitor ? 'on' : 'not available (the with-monitor arm repeats the without arm)'}.`,
    '',
    'Each site is an `expr.` or `expr?.` in a real TypeScript or hand-written JavaScript file where the checker resolves the receiver and the authors\' member is legal. ' +
      'The model completes greedily to the end of the line. NIM: first identifier equals the authors\'; ISM/PM: longest common prefix ' +
      'of identifiers/tokens over the authors\' count; CR: the generated line is non-empty and the file with it has no error the original lacks ' +
      '(errors compared as a multiset by line, code and message, with the package\'s own tsconfig.json when it has one). ' +
      'Percent; Δ with paired bootstrap 95% CI.',
    '',
  ];
  for (const [mode, report] of Object.entries(json.configs) as [PromptMode, ConfigReport][]) {
    lines.push(`## Configuration: ${mode === 'fim' ? 'fill-in-the-middle (left + right context)' : 'left context only'}${mode === json.defaultConfig ? ' (default)' : ''}`, '');
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

/** Side-by-side comparison of runs (one JSON per model): the paper's question is whether a small model
 *  with the monitor beats a larger one without it. */
export function comparisonMarkdown(runs: readonly EvalJson[]): string {
  const header = ['model', 'config', 'n', 'NIM', 'NIM+M', 'ΔNIM [95% CI]', 'CR', 'CR+M', 'ΔCR [95% CI]', 'ISM', 'ISM+M', 'PM', 'PM+M', 'ms', 'ms+M', 'trig', 'in time %'];
  const lines = ['# Monitor-guided decoding: models side by side', '', `| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const run of runs) {
    for (const [mode, c] of Object.entries(run.configs) as [PromptMode, ConfigReport][]) {
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
