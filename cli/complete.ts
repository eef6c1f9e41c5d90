// npm run complete -- --file F --at LINE:COL [--model DIR] [--max-tokens N] [--json]
//   [--monitor on|off] [--monitor-timeout MS] [--heal on|off] [--context TOKENS] [--root DIR] [--verbose]
//   [--variant default|quantized|fp16|q4|...] [--temperature T] [--top-p P] [--seed S] [--stop line,block|eos|none]
//   [--edit-replay EDITS.json [--no-pie]]   (see cli/editReplay.ts: edit, complete, print the PIE path and time)
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ModelError, defaultModelDir, readDocument, splitAt } from '../model/index.js';
import { parseCount, parseOnOff, parsePositiveInt, parseStop, parseVariant, reportCliError } from './args.js';
import { runEditReplay } from './editReplay.js';
import { completeAt, languageIdFor, openEngine, prepareMonitor, summarizeReport } from './monitored.js';

const usage = 'usage: npm run complete -- --file F --at LINE:COL [--model DIR] [--max-tokens N] [--json] [--variant V] [--temperature T] [--top-p P] [--seed S] [--stop line|block|eos|none] [--threads N] [--monitor on|off] [--monitor-timeout MS] [--heal on|off] [--context TOKENS] [--root DIR] [--verbose] [--edit-replay EDITS.json [--no-pie]]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      file: { type: 'string' },
      at: { type: 'string' },
      model: { type: 'string' },
      'max-tokens': { type: 'string' },
      json: { type: 'boolean', default: false },
      variant: { type: 'string' },
      temperature: { type: 'string' },
      'top-p': { type: 'string' },
      seed: { type: 'string' },
      stop: { type: 'string' },
      threads: { type: 'string' },
      'edit-replay': { type: 'string' },
      'no-pie': { type: 'boolean', default: false },
      monitor: { type: 'string' },
      'monitor-timeout': { type: 'string' },
      heal: { type: 'string' },
      context: { type: 'string' },
      root: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || !values.file || !values.at) {
    console.error(usage);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const at = /^(\d+):(\d+)$/.exec(values.at);
  if (!at) throw new ModelError('--at', `"${values.at}" is not LINE:COL (1-based, e.g. 12:5)`);
  const maxTokens = parsePositiveInt('--max-tokens', values['max-tokens'], 64);
  const temperature = values.temperature === undefined ? 0 : Number(values.temperature);
  if (!(temperature >= 0)) throw new ModelError('--temperature', `expected a number ≥ 0, got "${values.temperature}"`);
  const topP = values['top-p'] === undefined ? 1 : Number(values['top-p']);
  if (!(topP > 0 && topP <= 1)) throw new ModelError('--top-p', `expected a number in (0, 1], got "${values['top-p']}"`);
  const stop = parseStop(values.stop, 'block');
  const heal = parseOnOff('--heal', values.heal, true);
  const monitorTimeout = parsePositiveInt('--monitor-timeout', values['monitor-timeout'], 300);
  const replay = values['edit-replay'];
  const languageId = languageIdFor(values.file);
  const monitorOn = parseOnOff('--monitor', values.monitor, true) && !replay;
  // Project context (as the extension's typeguide.context.budgetTokens): declarations of imported symbols
  // come through the language server, so it runs even with --monitor off (which then only stops masking).
  const contextBudget = values.context === undefined ? DEFAULT_CONTEXT_BUDGET : parseCount('--context', values.context);
  const root = path.resolve(values.root ?? projectRoot(values.file));

  const text = readDocument(values.file);
  const { offset } = splitAt(text, Number(at[1]), Number(at[2]));
  const log = values.verbose ? (m: string) => console.error(`monitor: ${m}`) : undefined;
  const cli = await openEngine({
    modelDir: values.model ?? defaultModelDir,
    variant: parseVariant(values.variant),
    threads: values.threads === undefined ? undefined : parsePositiveInt('--threads', values.threads, 1),
    monitor: (monitorOn || contextBudget > 0) && languageId !== undefined,
    monitorTimeoutMs: monitorTimeout,
    log,
  });
  try {
    if (replay) {
      await runEditReplay(cli.engine, replay, values.file, text, offset, { pie: !values['no-pie'], maxTokens, stop, json: values.json, heal });
      return;
    }
    // A one-shot command waits for the server to load the project (the editor never waits: see engine.warm).
    const ready = cli.monitor ? await prepareMonitor(cli.engine, values.file, text, root) : false;
    const context = contextBudget > 0 ? { budgetTokens: contextBudget, readFiles: true } : undefined;
    const request = { file: path.resolve(values.file), languageId: languageId ?? 'plaintext', prefix: text.slice(0, offset), suffix: text.slice(offset), workspaceRoot: root, maxTokens, context };
    if (context) await cli.engine.prepareContext(request);
    if (monitorOn && !ready) console.error(`note: no monitor for ${values.file} (${languageId ? 'its language server did not start' : 'no language server for this file type'}); completing without it`);
    const result = await completeAt(cli.engine, { file: values.file, text, offset }, {
      maxTokens,
      temperature,
      topP,
      seed: values.seed === undefined ? undefined : Number(values.seed),
      stop,
      heal,
      monitor: monitorOn && ready,
      workspaceRoot: root,
      context,
    });
    if (values.json) {
      console.log(JSON.stringify({
        completion: result.text,
        tokens: result.tokens.length,
        promptTokens: result.promptTokens,
        msPrompt: round(result.msPrompt),
        msFirstToken: round(result.msFirstToken),
        msTotal: round(result.msTotal),
        model: cli.model.dir,
        stopReason: result.stopReason,
        format: result.format,
        healed: result.healed,
        prompt: result.prompt,
        monitor: result.monitor ? { languageId, ...summarizeReport(result.monitor) } : null,
        context: result.context ?? null,
      }));
    } else {
      process.stdout.write(result.text + (result.text.endsWith('\n') ? '' : '\n'));
    }
  } finally {
    await cli.dispose();
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Project context is off by default, as in the extension (typeguide.context.enabled); --context 384 is its budget there. */
const DEFAULT_CONTEXT_BUDGET = 0;

/** The nearest folder above the file with a package.json, tsconfig.json, pyproject.toml or .git: the workspace. */
function projectRoot(file: string): string {
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    if (['package.json', 'tsconfig.json', 'jsconfig.json', 'pyproject.toml', '.git'].some((f) => fs.existsSync(path.join(dir, f)))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.dirname(path.resolve(file));
    dir = up;
  }
}

main().catch(reportCliError);
