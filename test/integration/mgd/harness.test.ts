// The MGD evaluation harness end to end on a fixture package (real TypeScript checker; scripted completions).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ScriptedCompleter, type CompletionRequest } from '../../../bench/mgd/completer.js';
import { evaluateSite, runEvaluation } from '../../../bench/mgd/evaluate.js';
import { installPackage, parsePackageList, type InstalledPackage } from '../../../bench/mgd/packages.js';
import { barChartSvg, buildJson, comparisonMarkdown, formatTables, markdownReport } from '../../../bench/mgd/report.js';
import { findSites, legalMembers, type Site } from '../../../bench/mgd/sites.js';
import { TsProject } from '../../../bench/mgd/tsProject.js';

const FIXTURES = path.resolve(__dirname, '../../fixtures/mgd');
const LIST = path.join(FIXTURES, 'packages.txt');
const REPORT_TS = path.join(FIXTURES, 'fixture-pkg/src/report.ts');

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
    assert.deepEqual(pkg.files.map((f) => path.basename(f)), ['report.ts', 'shapes.ts']);
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
    assert.equal(new Set(a.map((id) => id.split(':')[1])).size, 2, `both files sampled: ${a.join(', ')}`);
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

  void it('runs end to end: wrong identifiers without, the authors\' text with, and writes the JSON keys and report', async () => {
    const specs = parsePackageList(fs.readFileSync(LIST, 'utf8'), FIXTURES);
    const completer = new ScriptedCompleter('oracle', (req) => (req.monitor ? req.site.truth : wrongIdentifier(req)));
    const run = await runEvaluation({ specs, cacheDir: path.join(os.tmpdir(), 'mgd-unused-cache'), limit: 6, seed: 2, completer });
    assert.equal(run.results.length, 6);
    assert.deepEqual(run.modes, ['left', 'fim']);
    const json = buildJson(run, { model: 'scripted', monitor: true, seed: 2, limit: 6, packageList: LIST, wallMs: 1 });
    assert.equal(json.defaultConfig, 'fim');
    assert.equal(json.sites, 6);
    assert.deepEqual(Object.keys(json.without).filter((k) => k !== 'msMean'), ['nim', 'ism', 'pm', 'cr']);
    assert.deepEqual({ nim: json.without.nim, cr: json.without.cr }, { nim: 0, cr: 0 });
    assert.deepEqual({ nim: json.with.nim, ism: json.with.ism, pm: json.with.pm, cr: json.with.cr }, { nim: 100, ism: 100, pm: 100, cr: 100 });
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
