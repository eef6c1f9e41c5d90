// The MGD evaluation harness end to end on a fixture package (real TypeScript checker; scripted completions).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ScriptedCompleter, type Completer, type CompletionOutcome, type CompletionRequest, type PromptMode } from '../../../bench/mgd/completer.js';
import type { ContextReport } from '../../../engine/completionEngine.js';
import { evaluateSite, round, runEvaluation } from '../../../bench/mgd/evaluate.js';
import { installPackage, parsePackageList, type InstalledPackage } from '../../../bench/mgd/packages.js';
import { barChartSvg, buildJson, comparisonMarkdown, formatTables, markdownReport } from '../../../bench/mgd/report.js';
import { findSites, legalMembers, type Site } from '../../../bench/mgd/sites.js';
import { DEFAULT_COMPILER_OPTIONS, TsProject } from '../../../bench/mgd/tsProject.js';

const FIXTURES = path.resolve(__dirname, '../../fixtures/mgd');
const LIST = path.join(FIXTURES, 'packages.txt');
const PKG_DIR = path.join(FIXTURES, 'fixture-pkg');
const REPORT_TS = path.join(PKG_DIR, 'src/report.ts');
const LEDGER_TS = path.join(PKG_DIR, 'src/ledger.ts');
const DRIFT_TS = path.join(PKG_DIR, 'src/drift.ts');
const TALLY_JS = path.join(PKG_DIR, 'src/tally.js');
const read = (f: string): string => fs.readFileSync(f, 'utf8');

/**
 * Scripted outputs, and the monitored arm reports triggers as the real completer does; a context request
 * reports what `context` says went in; records every request.
 */
class RecordingCompleter implements Completer {
  readonly name = 'recording';
  readonly supportsFim = true;
  readonly hasMonitor = true;
  readonly requests: { id: string; mode: PromptMode; monitor: boolean; context: boolean }[] = [];

  constructor(private readonly script: (req: CompletionRequest) => string, private readonly context?: (req: CompletionRequest) => ContextReport) {}

  complete(req: CompletionRequest): Promise<CompletionOutcome> {
    this.requests.push({ id: req.site.id, mode: req.mode, monitor: req.monitor, context: req.context ?? false });
    const triggers = req.monitor ? { total: 2, constrained: 1, timeout: req.site.kind === 'js' ? 1 : 0, noAnswer: req.site.kind === 'js' ? 0 : 1 } : undefined;
    const context = req.context ? this.context?.(req) : undefined;
    return Promise.resolve({ text: this.script(req), ms: 1, ...(triggers ? { triggers } : {}), ...(context ? { context } : {}) });
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

/** Offset just after the dot of the first occurrence of `receiverDot` (e.g. 'warehouse.addStockItem' → after 'warehouse.'). */
function siteOffset(text: string, receiverDotMember: string): number {
  const at = text.indexOf(receiverDotMember);
  assert.ok(at >= 0, `fixture lacks ${receiverDotMember}`);
  return at + receiverDotMember.indexOf('.') + 1;
}

/** The authors' line with the member swapped for one the receiver does not have. */
const wrongIdentifier = (req: CompletionRequest): string => req.site.truth.replace(req.site.member, `${req.site.member}Typo`);

void describe('mgd harness on the fixture package', () => {
  let pkg: InstalledPackage;
  let project: TsProject;
  let sites: Site[];
  const reportText = fs.readFileSync(REPORT_TS, 'utf8');

  before(async () => {
    const specs = parsePackageList(fs.readFileSync(LIST, 'utf8'), FIXTURES);
    pkg = await installPackage(specs[0], path.join(os.tmpdir(), 'mgd-unused-cache'));
    project = new TsProject(pkg.files, pkg.dir);
    sites = findSites(project, pkg.label, pkg.dir, pkg.files, 1000, { seed: 1 });
  });
  after(() => project.dispose());

  void it('selects dereference sites whose member the checker lists as legal', () => {
    assert.equal(pkg.label, 'mgd-fixture');
    // build/tally.js is build output, not a source.
    assert.deepEqual(pkg.files.map((f) => path.relative(pkg.dir, f)), ['src/drift.ts', 'src/ledger.ts', 'src/report.ts', 'src/shapes.ts', 'src/tally.js']);
    assert.ok(sites.length >= 10, `only ${sites.length} sites`);
    for (const s of sites) {
      assert.ok(s.truth.startsWith(s.member), `${s.id}: truth ${s.truth} should start with ${s.member}`);
      assert.ok(legalMembers(project, s.file, s.offset)?.has(s.member), `${s.id}: ${s.member} not legal`);
    }
    const restock = sites.find((s) => s.file === REPORT_TS && s.offset === siteOffset(reportText, 'warehouse.addStockItem'));
    assert.ok(restock, 'the site warehouse.addStockItem is selected');
    assert.equal(restock.truth, 'addStockItem(item);');
    assert.equal(restock.receiver, 'warehouse');
  });

  void it('skips receivers typed any, lines under @ts-ignore, and dots in comments and strings', () => {
    const offsets = new Set(sites.filter((s) => s.file === REPORT_TS).map((s) => s.offset));
    assert.ok(!offsets.has(siteOffset(reportText, 'loose.whatever')), 'any-typed receiver');
    assert.ok(!offsets.has(siteOffset(reportText, 'warehouse.warehouseName;')), 'line under @ts-ignore');
    assert.ok(!offsets.has(siteOffset(reportText, 'warehouse.totalQuantity\n')), 'comment');
    assert.ok(!offsets.has(siteOffset(reportText, "warehouse.warehouseName'")), 'string');
    assert.ok(offsets.has(siteOffset(reportText, '${warehouse.warehouseName}')), 'template substitution is code');
  });

  void it('samples deterministically by seed and spreads a small sample over the files', () => {
    const a = findSites(project, pkg.label, pkg.dir, pkg.files, 4, { seed: 5 }).map((s) => s.id);
    const b = findSites(project, pkg.label, pkg.dir, pkg.files, 4, { seed: 5 }).map((s) => s.id);
    assert.deepEqual(a, b);
    assert.equal(a.length, 4);
    assert.equal(new Set(a.map((id) => id.split(':')[1])).size, 4, `one site from each of 4 files: ${a.join(', ')}`);
    const others = [6, 7, 8, 9].map((seed) => findSites(project, pkg.label, pkg.dir, pkg.files, 4, { seed }).map((s) => s.id).join());
    assert.ok(others.some((o) => o !== a.join()), 'another seed gives another sample');
  });

  void it('compile rate: a legal call passes, a wrong identifier or a wrong arity fails, the file on disk is untouched', async () => {
    const site = sites.find((s) => s.file === REPORT_TS && s.offset === siteOffset(reportText, 'warehouse.addStockItem'))!;
    const answers: Record<string, string> = { left: 'findBySku(item.sku);', fim: 'totalQuantity(item);' };
    const completer = new ScriptedCompleter('fixed', (req) => (req.monitor ? answers[req.mode] : 'addStockItm(item);'));
    const r = await evaluateSite(project, site, pkg.dir, ['left', 'fim'], completer);
    assert.equal(r.baselineErrors, 0);
    assert.deepEqual([r.configs.left!.without.cr, r.configs.left!.with.cr, r.configs.fim!.with.cr], [0, 1, 0]);
    assert.ok(r.configs.left!.without.errors > 0);
    assert.deepEqual([r.configs.left!.with.nim, r.configs.left!.without.nim], [0, 0]);
    assert.equal(fs.readFileSync(REPORT_TS, 'utf8'), reportText);
    // An empty completion leaves the dot dangling: never counted as compiling.
    const empty = await evaluateSite(project, site, pkg.dir, ['left'], new ScriptedCompleter('empty', () => '\n  more();'));
    assert.deepEqual([empty.configs.left!.without.text, empty.configs.left!.without.cr], ['', 0]);
    // The authors' own line always compiles, whatever else is broken in the file.
    const truth = await evaluateSite(project, site, pkg.dir, ['left'], new ScriptedCompleter('truth', (req) => req.site.truth));
    assert.equal(truth.configs.left!.with.cr, 1);
  });

  void it('finds this.#x, ?., this. and JavaScript sites, each with its kind, the offset after the dot', () => {
    const ledger = read(LEDGER_TS);
    const at = (file: string, offset: number): Site | undefined => sites.find((s) => s.file === file && s.offset === offset);
    const priv = at(LEDGER_TS, siteOffset(ledger, 'this.#entries.push'));
    assert.ok(priv, 'this.#entries is a site');
    assert.deepEqual([priv.kind, priv.member, priv.truth, priv.receiver], ['private', '#entries', '#entries.push(item);', 'this']);
    const optional = at(LEDGER_TS, ledger.indexOf('?.warehouseName') + 2);
    assert.ok(optional, 'this.#owner?.warehouseName is a site, at the offset after ?.');
    assert.deepEqual([optional.kind, optional.member, optional.truth, optional.receiver], ['optional', 'warehouseName', 'warehouseName;', 'this.#owner']);
    assert.equal(at(LEDGER_TS, ledger.indexOf('ledger?.ownerName') + 'ledger?.'.length)?.kind, 'optional');
    assert.equal(at(LEDGER_TS, siteOffset(ledger, 'this.label = label'))?.kind, 'this');
    assert.equal(at(REPORT_TS, siteOffset(reportText, 'warehouse.addStockItem'))?.kind, 'member');
    const tally = read(TALLY_JS);
    const js = at(TALLY_JS, siteOffset(tally, 'tally.summary'));
    assert.ok(js, 'a typed receiver in a JavaScript file is a site');
    assert.deepEqual([js.kind, js.language, js.truth], ['js', 'javascript', 'summary();']);
    assert.equal(at(TALLY_JS, siteOffset(tally, 'this.#count += 1'))?.member, '#count');
    // JSON.parse gives any: its members are no sites, in JavaScript as in TypeScript.
    assert.ok(!at(TALLY_JS, siteOffset(tally, 'data.name')), 'any receiver in JavaScript');
    assert.ok(!at(TALLY_JS, siteOffset(tally, 'data.keys')), 'any receiver in JavaScript');
    for (const kind of ['member', 'this', 'private', 'optional', 'js']) assert.ok(sites.some((s) => s.kind === kind), `a ${kind} site`);
  });

  void it('checks with the package\'s own tsconfig.json: its paths resolve receivers, its options decide errors', async () => {
    assert.deepEqual(project.config, { source: 'tsconfig', file: 'tsconfig.json' });
    assert.equal(project.options.noUncheckedIndexedAccess, true);
    assert.deepEqual([project.options.skipLibCheck, project.options.noEmit, project.options.allowJs, project.options.checkJs], [true, true, true, true]);
    const ledger = read(LEDGER_TS);
    const optionalOffset = ledger.indexOf('?.warehouseName') + 2;
    // `#shapes` is a tsconfig paths alias: under the default options the receiver's type is unresolved.
    const defaults = new TsProject(pkg.files, pkg.dir, DEFAULT_COMPILER_OPTIONS);
    try {
      const defaultSites = findSites(defaults, pkg.label, pkg.dir, pkg.files, 1000, { seed: 1 });
      assert.ok(!defaultSites.some((s) => s.file === LEDGER_TS && s.offset === optionalOffset), 'no site through an unresolved alias');
      assert.ok(sites.some((s) => s.file === LEDGER_TS && s.offset === optionalOffset));
      // noUncheckedIndexedAccess: `skus()[0].length` is an error with the package's options only.
      const site = sites.find((s) => s.file === REPORT_TS && s.offset === siteOffset(reportText, 'warehouse.skus'));
      assert.ok(site, 'warehouse.skus is a site');
      const unchecked = new ScriptedCompleter('unchecked', () => 'skus()[0].length ?? 0;');
      const own = await evaluateSite(project, site, pkg.dir, ['left'], unchecked);
      const dflt = await evaluateSite(defaults, site, pkg.dir, ['left'], unchecked);
      assert.equal(own.configs.left!.with.cr, 0);
      assert.match(own.configs.left!.with.newErrors.join(), /TS2532/);
      assert.equal(dflt.configs.left!.with.cr, 1, 'the same line compiles under the defaults');
    } finally {
      defaults.dispose();
    }
  });

  void it('compile rate compares the set of errors: a vanished error does not pay for a new one', async () => {
    const drift = read(DRIFT_TS);
    const site = sites.find((s) => s.file === DRIFT_TS && s.offset === siteOffset(drift, 'warehouse.warehouseName'));
    assert.ok(site, 'warehouse.warehouseName in drift.ts is a site');
    const answers = ['warehouseName;', 'totalQuantity();', 'totalQuantity().toFixd(2);'];
    const results = [];
    for (const answer of answers) results.push(await evaluateSite(project, site, pkg.dir, ['left'], new ScriptedCompleter('fixed', () => answer)));
    // The file ships with one error (string assigned to number two lines down).
    assert.deepEqual(results.map((r) => r.baselineErrors), [1, 1, 1]);
    // The authors' line keeps it; a number removes it; a typo removes it and adds one on the site's line.
    assert.deepEqual(results.map((r) => r.configs.left!.with.errors), [1, 0, 1]);
    assert.deepEqual(results.map((r) => r.configs.left!.with.cr), [1, 1, 0]);
    const typo = results[2].configs.left!.with;
    assert.deepEqual(typo.newErrors.map((k) => k.replace(/:.*/, '')), [`${site.line + 1} TS2551`]);
    assert.equal(read(DRIFT_TS), drift);
  });

  void it('scores the same sites in every arm and configuration, whatever the completer answers', async () => {
    const specs = parsePackageList(fs.readFileSync(LIST, 'utf8'), FIXTURES);
    const runWith = async (c: RecordingCompleter) => runEvaluation({ specs, cacheDir: path.join(os.tmpdir(), 'mgd-unused-cache'), limit: 12, seed: 4, completer: c });
    const truthful = new RecordingCompleter((req) => req.site.truth);
    const wrong = new RecordingCompleter((req) => (req.monitor ? req.site.truth : wrongIdentifier(req)));
    const a = await runWith(truthful);
    const b = await runWith(wrong);
    const ids = a.results.map((r) => r.site.id);
    assert.equal(ids.length, 12);
    assert.deepEqual(b.results.map((r) => r.site.id), ids);
    for (const c of [truthful, wrong]) {
      for (const mode of ['left', 'fim'] as const) {
        for (const monitor of [false, true]) {
          assert.deepEqual(c.requests.filter((q) => q.mode === mode && q.monitor === monitor).map((q) => q.id), ids, `${mode}, monitor ${monitor}`);
        }
      }
    }
  });

  void it('reports triggers and results by site kind per configuration, in the JSON and the tables', async () => {
    const specs = parsePackageList(fs.readFileSync(LIST, 'utf8'), FIXTURES);
    const completer = new RecordingCompleter((req) => (req.monitor ? req.site.truth : wrongIdentifier(req)));
    const run = await runEvaluation({ specs, cacheDir: path.join(os.tmpdir(), 'mgd-unused-cache'), limit: 1000, seed: 2, completer });
    const json = buildJson(run, { model: 'scripted', monitor: true, seed: 2, limit: 1000, packageList: LIST, wallMs: 1 });
    const n = run.results.length;
    const js = run.results.filter((r) => r.site.kind === 'js').length;
    for (const mode of ['left', 'fim'] as const) {
      const c = json.configs[mode]!;
      assert.deepEqual(c.triggers, { total: 2 * n, constrained: n, timeout: js, noAnswer: n - js });
      assert.deepEqual(Object.keys(c.byKind), ['member', 'this', 'private', 'optional', 'js']);
      assert.equal(Object.values(c.byKind).reduce((sum, k) => sum + k.sites, 0), n);
      for (const [kind, k] of Object.entries(c.byKind)) {
        assert.deepEqual([k.without.nim, k.with.nim, k.with.cr], [0, 100, 100], kind);
        assert.equal(k.sites, run.results.filter((r) => r.site.kind === kind).length);
      }
      assert.equal(c.byKind.js!.triggers.timeout, js);
    }
    assert.deepEqual(json.byKind, json.configs.fim!.byKind, 'the top level is the default configuration');
    assert.deepEqual(json.triggers, json.configs.fim!.triggers);
    const wire = JSON.parse(JSON.stringify(json)) as typeof json;
    assert.equal(wire.configs.left!.byKind.private!.sites, run.results.filter((r) => r.site.kind === 'private').length);
    assert.equal(wire.results.find((r) => r.id.includes('tally.js'))?.kind, 'js');
    assert.deepEqual(wire.packageRuns[0].compilerOptions, { source: 'tsconfig', file: 'tsconfig.json' });
    assert.equal(wire.packageRuns[0].jsFiles, 1);
    assert.equal(Object.values(wire.packageRuns[0].sitesByKind).reduce((s, k) => s + (k ?? 0), 0), n);
    const table = formatTables(json);
    assert.match(table, /trig\s+constr\s+tmo\s+no-ans/);
    assert.match(table, new RegExp(`^overall .* ${2 * n}\\s+${n}\\s+${js}\\s+${n - js}$`, 'm'));
    assert.match(table, /^private\s+\d+\s+0\.0\s+100\.0/m);
    assert.match(table, new RegExp(`triggers \\(with monitor\\): ${2 * n} total, ${n} constrained, ${js} timed out, ${n - js} no answer`));
    const md = markdownReport(json, (m) => `chart-${m}.svg`);
    assert.match(md, /\| js \| \d+ \| 0\.0 \| 100\.0 \|/);
    const cmp = comparisonMarkdown([json]);
    assert.match(cmp, new RegExp(`\\| ${2 * n} \\| ${Math.round(((2 * n - js) / (2 * n)) * 1000) / 10} \\|$`, 'm'), 'triggers and the share answered in time');
    assert.match(md, new RegExp(`\\| mgd-fixture \\| 5 \\| 1 \\| ${n} \\| member \\d+, this \\d+, private \\d+, optional \\d+, js \\d+ \\| \`tsconfig.json\` \\|`));
  });

  void it('runs a context configuration at the same sites in the same order, and reports its context and the paired differences across configurations', async () => {
    const specs = parsePackageList(fs.readFileSync(LIST, 'utf8'), FIXTURES);
    const importsShapes = (text: string): boolean => /from '(\.\/shapes\.js|#shapes)'/.test(text);
    // What a declarations lookup would give a file that imports from shapes.ts: the class, 40 tokens (+8 of paths).
    const contextReport = (req: CompletionRequest): ContextReport => (importsShapes(req.text)
      ? { tokens: 48, budgetTokens: 384, chunks: [{ source: 'declaration', path: 'src/shapes.ts', lines: '7-28', tokens: 40 }] }
      : { tokens: 0, budgetTokens: 384, chunks: [] });
    // Without context only the monitor finds the member; with it, the member comes either way, but without
    // the monitor the line ends in a comment (right identifiers and tokens, not the authors' exact line).
    const completer = new RecordingCompleter(
      (req) => (req.context ? (req.monitor ? req.site.truth : `${req.site.truth} //`) : req.monitor ? req.site.truth : wrongIdentifier(req)),
      contextReport,
    );
    const run = await runEvaluation({ specs, cacheDir: path.join(os.tmpdir(), 'mgd-unused-cache'), limit: 8, seed: 2, completer, modes: ['fim', 'fim+context'] });
    const n = run.results.length;
    assert.equal(n, 8);
    assert.deepEqual(run.modes, ['fim', 'fim+context']);
    assert.deepEqual(
      completer.requests.map((q) => [q.id, q.mode, q.monitor, q.context]),
      run.results.flatMap((r) => [[r.site.id, 'fim', false, false], [r.site.id, 'fim', true, false], [r.site.id, 'fim', false, true], [r.site.id, 'fim', true, true]]),
      'each site in every configuration and arm, one after another',
    );
    const importing = run.results.filter((r) => importsShapes(read(r.site.file))).length;
    assert.ok(importing > 0 && importing < n, `some sites import from shapes.ts, some do not: ${importing} of ${n}`);

    const json = buildJson(run, { model: 'scripted', monitor: true, seed: 2, limit: 8, packageList: LIST, wallMs: 1, contextBudgetTokens: 384 });
    assert.equal(json.defaultConfig, 'fim', 'the top level stays the configuration without context');
    assert.deepEqual(Object.keys(json.configs), ['fim', 'fim+context']);
    const ctx = json.configs['fim+context']!;
    assert.equal(json.configs.fim!.without.context, undefined);
    const share = round((importing / n) * 100);
    assert.deepEqual(ctx.without.context, {
      tokensMean: round((48 * importing) / n, 1), sitesWithContext: share, sitesWithDeclaration: share, chunksBySource: { declaration: importing }, tokensBySource: { declaration: 40 * importing },
    });
    assert.deepEqual([ctx.without.nim, ctx.without.em, ctx.with.em, ctx.emDelta.mean], [100, 0, 100, 100]);
    assert.ok(ctx.without.es > 50 && ctx.without.es < 100);

    const [noMonitor, withMonitor, monitorOnContext] = json.comparisons;
    assert.equal(json.comparisons.length, 3);
    assert.deepEqual([noMonitor.label, noMonitor.a, noMonitor.b, noMonitor.sites], ['context vs none, without the monitor', 'fim/without', 'fim+context/without', n]);
    assert.deepEqual([noMonitor.nim, noMonitor.cr], [{ mean: 100, lo: 100, hi: 100 }, { mean: 100, lo: 100, hi: 100 }]);
    assert.deepEqual(noMonitor.em, { mean: 0, lo: 0, hi: 0 }, 'neither line is the authors\' exactly');
    assert.ok(noMonitor.es.lo > 0, `a comment costs less similarity than a wrong member: ${JSON.stringify(noMonitor.es)}`);
    assert.deepEqual([noMonitor.better, noMonitor.worse, noMonitor.changed], [{ nim: n, cr: n, em: 0 }, { nim: 0, cr: 0, em: 0 }, n]);
    assert.deepEqual([withMonitor.a, withMonitor.b, withMonitor.nim.mean, withMonitor.es.mean, withMonitor.changed], ['fim/with', 'fim+context/with', 0, 0, 0]);
    assert.deepEqual([monitorOnContext.a, monitorOnContext.b], ['fim+context/without', 'fim+context/with']);
    assert.deepEqual([monitorOnContext.nim.mean, monitorOnContext.em, monitorOnContext.better.em], [0, { mean: 100, lo: 100, hi: 100 }, n]);

    const wire = JSON.parse(JSON.stringify(json)) as typeof json;
    const site = wire.results.find((r) => r.id.includes('report.ts'));
    assert.ok(site, 'a report.ts site (it imports Warehouse from shapes.ts)');
    assert.deepEqual(site.outputs['fim+context']!.contextWithout?.chunks.map((c) => c.path), ['src/shapes.ts']);
    assert.deepEqual([site.outputs['fim+context']!.emWith, site.outputs.fim!.emWithout, site.outputs.fim!.contextWithout], [1, 0, undefined]);

    const table = formatTables(json);
    assert.match(table, new RegExp(`^context vs none, without the monitor\\s+fim\\+context/without − fim/without\\s+${n}\\s+\\+100\\.0 \\[\\+100\\.0, \\+100\\.0\\]`, 'm'));
    assert.match(table, new RegExp(`^fim\\+context\\s+none\\s+${n}\\s+100\\.0\\s+100\\.0\\s+\\d+\\.\\d\\s+100\\.0\\s+0\\.0\\s+\\d+\\.\\d\\s+\\d+\\s+\\d+\\s+${Math.round(ctx.without.context!.tokensMean)}\\s+${share.toFixed(0)}\\s+${share.toFixed(0)}\\s+declaration ${importing}$`, 'm'));
    const md = markdownReport(json, (m) => `chart-${m}.svg`);
    assert.match(md, /## Project context: paired differences/);
    assert.match(md, new RegExp(`\\| context \\+ monitor vs context alone \\| fim\\+context/with − fim\\+context/without \\| ${n} \\| 0\\.0 \\[0\\.0, 0\\.0\\] \\| 0\\.0 \\[0\\.0, 0\\.0\\] \\| \\+100\\.0 \\[\\+100\\.0, \\+100\\.0\\] \\|`));
    assert.match(md, /## Configuration: fill-in-the-middle \(left \+ right context\), with project context \(budget 384 tokens\)/);
    assert.match(md, /### Where context changed the output \(fim\+context vs fim, no monitor; worst first\)/);
    assert.match(md, /\| 0→1 \| 0→1 \| declaration src\/shapes\.ts:7-28 \|/);
  });

  void it('runs end to end: wrong identifiers without, the authors\' text with, and writes the JSON keys and report', async () => {
    const specs = parsePackageList(fs.readFileSync(LIST, 'utf8'), FIXTURES);
    const completer = new ScriptedCompleter('oracle', (req) => (req.monitor ? req.site.truth : wrongIdentifier(req)));
    const run = await runEvaluation({ specs, cacheDir: path.join(os.tmpdir(), 'mgd-unused-cache'), limit: 6, seed: 2, completer });
    assert.equal(run.results.length, 6);
    assert.deepEqual(run.modes, ['left', 'fim']);
    const json = buildJson(run, { model: 'scripted', monitor: true, seed: 2, limit: 6, packageList: LIST, wallMs: 1 });
    assert.equal(json.defaultConfig, 'fim');
    assert.equal(json.sites, 6);
    assert.deepEqual(Object.keys(json.without).filter((k) => k !== 'msMean' && k !== 'msP50'), ['nim', 'ism', 'pm', 'cr', 'em', 'es']);
    assert.deepEqual({ nim: json.without.nim, cr: json.without.cr, em: json.without.em }, { nim: 0, cr: 0, em: 0 });
    // A typo in the member still leaves most of the line right: edit similarity gives partial credit.
    assert.ok(json.without.es > 50 && json.without.es < 100, `edit similarity of a one-word typo: ${json.without.es}`);
    assert.deepEqual({ nim: json.with.nim, ism: json.with.ism, pm: json.with.pm, cr: json.with.cr, em: json.with.em, es: json.with.es }, { nim: 100, ism: 100, pm: 100, cr: 100, em: 100, es: 100 });
    assert.deepEqual(json.comparisons, [], 'no context configuration, no cross-configuration differences');
    assert.deepEqual(json.nimDelta, { mean: 100, lo: 100, hi: 100 });
    assert.deepEqual(json.crDelta, { mean: 100, lo: 100, hi: 100 });
    assert.equal(json.changed, 100);
    assert.deepEqual(Object.keys(json.configs), ['left', 'fim']);
    assert.equal(json.packages['mgd-fixture'].sites, 6);
    const table = formatTables(json);
    assert.match(table, /overall/);
    const md = markdownReport(json, (m) => `chart-${m}.svg`);
    assert.match(md, /!\[with vs without, fim\]\(chart-fim\.svg\)/);
    assert.match(md, /\| overall \| 6 \|/);
    const svg = barChartSvg(json, 'fixture');
    assert.equal((svg.match(/<rect [^>]*fill="#2f6fdf"/g) ?? []).length, 5, '4 with-bars and a legend swatch');
    assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
    const cmp = comparisonMarkdown([json, { ...json, run: { ...json.run, model: 'other' } }]);
    assert.match(cmp, /\| scripted \| fim \(default\) \| 6 \|/);
    assert.match(cmp, /\| other \| left \| 6 \|/);
    assert.match(cmp, /same sites/);
  });
});
