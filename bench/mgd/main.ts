// npm run eval:mgd -- --packages FILE [--limit N] [--model DIR] [--variant V] [--seed S] [--json OUT] [--report OUT.md]
//                     [--modes left,fim,left+context,fim+context] [--context-budget N] [--no-monitor] [--sites-only] [--cache DIR] [--max-prompt-tokens N] [--no-pie] [--max-new-tokens N] [--monitor-timeout MS]
//        npm run eval:mgd -- --compare A.json,B.json [--report OUT.md]   (runs side by side, e.g. per model)
// Dereference benchmark: does the monitor make completions right on real TypeScript (issue 6), and does
// project context from other files (a `+context` configuration) add to it.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_NAMES, isConfigName, parseConfig, type ConfigName } from './completer.js';
import { runEvaluation } from './evaluate.js';
import { defaultModelDir } from '../../model/index.js';
import { loadModel, ModelCompleter } from './modelCompleter.js';
import { variantFiles, type ModelVariant } from '../../model/onnxSession.js';
import { installPackage, parsePackageList } from './packages.js';
import { buildJson, barChartSvg, comparisonMarkdown, formatTables, markdownReport, summarizeStatistics, type EvalJson, type RunInfo } from './report.js';
import { findSites } from './sites.js';
import { TsProject } from './tsProject.js';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

const USAGE = 'usage: npm run eval:mgd -- --compare A.json,B.json [--report OUT.md]\n       npm run eval:mgd -- --packages FILE [--limit N] [--model DIR] [--variant V] [--seed S] [--json OUT] [--report OUT.md] [--modes left,fim,left+context,fim+context] [--context-budget N] [--no-monitor] [--sites-only] [--cache DIR] [--max-prompt-tokens N] [--no-pie] [--max-new-tokens N] [--monitor-timeout MS]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      packages: { type: 'string' },
      limit: { type: 'string', default: '50' },
      model: { type: 'string' },
      variant: { type: 'string' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
      report: { type: 'string' },
      modes: { type: 'string', default: 'left,fim' },
      'context-budget': { type: 'string', default: '384' },
      'max-prompt-tokens': { type: 'string' },
      'no-pie': { type: 'boolean', default: false },
      'max-new-tokens': { type: 'string', default: '48' },
      'monitor-timeout': { type: 'string', default: '300' },
      'no-monitor': { type: 'boolean', default: false },
      'sites-only': { type: 'boolean', default: false },
      cache: { type: 'string', default: path.join(REPO_ROOT, '.cache', 'mgd') },
      compare: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.compare) {
    // --compare A.json,B.json: one table of several runs (e.g. one per model), optionally as --report.
    const runs = values.compare.split(',').map((f) => JSON.parse(fs.readFileSync(f.trim(), 'utf8')) as EvalJson);
    const md = comparisonMarkdown(runs);
    console.log(md);
    if (values.report) writeFile(values.report, md);
    return 0;
  }
  if (values.help || !values.packages) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const limit = Number(values.limit);
  const seed = Number(values.seed);
  if (!Number.isInteger(limit) || limit <= 0 || !Number.isInteger(seed)) {
    console.error(`--limit must be a positive integer and --seed an integer\n${USAGE}`);
    return 2;
  }
  const modeNames = values.modes.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const unknown = modeNames.filter((m) => !isConfigName(m));
  const contextBudgetTokens = Number(values['context-budget']);
  if (unknown.length > 0 || !Number.isInteger(contextBudgetTokens) || contextBudgetTokens <= 0) {
    console.error(`${unknown.length > 0 ? `unknown configuration ${unknown.join(', ')} (known: ${CONFIG_NAMES.join(', ')})` : '--context-budget must be a positive integer'}\n${USAGE}`);
    return 2;
  }
  const modes = [...new Set(modeNames)] as ConfigName[];
  const contextRuns = modes.some((m) => parseConfig(m).context);
  const listFile = path.resolve(values.packages);
  const specs = parsePackageList(fs.readFileSync(listFile, 'utf8'), path.dirname(listFile));
  const log = (msg: string): void => console.error(`[eval:mgd] ${msg}`);
  const t0 = performance.now();

  if (values['sites-only']) {
    let remaining = limit;
    for (let i = 0; i < specs.length; i++) {
      const pkg = await installPackage(specs[i], values.cache, log);
      const project = new TsProject(pkg.files, pkg.dir);
      const sites = findSites(project, pkg.label, pkg.dir, pkg.files, Math.ceil(remaining / (specs.length - i)), { seed });
      remaining -= sites.length;
      for (const s of sites) console.log(`${s.id}\t${s.kind}\t${s.receiver}.${s.member}\t${s.legalCount} legal\t${s.truth}`);
      project.dispose();
    }
    return 0;
  }

  const modelDir = path.resolve(values.model ?? defaultModelDir);
  if (values.variant !== undefined && !(values.variant in variantFiles)) {
    console.error(`unknown --variant ${values.variant} (known: ${Object.keys(variantFiles).join(', ')})\n${USAGE}`);
    return 2;
  }
  log(`loading model ${modelDir}${values.variant ? ` (${values.variant})` : ''}`);
  const engine = await loadModel(modelDir, values.variant as ModelVariant | undefined);
  const monitorTimeoutMs = Number(values['monitor-timeout']);
  const monitor = !values['no-monitor'];
  const maxPromptTokens = values['max-prompt-tokens'] === undefined ? undefined : Number(values['max-prompt-tokens']);
  const maxNewTokens = Number(values['max-new-tokens']);
  const completer = new ModelCompleter(engine, { monitor, timeoutMs: monitorTimeoutMs, maxPromptTokens, maxNewTokens, log, pie: !values['no-pie'], contextBudgetTokens });
  try {
    // A model without a FIM template (or whose config.json says fim_order "none") is completed by the
    // extension from the left context only: evaluate what it would do.
    const runModes = engine.fim ? modes : modes.filter((m) => parseConfig(m).mode !== 'fim');
    if (runModes.length < modes.length) log('the model has no fill-in-the-middle format: evaluating left context only');
    if (runModes.length === 0) throw new Error('no prompt mode left to evaluate');
    const run = await runEvaluation({ specs, cacheDir: values.cache, limit, seed, completer, modes: runModes, log });
    const json = buildJson(run, {
      model: path.relative(REPO_ROOT, modelDir) || modelDir,
      modelInfo: readModelInfo(modelDir, engine.session.file),
      monitor: completer.hasMonitor,
      seed,
      limit,
      packageList: path.relative(process.cwd(), listFile),
      wallMs: Math.round(performance.now() - t0),
      maxPromptTokens,
      maxNewTokens,
      monitorTimeoutMs: monitor ? monitorTimeoutMs : undefined,
      contextBudgetTokens: contextRuns ? contextBudgetTokens : undefined,
    });
    if (monitor) json.monitorStatistics = summarizeStatistics(completer.statistics());
    console.log(formatTables(json));
    console.log(JSON.stringify({
      sites: json.sites, without: json.without, with: json.with, nimDelta: json.nimDelta, crDelta: json.crDelta, defaultConfig: json.defaultConfig, wallMs: json.run.wallMs,
      ...(json.comparisons.length > 0 ? { comparisons: json.comparisons.map((c) => ({ label: c.label, a: c.a, b: c.b, nim: c.nim, cr: c.cr, em: c.em, es: c.es })) } : {}),
    }));
    if (values.json) writeFile(values.json, JSON.stringify(json, null, 2) + '\n');
    if (values.report) {
      const reportPath = path.resolve(values.report);
      const base = path.basename(reportPath).replace(/\.md$/i, '');
      const chartFile = (mode: ConfigName): string => `${base}-${mode.replace('+', '-')}.svg`;
      for (const [mode, report] of Object.entries(json.configs) as [ConfigName, typeof json][]) {
        writeFile(path.join(path.dirname(reportPath), chartFile(mode)), barChartSvg(report, `${json.run.model}: with vs without the monitor (${mode}, n=${report.sites})`));
      }
      writeFile(reportPath, markdownReport(json, chartFile));
    }
    return 0;
  } finally {
    await completer.dispose();
  }
}

function readModelInfo(dir: string, onnx: string): RunInfo['modelInfo'] {
  const info: NonNullable<RunInfo['modelInfo']> = {};
  try {
    const t = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8')) as Record<string, unknown>;
    if (typeof t.params === 'number') info.params = t.params;
    if (typeof t.tokensSeen === 'number') info.tokensSeen = t.tokensSeen;
    if (typeof t.valLoss === 'number') info.valLoss = t.valLoss;
    if (typeof t.preset === 'string') info.preset = t.preset;
  } catch {
    // a model folder without training.json (an imported model)
  }
  info.onnxFile = path.relative(dir, onnx);
  if (fs.existsSync(onnx)) {
    const st = fs.statSync(onnx);
    info.onnxBytes = st.size;
    info.onnxModified = st.mtime.toISOString();
  }
  return info;
}

function writeFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, text);
  console.error(`[eval:mgd] wrote ${file}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[eval:mgd] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
