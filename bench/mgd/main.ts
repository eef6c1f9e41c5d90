// npm run eval:mgd -- --packages FILE [--limit N] [--model DIR] [--seed S] [--json OUT] [--report OUT.md]
//                     [--modes left,fim] [--no-monitor] [--sites-only] [--cache DIR] [--max-prompt-tokens N] [--max-new-tokens N]
// Dereference benchmark: does the monitor make completions right on real TypeScript (issue 6).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Completer, PromptMode } from './completer.js';
import { runEvaluation } from './evaluate.js';
import { defaultModelDir } from '../../model/index.js';
import { loadModel, ModelCompleter, type MonitorProvider } from './modelCompleter.js';
import { loadMonitorProvider } from './monitorProvider.js';
import { installPackage, parsePackageList } from './packages.js';
import { buildJson, barChartSvg, formatTables, markdownReport } from './report.js';
import { findSites } from './sites.js';
import { TsProject } from './tsProject.js';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

const USAGE = 'usage: npm run eval:mgd -- --packages FILE [--limit N] [--model DIR] [--seed S] [--json OUT] [--report OUT.md] [--modes left,fim] [--no-monitor] [--sites-only] [--cache DIR] [--max-prompt-tokens N] [--max-new-tokens N]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      packages: { type: 'string' },
      limit: { type: 'string', default: '50' },
      model: { type: 'string' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
      report: { type: 'string' },
      modes: { type: 'string', default: 'left,fim' },
      'max-prompt-tokens': { type: 'string', default: '1024' },
      'max-new-tokens': { type: 'string', default: '48' },
      'no-monitor': { type: 'boolean', default: false },
      'sites-only': { type: 'boolean', default: false },
      cache: { type: 'string', default: path.join(REPO_ROOT, '.cache', 'mgd') },
      help: { type: 'boolean', default: false },
    },
  });
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
  const modes = values.modes.split(',').map((m) => m.trim()).filter((m): m is PromptMode => m === 'left' || m === 'fim');
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
      for (const s of sites) console.log(`${s.id}\t${s.receiver}.${s.member}\t${s.legalCount} legal\t${s.truth}`);
      project.dispose();
    }
    return 0;
  }

  const modelDir = path.resolve(values.model ?? defaultModelDir);
  log(`loading model ${modelDir}`);
  const engine = await loadModel(modelDir);
  let monitor: MonitorProvider | undefined;
  if (!values['no-monitor']) {
    monitor = await loadMonitorProvider(log);
    if (!monitor) log('language monitor unavailable: the with-monitor arm repeats the without arm');
  }
  const maxPromptTokens = Number(values['max-prompt-tokens']);
  const maxNewTokens = Number(values['max-new-tokens']);
  const completer: Completer = new ModelCompleter(engine, { monitor, maxPromptTokens, maxNewTokens });
  try {
    const run = await runEvaluation({ specs, cacheDir: values.cache, limit, seed, completer, modes, log });
    const json = buildJson(run, {
      model: path.relative(REPO_ROOT, modelDir) || modelDir,
      monitor: completer.hasMonitor,
      seed,
      limit,
      packageList: path.relative(process.cwd(), listFile),
      wallMs: Math.round(performance.now() - t0),
      maxPromptTokens,
      maxNewTokens,
    });
    console.log(formatTables(json));
    console.log(JSON.stringify({ sites: json.sites, without: json.without, with: json.with, nimDelta: json.nimDelta, crDelta: json.crDelta, defaultConfig: json.defaultConfig, wallMs: json.run.wallMs }));
    if (values.json) writeFile(values.json, JSON.stringify(json, null, 2) + '\n');
    if (values.report) {
      const reportPath = path.resolve(values.report);
      const base = path.basename(reportPath).replace(/\.md$/i, '');
      const chartFile = (mode: PromptMode): string => `${base}-${mode}.svg`;
      for (const [mode, report] of Object.entries(json.configs) as [PromptMode, typeof json][]) {
        writeFile(path.join(path.dirname(reportPath), chartFile(mode)), barChartSvg(report, `${json.run.model}: with vs without the monitor (${mode}, n=${report.sites})`));
      }
      writeFile(reportPath, markdownReport(json, chartFile));
    }
    return 0;
  } finally {
    await completer.dispose();
  }
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
