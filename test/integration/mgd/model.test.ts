// The harness with the real default model (ONNX) on the fixture package. Model outputs are never
// hard-coded (the shipped model changes): the test checks how outputs are cut, scored and checked.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultModelDir } from '../../../model/index.js';
import { runEvaluation, type EvalRun } from '../../../bench/mgd/evaluate.js';
import { firstLine, matchScores } from '../../../bench/mgd/metrics.js';
import { loadModel, ModelCompleter } from '../../../bench/mgd/modelCompleter.js';
import { installPackage, parsePackageList } from '../../../bench/mgd/packages.js';
import { identifiers } from '../../../bench/mgd/metrics.js';
import { legalMembers } from '../../../bench/mgd/sites.js';
import { TsProject } from '../../../bench/mgd/tsProject.js';

const FIXTURES = path.resolve(__dirname, '../../fixtures/mgd');
const haveModel = fs.existsSync(path.join(defaultModelDir, 'onnx', 'model.onnx'));

void describe('mgd harness with the default model', { skip: haveModel ? false : 'model/default-model/onnx/model.onnx is absent' }, () => {
  let completer: ModelCompleter;
  let run: EvalRun;

  before(async () => {
    completer = new ModelCompleter(await loadModel(defaultModelDir), { maxNewTokens: 16, maxPromptTokens: 512 });
    const specs = parsePackageList(fs.readFileSync(path.join(FIXTURES, 'packages.txt'), 'utf8'), FIXTURES);
    run = await runEvaluation({ specs, cacheDir: path.join(os.tmpdir(), 'mgd-unused-cache'), limit: 3, seed: 1, completer });
  });
  after(() => completer.dispose());

  void it('completes every site in both configurations, one line each, scored consistently', () => {
    assert.equal(run.results.length, 3);
    assert.deepEqual(run.modes, completer.supportsFim ? ['left', 'fim'] : ['left']);
    for (const r of run.results) {
      for (const mode of run.modes) {
        const arm = r.configs[mode]!.without;
        assert.equal(arm.text, firstLine(arm.text), 'completions stop at the end of the line');
        assert.ok(arm.ms > 0);
        assert.deepEqual({ nim: arm.nim, ism: arm.ism, pm: arm.pm }, matchScores(arm.text, r.site.truth));
        assert.equal(arm.cr, arm.text.trim() !== '' && arm.newErrors.length === 0 ? 1 : 0);
      }
    }
  });

  void it('is deterministic: greedy decoding gives the same text at the same site', async () => {
    const r = run.results[0];
    const again = await completer.complete({
      site: r.site, text: fs.readFileSync(r.site.file, 'utf8'), root: path.dirname(r.site.file), mode: 'left', monitor: false,
      prefix: fs.readFileSync(r.site.file, 'utf8').slice(0, r.site.offset), suffix: fs.readFileSync(r.site.file, 'utf8').slice(r.site.lineEnd),
    });
    assert.equal(firstLine(again.text).trimEnd(), r.configs.left!.without.text);
  });
});

void describe('mgd harness with the default model and the language monitor (TypeScript 7 server)', { skip: haveModel ? false : 'model/default-model/onnx/model.onnx is absent' }, () => {
  let completer: ModelCompleter;
  let run: EvalRun;
  let project: TsProject;

  before(async () => {
    // The extension's defaults (300 ms bound, FIM order, healing, PIE): what users get is what is tested.
    completer = new ModelCompleter(await loadModel(defaultModelDir), { maxNewTokens: 16, monitor: true });
    const specs = parsePackageList(fs.readFileSync(path.join(FIXTURES, 'packages.txt'), 'utf8'), FIXTURES);
    run = await runEvaluation({ specs, cacheDir: path.join(os.tmpdir(), 'mgd-unused-cache'), limit: 4, seed: 3, completer, modes: ['left'] });
    const pkg = await installPackage(specs[0], os.tmpdir());
    project = new TsProject(pkg.files, pkg.dir);
  });
  after(async () => {
    project.dispose();
    await completer.dispose();
  });

  void it('with the monitor, every completion starts with a member the receiver has', () => {
    assert.equal(run.results.length, 4);
    for (const r of run.results) {
      const withText = r.configs.left!.with.text;
      const first = identifiers(withText)[0];
      assert.ok(first !== undefined, `${r.site.id}: the monitor lets the completion start with an identifier, got ${JSON.stringify(withText)}`);
      assert.ok(legalMembers(project, r.site.file, r.site.offset)?.has(first), `${r.site.id}: ${first} is not a member of ${r.site.receiver}`);
    }
    const stats = completer.statistics();
    assert.ok(stats.triggers.dereference >= 4, 'a dereference trigger at every site');
    assert.equal(stats.timeouts, 0);
    for (const r of run.results) {
      const t = r.configs.left!.with.triggers;
      assert.ok(t && t.total >= 1 && t.constrained >= 1, `${r.site.id}: the monitor constrained at the default bound: ${JSON.stringify(t)}`);
    }
  });
});

void describe('mgd harness with the default model and project context (declarations through the TypeScript 7 server)', { skip: haveModel ? false : 'model/default-model/onnx/model.onnx is absent' }, () => {
  let completer: ModelCompleter;
  let run: EvalRun;
  let config: 'fim+context' | 'left+context';
  const importsShapes = (file: string): boolean => /from '(\.\/shapes\.js|#shapes)'/.test(fs.readFileSync(file, 'utf8'));
  const shapes = fs.readFileSync(path.join(FIXTURES, 'fixture-pkg/src/shapes.ts'), 'utf8');
  // 1-based, as the report writes lines.
  const warehouseLine = shapes.slice(0, shapes.indexOf('export class Warehouse')).split('\n').length;

  before(async () => {
    completer = new ModelCompleter(await loadModel(defaultModelDir), { maxNewTokens: 8, monitor: true, contextBudgetTokens: 256 });
    config = completer.supportsFim ? 'fim+context' : 'left+context';
    const specs = parsePackageList(fs.readFileSync(path.join(FIXTURES, 'packages.txt'), 'utf8'), FIXTURES);
    run = await runEvaluation({ specs, cacheDir: path.join(os.tmpdir(), 'mgd-unused-cache'), limit: 4, seed: 1, completer, modes: [config] });
  });
  after(() => completer.dispose());

  void it('puts the declarations a file imports before it, in both arms; only the monitored arm is masked', () => {
    assert.equal(run.results.length, 4);
    const importing = run.results.filter((r) => importsShapes(r.site.file));
    assert.ok(importing.length > 0 && importing.length < run.results.length, `sites with and without imports from shapes.ts: ${run.results.map((r) => r.site.id).join(', ')}`);
    for (const r of run.results) {
      const arms = r.configs[config]!;
      for (const arm of [arms.without, arms.with]) {
        const ctx = arm.context;
        assert.ok(ctx, `${r.site.id}: a context report`);
        assert.equal(ctx.budgetTokens, 256);
        assert.ok(ctx.tokens <= 256 && ctx.tokens >= ctx.chunks.reduce((s, c) => s + c.tokens, 0));
        if (importsShapes(r.site.file)) {
          assert.ok(ctx.tokens > 0, `${r.site.id}: context tokens`);
          assert.ok(ctx.chunks.some((c) => c.source === 'declaration' && c.path === 'src/shapes.ts' && Number(c.lines.split('-')[0]) === warehouseLine),
            `${r.site.id}: the class Warehouse from shapes.ts (line ${warehouseLine}): ${JSON.stringify(ctx.chunks)}`);
        } else {
          assert.deepEqual(ctx.chunks, [], `${r.site.id}: imports nothing from another file`);
        }
      }
      // The unmonitored arm's engine has a server (for the declarations) but the request asked for no masking.
      assert.equal(arms.without.triggers, undefined);
      assert.ok(arms.with.triggers && arms.with.triggers.total >= 1, `${r.site.id}: the monitored arm triggered`);
    }
  });
});
