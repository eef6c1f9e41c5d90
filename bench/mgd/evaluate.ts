// The evaluation loop: per package, install, find sites, complete each site without and with the
// monitor in each configuration (prompt mode, with or without project context), score, and summarize
// with paired bootstrap intervals, within a configuration (monitor vs none) and across configurations
// (project context vs none).
import fs from 'node:fs';
import type { ContextReport } from '../../engine/completionEngine.js';
import { parseConfig, type Completer, type ConfigName, type TriggerCounts } from './completer.js';
import { introducedErrors, lineScores, matchScores, pairedBootstrap, spliceLine, firstLine, mean, type Interval } from './metrics.js';
import { installPackage, isJavaScriptFile, specLabel, type InstalledPackage, type PackageSpec } from './packages.js';
import { findSites, SITE_KINDS, type Site, type SiteKind } from './sites.js';
import { TsProject, type CompilerOptionsSource } from './tsProject.js';
import { median as medianOr } from '../stats.js';

const median = (xs: readonly number[]): number => medianOr(xs, 0);

export interface ArmResult {
  readonly text: string;
  readonly nim: number;
  readonly ism: number;
  readonly pm: number;
  /** Exact match and edit similarity of the whole completed line with the authors' line (metrics.ts). */
  readonly em: number;
  readonly es: number;
  /** 1 when the line is non-empty and the file with it has no error the original file lacks. */
  readonly cr: number;
  /** Errors in the file with this line (all of them, the original's included). */
  readonly errors: number;
  /** The errors this line introduced (keys: line, code, message), absent from the original file. */
  readonly newErrors: readonly string[];
  readonly ms: number;
  readonly tokens?: number;
  /** The monitor's triggers in this completion, by outcome (monitored arms). */
  readonly triggers?: TriggerCounts;
  /** What project context went into the prompt (context configurations). */
  readonly context?: ContextReport;
}

export interface SiteResult {
  readonly site: Site;
  /** Errors in the original file (the site's line as the authors wrote it). */
  readonly baselineErrors: number;
  /** Per configuration (`left`, `fim`, `fim+context`, ...). */
  readonly configs: Partial<Record<ConfigName, { without: ArmResult; with: ArmResult }>>;
}

export interface EvalOptions {
  readonly specs: readonly PackageSpec[];
  readonly cacheDir: string;
  readonly limit: number;
  readonly seed: number;
  readonly completer: Completer;
  /** Configurations to run, in this order at every site; FIM ones are dropped when the completer has no FIM template. */
  readonly modes?: readonly ConfigName[];
  readonly log?: (msg: string) => void;
}

export interface PackageRun {
  readonly label: string;
  readonly files: number;
  /** Of `files`, hand-written JavaScript. */
  readonly jsFiles: number;
  readonly sites: number;
  readonly sitesByKind: Partial<Record<SiteKind, number>>;
  /** Where the checker's options came from (the package's tsconfig.json or the defaults). */
  readonly compilerOptions?: CompilerOptionsSource;
  readonly error?: string;
  readonly ms: number;
}

export interface EvalRun {
  readonly results: SiteResult[];
  readonly packages: PackageRun[];
  readonly modes: ConfigName[];
}

export async function runEvaluation(opts: EvalOptions): Promise<EvalRun> {
  const log = opts.log ?? (() => undefined);
  const modes = (opts.modes ?? ['left', 'fim']).filter((m) => parseConfig(m).mode !== 'fim' || opts.completer.supportsFim);
  const results: SiteResult[] = [];
  const packages: PackageRun[] = [];
  for (let i = 0; i < opts.specs.length; i++) {
    const spec = opts.specs[i];
    // Sites left to find, shared out over the packages still to come (a short package's shortfall
    // moves on to the next ones).
    const want = Math.ceil((opts.limit - results.length) / (opts.specs.length - i));
    const t0 = performance.now();
    let pkg: InstalledPackage | undefined;
    try {
      pkg = await installPackage(spec, opts.cacheDir, log);
      const project = new TsProject(pkg.files, pkg.dir);
      try {
        // The site list is fixed before any completion: every arm and configuration scores the same sites.
        const sites = findSites(project, pkg.label, pkg.dir, pkg.files, want, { seed: opts.seed });
        const sitesByKind = countKinds(sites);
        const jsFiles = pkg.files.filter(isJavaScriptFile).length;
        const cfg = project.config;
        log(`${pkg.label}: ${pkg.files.length} files (${jsFiles} JavaScript), options from ${cfg.source === 'tsconfig' ? cfg.file : `defaults${cfg.note ? ` (${cfg.note})` : ''}`}, ` +
          `${sites.length} sites (${Object.entries(sitesByKind).map(([k, n]) => `${k} ${n}`).join(', ')})`);
        for (const site of sites) {
          results.push(await evaluateSite(project, site, pkg.dir, modes, opts.completer));
        }
        packages.push({ label: pkg.label, files: pkg.files.length, jsFiles, sites: sites.length, sitesByKind, compilerOptions: cfg, ms: performance.now() - t0 });
      } finally {
        project.dispose();
        await opts.completer.endPackage?.(pkg.dir);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`${specLabel(spec)}: skipped: ${message}`);
      packages.push({ label: pkg?.label ?? specLabel(spec), files: pkg?.files.length ?? 0, jsFiles: 0, sites: 0, sitesByKind: {}, error: message, ms: performance.now() - t0 });
    }
  }
  return { results, packages, modes };
}

/** Completes one site in every configuration, without and with the monitor, and scores the outputs. */
export async function evaluateSite(project: TsProject, site: Site, root: string, modes: readonly ConfigName[], completer: Completer): Promise<SiteResult> {
  const text = fs.readFileSync(site.file, 'utf8');
  const baseline = project.errorKeys(site.file, text);
  const prefix = text.slice(0, site.offset);
  const suffix = text.slice(site.lineEnd);
  const lineHead = text.slice(site.lineStart, site.offset);
  const configs: SiteResult['configs'] = {};
  for (const name of modes) {
    const { mode, context } = parseConfig(name);
    const arms: ArmResult[] = [];
    for (const monitor of [false, true]) {
      // Without a monitor the second arm would only repeat the first (greedy decoding is deterministic).
      if (monitor && !completer.hasMonitor) {
        arms.push(arms[0]);
        continue;
      }
      const out = await completer.complete({ site, text, prefix, suffix, root, mode, monitor, ...(context ? { context } : {}) });
      const generated = firstLine(out.text).trimEnd();
      const scores = { ...matchScores(generated, site.truth), ...lineScores(lineHead, generated, site.truth) };
      // One line in place of the rest of the site's line: no other line moves, so error keys compare.
      const keys = project.errorKeys(site.file, spliceLine(text, site.offset, site.lineEnd, generated));
      const newErrors = introducedErrors(baseline, keys);
      // An empty completion leaves the dot dangling; the parser may then take the next line's first
      // word as the member and the file may even check, but nothing was completed: it never compiles.
      const cr = generated.trim() !== '' && newErrors.length === 0 ? 1 : 0;
      arms.push({
        text: generated, ...scores, cr, errors: keys.length, newErrors, ms: out.ms, tokens: out.tokens,
        ...(out.triggers ? { triggers: out.triggers } : {}), ...(out.context ? { context: out.context } : {}),
      });
    }
    configs[name] = { without: arms[0], with: arms[1] };
  }
  project.setText(site.file, undefined);
  return { site, baselineErrors: baseline.length, configs };
}

function countKinds(sites: readonly Site[]): Partial<Record<SiteKind, number>> {
  const out: Partial<Record<SiteKind, number>> = {};
  for (const k of SITE_KINDS) {
    const n = sites.filter((s) => s.kind === k).length;
    if (n > 0) out[k] = n;
  }
  return out;
}

// ---- summaries ----

/** What project context an arm's prompts held (context configurations only). */
export interface ArmContextSummary {
  /** Mean context tokens per prompt. */
  tokensMean: number;
  /** Percent of sites whose prompt had any context. */
  sitesWithContext: number;
  /** Percent of sites whose prompt had at least one declaration chunk. */
  sitesWithDeclaration: number;
  /** Chunks over all sites, by source (declaration, edit, open-file). */
  chunksBySource: Record<string, number>;
  /** Context tokens over all sites, by source. */
  tokensBySource: Record<string, number>;
}

export interface ArmSummary {
  nim: number;
  ism: number;
  pm: number;
  cr: number;
  /** Mean completion latency, ms. */
  msMean: number;
  /** Exact match and edit similarity of the whole completed line, percent. */
  em: number;
  es: number;
  /** Median completion latency, ms. */
  msP50: number;
  /** Present in context configurations. */
  context?: ArmContextSummary;
}

export interface ConfigSummary {
  sites: number;
  without: ArmSummary;
  with: ArmSummary;
  nimDelta: Interval;
  ismDelta: Interval;
  pmDelta: Interval;
  crDelta: Interval;
  emDelta: Interval;
  esDelta: Interval;
  /** (cr with − cr without) / cr without, percent; null when cr without is 0. */
  crRelative: number | null;
  /** Percent of sites where the monitor changed the output. */
  changed: number;
  /** Mean latency with / without. */
  latencyRatio: number | null;
  /** The monitored arm's triggers by outcome, summed over the sites. */
  triggers: TriggerCounts;
  /** 95% intervals of the arms themselves. */
  intervals: { without: { nim: Interval; cr: Interval }; with: { nim: Interval; cr: Interval } };
}

const pct = (iv: Interval): Interval => ({ mean: round(iv.mean * 100), lo: round(iv.lo * 100), hi: round(iv.hi * 100) });

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}


type Arm = 'without' | 'with';
type Score = 'nim' | 'ism' | 'pm' | 'cr' | 'em' | 'es';
type ArmPair = { without: ArmResult; with: ArmResult };

function contextSummary(arms: readonly ArmResult[]): ArmContextSummary | undefined {
  const reports = arms.map((a) => a.context).filter((c): c is ContextReport => c !== undefined);
  if (reports.length === 0) return undefined;
  const chunksBySource: Record<string, number> = {};
  const tokensBySource: Record<string, number> = {};
  for (const r of reports) {
    for (const c of r.chunks) {
      chunksBySource[c.source] = (chunksBySource[c.source] ?? 0) + 1;
      tokensBySource[c.source] = (tokensBySource[c.source] ?? 0) + c.tokens;
    }
  }
  const share = (f: (r: ContextReport) => boolean): number => round((reports.filter(f).length / arms.length) * 100);
  return {
    // Arms without a report (a request that asked for none) count as no context.
    tokensMean: round(reports.reduce((s, r) => s + r.tokens, 0) / arms.length, 1),
    sitesWithContext: share((r) => r.chunks.length > 0),
    sitesWithDeclaration: share((r) => r.chunks.some((c) => c.source === 'declaration')),
    chunksBySource,
    tokensBySource,
  };
}

function armSummary(rows: readonly ArmPair[], a: Arm): ArmSummary {
  const col = (k: Score | 'ms'): number[] => rows.map((r) => r[a][k]);
  const context = contextSummary(rows.map((r) => r[a]));
  return {
    nim: round(mean(col('nim')) * 100),
    ism: round(mean(col('ism')) * 100),
    pm: round(mean(col('pm')) * 100),
    cr: round(mean(col('cr')) * 100),
    msMean: round(mean(col('ms')), 1),
    em: round(mean(col('em')) * 100),
    es: round(mean(col('es')) * 100),
    msP50: round(median(col('ms')), 1),
    ...(context ? { context } : {}),
  };
}

export function summarize(results: readonly SiteResult[], mode: ConfigName, seed: number): ConfigSummary {
  const rows = results.map((r) => r.configs[mode]).filter((c): c is ArmPair => c !== undefined);
  const col = (arm: Arm, k: Score): number[] => rows.map((r) => r[arm][k]);
  const delta = (k: Score, salt: number): Interval => pct(pairedBootstrap(col('without', k), col('with', k), seed + salt));
  const without = armSummary(rows, 'without');
  const withArm = armSummary(rows, 'with');
  return {
    sites: rows.length,
    without,
    with: withArm,
    nimDelta: delta('nim', 1),
    ismDelta: delta('ism', 2),
    pmDelta: delta('pm', 3),
    crDelta: delta('cr', 4),
    emDelta: delta('em', 9),
    esDelta: delta('es', 10),
    crRelative: without.cr === 0 ? null : round(((withArm.cr - without.cr) / without.cr) * 100),
    changed: round(rows.length === 0 ? 0 : (rows.filter((r) => r.with.text !== r.without.text).length / rows.length) * 100),
    latencyRatio: without.msMean > 0 ? round(withArm.msMean / without.msMean, 3) : null,
    triggers: rows.reduce<TriggerCounts>((a, r) => {
      const t = r.with.triggers;
      return t ? { total: a.total + t.total, constrained: a.constrained + t.constrained, timeout: a.timeout + t.timeout, noAnswer: a.noAnswer + t.noAnswer } : a;
    }, { total: 0, constrained: 0, timeout: 0, noAnswer: 0 }),
    intervals: {
      without: { nim: pct(pairedBootstrap(undefined, col('without', 'nim'), seed + 5)), cr: pct(pairedBootstrap(undefined, col('without', 'cr'), seed + 6)) },
      with: { nim: pct(pairedBootstrap(undefined, col('with', 'nim'), seed + 7)), cr: pct(pairedBootstrap(undefined, col('with', 'cr'), seed + 8)) },
    },
  };
}

export interface ConfigReport extends ConfigSummary {
  /** Per package (label → summary). */
  packages: Record<string, ConfigSummary>;
  /** Per site kind (see SiteKind), in SITE_KINDS order; only kinds with sites. */
  byKind: Partial<Record<SiteKind, ConfigSummary>>;
}

export function summarizeConfig(results: readonly SiteResult[], mode: ConfigName, seed: number): ConfigReport {
  const labels = [...new Set(results.map((r) => r.site.pkg))];
  const packages: Record<string, ConfigSummary> = {};
  for (const label of labels) packages[label] = summarize(results.filter((r) => r.site.pkg === label), mode, seed);
  const byKind: Partial<Record<SiteKind, ConfigSummary>> = {};
  for (const kind of SITE_KINDS) {
    const rows = results.filter((r) => r.site.kind === kind);
    if (rows.length > 0) byKind[kind] = summarize(rows, mode, seed);
  }
  return { ...summarize(results, mode, seed), packages, byKind };
}

// ---- across configurations ----

/** One arm of one configuration, e.g. `fim+context/without`. */
export interface ArmRef {
  readonly config: ConfigName;
  readonly arm: Arm;
}

export const armLabel = (r: ArmRef): string => `${r.config}/${r.arm}`;

/** b − a over the sites both arms completed, paired by site. */
export interface Comparison {
  /** What the difference measures, e.g. `context, no monitor`. */
  label: string;
  a: string;
  b: string;
  sites: number;
  nim: Interval;
  cr: Interval;
  em: Interval;
  es: Interval;
  /** Sites where b scored higher / lower than a (NIM, CR, EM), and where the texts differ. */
  better: { nim: number; cr: number; em: number };
  worse: { nim: number; cr: number; em: number };
  changed: number;
}

export function compareArms(results: readonly SiteResult[], a: ArmRef, b: ArmRef, label: string, seed: number): Comparison {
  const pairs = results
    .map((r) => ({ a: r.configs[a.config]?.[a.arm], b: r.configs[b.config]?.[b.arm] }))
    .filter((p): p is { a: ArmResult; b: ArmResult } => p.a !== undefined && p.b !== undefined);
  const iv = (k: Score, salt: number): Interval => pct(pairedBootstrap(pairs.map((p) => p.a[k]), pairs.map((p) => p.b[k]), seed + salt));
  const count = (f: (x: number, y: number) => boolean, k: 'nim' | 'cr' | 'em'): number => pairs.filter((p) => f(p.a[k], p.b[k])).length;
  const counts = (f: (x: number, y: number) => boolean) => ({ nim: count(f, 'nim'), cr: count(f, 'cr'), em: count(f, 'em') });
  return {
    label,
    a: armLabel(a),
    b: armLabel(b),
    sites: pairs.length,
    nim: iv('nim', 11),
    cr: iv('cr', 12),
    em: iv('em', 13),
    es: iv('es', 14),
    better: counts((x, y) => y > x),
    worse: counts((x, y) => y < x),
    changed: pairs.filter((p) => p.a.text !== p.b.text).length,
  };
}

/**
 * For each context configuration run: context vs none without the monitor, context + monitor vs the
 * monitor alone (both when the configuration without context ran too), and context + monitor vs context alone.
 */
export function contextComparisons(results: readonly SiteResult[], modes: readonly ConfigName[], seed: number): Comparison[] {
  const out: Comparison[] = [];
  for (const name of modes) {
    const { mode, context } = parseConfig(name);
    if (!context) continue;
    if (modes.includes(mode)) {
      out.push(compareArms(results, { config: mode, arm: 'without' }, { config: name, arm: 'without' }, 'context vs none, without the monitor', seed));
      out.push(compareArms(results, { config: mode, arm: 'with' }, { config: name, arm: 'with' }, 'context + monitor vs monitor alone', seed));
    }
    out.push(compareArms(results, { config: name, arm: 'without' }, { config: name, arm: 'with' }, 'context + monitor vs context alone', seed));
  }
  return out;
}
