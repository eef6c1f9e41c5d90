// npm run complete -- --file F --at LINE:COL [--model DIR] [--max-tokens N] [--json]
//   [--variant default|quantized|fp16|q4|...] [--temperature T] [--top-p P] [--seed S] [--stop line,block|eos|none]
import { parseArgs } from 'node:util';
import { CodeModel, ModelError, defaultModelDir, readDocument, splitAt } from '../index.js';
import { parsePositiveInt, parseStop, parseVariant, reportCliError } from './args.js';

const usage = 'usage: npm run complete -- --file F --at LINE:COL [--model DIR] [--max-tokens N] [--json] [--variant V] [--temperature T] [--top-p P] [--seed S] [--stop line|block|eos|none] [--threads N]';

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

  const text = readDocument(values.file);
  const { prefix, suffix } = splitAt(text, Number(at[1]), Number(at[2]));
  const model = await CodeModel.load(values.model ?? defaultModelDir, {
    variant: parseVariant(values.variant),
    threads: values.threads === undefined ? undefined : parsePositiveInt('--threads', values.threads, 1),
  });
  try {
    const result = await model.complete(prefix, suffix, {
      maxTokens,
      temperature,
      topP,
      seed: values.seed === undefined ? undefined : Number(values.seed),
      stop,
    });
    if (values.json) {
      console.log(JSON.stringify({
        completion: result.text,
        tokens: result.tokens.length,
        promptTokens: result.promptTokens,
        msFirstToken: round(result.msFirstToken),
        msTotal: round(result.msTotal),
        model: model.dir,
        stopReason: result.stopReason,
        format: model.fim ? `fim:${model.fim.family}` : 'plain',
      }));
    } else {
      process.stdout.write(result.text + (result.text.endsWith('\n') ? '' : '\n'));
    }
  } finally {
    await model.dispose();
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

main().catch(reportCliError);
