// npm run bench:decode -- [--json OUT] [--model DIR] [--variant V] [--tokens N] [--repeats R] [--prompts 256,1024,2048] [--threads T] [--warmup full|short|none]
// --warmup: before each prompt size, 4 tokens of each loop on that prompt ('full', default), on its first 64 tokens
// ('short': at 4k tokens of a 0.5B model on a CPU a full warm-up is two more whole prefills) or none.
// Decode speed of our generation loop (model/generate.ts: KvCache, processors hook, sampler, stop rules,
// text decoding) against a raw onnxruntime loop (feed presents back as pasts, argmax) over the same
// session, prompt and number of tokens, in the same process, runs interleaved. Prints a table; --json
// writes {"model", "rows": [{promptTokens, oursMsPerToken, rawMsPerToken, overhead, ...}]}. overhead is the median
// over back-to-back pairs of ours/raw − 1 (ms/token are medians over runs); overheadOfBest compares the fastest runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CodeModel, defaultModelDir, generateAll, type RawRunner } from '../model/index.js';
import { median } from './stats.js';

type Tensor = ReturnType<RawRunner['tensor']>;

function argmax(a: Float32Array, from: number, width: number): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < width; i++) {
    if (a[from + i] > max) {
      max = a[from + i];
      best = i;
    }
  }
  return best;
}

interface LoopTiming {
  tokens: number[];
  prefillMs: number;
  decodeMsPerToken: number;
}

/** The reference: onnxruntime alone, no engine code between steps. */
async function rawLoop(raw: RawRunner, model: CodeModel, prompt: readonly number[], steps: number): Promise<LoopTiming> {
  const c = model.config;
  const dims = (n: number) => [1, c.numKvHeads, n, c.headDim];
  const empty = raw.kvDtype === 'float32' ? new Float32Array(0) : new Uint16Array(0);
  let past: Record<string, Tensor> = {};
  for (let l = 0; l < c.numLayers; l++) {
    past[`past_key_values.${l}.key`] = raw.tensor(raw.kvDtype, empty, dims(0));
    past[`past_key_values.${l}.value`] = raw.tensor(raw.kvDtype, empty, dims(0));
  }
  const tokens: number[] = [];
  let ids: readonly number[] = prompt;
  let length = 0;
  const t0 = performance.now();
  let tDecode = t0;
  for (let step = 0; step < steps; step++) {
    const n = ids.length;
    const feeds: Record<string, Tensor> = {
      ...past,
      input_ids: raw.tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
      attention_mask: raw.tensor('int64', new BigInt64Array(length + n).fill(1n), [1, length + n]),
    };
    if (raw.hasPositionIds) feeds.position_ids = raw.tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(length + i)), [1, n]);
    // optimum's merged decoder picks its branch from this input: the no-cache one for the prompt.
    if (raw.isMergedDecoder) feeds.use_cache_branch = raw.tensor('bool', Uint8Array.of(length > 0 ? 1 : 0), [1]);
    if (raw.logitsToKeepInput) feeds[raw.logitsToKeepInput] = raw.tensor('int64', BigInt64Array.of(1n), []);
    const out = await raw.run(feeds);
    const logits = out.logits.data as Float32Array;
    const next = argmax(logits, (out.logits.dims[1] - 1) * c.vocabSize, c.vocabSize);
    tokens.push(next);
    past = {};
    for (let l = 0; l < c.numLayers; l++) {
      past[`past_key_values.${l}.key`] = out[`present.${l}.key`];
      past[`past_key_values.${l}.value`] = out[`present.${l}.value`];
    }
    length += n;
    ids = [next];
    if (step === 0) tDecode = performance.now();
  }
  const end = performance.now();
  return { tokens, prefillMs: tDecode - t0, decodeMsPerToken: (end - tDecode) / (steps - 1) };
}

async function oursLoop(model: CodeModel, prompt: readonly number[], steps: number): Promise<LoopTiming> {
  const r = await generateAll(model.session, model.tokenizer, { ids: prompt }, { maxTokens: steps, stop: [] });
  if (r.tokens.length !== steps) throw new Error(`our loop stopped after ${r.tokens.length} tokens (${r.stopReason})`);
  // The last token is appended without another pass, as in the raw loop: steps−1 decode passes.
  return { tokens: [...r.tokens], prefillMs: r.msFirstToken, decodeMsPerToken: (r.msTotal - r.msFirstToken) / (steps - 1) };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Real TypeScript source, tokenized, cut to exactly n tokens (repeated if the files are short). */
function promptOf(model: CodeModel, n: number): number[] {
  const files = ['node_modules/typescript/lib/lib.es5.d.ts', 'node_modules/typescript/lib/lib.dom.d.ts']
    .map((f) => path.resolve(__dirname, '..', f))
    .filter((f) => fs.existsSync(f));
  const text = files.length ? files.map((f) => fs.readFileSync(f, 'utf8').slice(0, 200_000)).join('\n') : fs.readFileSync(__filename, 'utf8');
  let ids = model.tokenizer.encode(text.slice(0, n * 12));
  while (ids.length < n) ids = ids.concat(ids);
  return ids.slice(0, n);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'string' },
      model: { type: 'string' },
      tokens: { type: 'string', default: '32' },
      repeats: { type: 'string', default: '12' },
      prompts: { type: 'string', default: '256,1024,2048' },
      threads: { type: 'string' },
      variant: { type: 'string' },
      warmup: { type: 'string', default: 'full' },
    },
  });
  const steps = Number(values.tokens);
  const repeats = Number(values.repeats);
  const sizes = values.prompts!.split(',').map(Number);
  const loadStart = os.loadavg();
  const tStart = Date.now();
  const tLoad = performance.now();
  const model = await CodeModel.load(values.model ?? defaultModelDir, {
    threads: values.threads ? Number(values.threads) : undefined,
    variant: values.variant as never,
  });
  const loadMs = performance.now() - tLoad;
  console.error(`model ${model.session.file} loaded in ${Math.round(loadMs)} ms; loadavg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const raw = model.session.raw();
  const rows = [];
  try {
    for (const n of sizes) {
      const prompt = promptOf(model, n);
      const load0 = os.loadavg()[0];
      if (values.warmup !== 'none') {
        const warm = values.warmup === 'short' ? prompt.slice(0, 64) : prompt;
        await oursLoop(model, warm, 4); // warm-up for this shape
        await rawLoop(raw, model, warm, 4);
      }
      const ours: LoopTiming[] = [];
      const base: LoopTiming[] = [];
      for (let i = 0; i < repeats; i++) {
        // Alternate which goes first so drift on a shared machine hits both alike.
        if (i % 2 === 0) {
          ours.push(await oursLoop(model, prompt, steps));
          base.push(await rawLoop(raw, model, prompt, steps));
        } else {
          base.push(await rawLoop(raw, model, prompt, steps));
          ours.push(await oursLoop(model, prompt, steps));
        }
      }
      const same = ours[0].tokens.every((t, i) => t === base[0].tokens[i]);
      const o = median(ours.map((x) => x.decodeMsPerToken));
      const b = median(base.map((x) => x.decodeMsPerToken));
      // Each pair ran back to back, so its ratio is what drift on a shared machine disturbs least.
      const pairRatio = median(ours.map((x, i) => x.decodeMsPerToken / base[i].decodeMsPerToken));
      const bestRatio = Math.min(...ours.map((x) => x.decodeMsPerToken)) / Math.min(...base.map((x) => x.decodeMsPerToken));
      rows.push({
        promptTokens: n,
        oursMsPerToken: r3(o),
        rawMsPerToken: r3(b),
        overhead: r3(pairRatio - 1),
        overheadOfMedians: r3(o / b - 1),
        overheadOfBest: r3(bestRatio - 1),
        oursTokensPerSecond: r3(1000 / o),
        rawTokensPerSecond: r3(1000 / b),
        oursPrefillMs: r3(median(ours.map((x) => x.prefillMs))),
        rawPrefillMs: r3(median(base.map((x) => x.prefillMs))),
        generatedTokens: steps,
        repeats,
        sameTokens: same,
        beyondContext: n + steps > model.config.maxPositions,
        loadavg1: [r3(load0), r3(os.loadavg()[0])],
      });
      const last = rows[rows.length - 1];
      console.error(`${n} tokens: prefill ours ${last.oursPrefillMs} ms / raw ${last.rawPrefillMs} ms, decode ours ${last.oursMsPerToken} / raw ${last.rawMsPerToken} ms/token; loadavg ${last.loadavg1.join('→')}`);
    }
  } finally {
    await model.dispose();
  }
  const result = {
    model: model.dir,
    file: path.basename(model.session.file),
    variant: values.variant ?? 'default',
    params: { numLayers: model.config.numLayers, hiddenSize: model.config.hiddenSize, numHeads: model.config.numHeads, numKvHeads: model.config.numKvHeads, headDim: model.config.headDim, vocabSize: model.config.vocabSize, kvDtype: model.session.kvDtype },
    loadMs: Math.round(loadMs),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadavgStart: loadStart.map(r3),
    loadavgEnd: os.loadavg().map(r3),
    elapsedS: Math.round((Date.now() - tStart) / 1000),
    date: new Date().toISOString(),
    threads: values.threads ? Number(values.threads) : 'default',
    warmup: values.warmup,
    node: process.version,
    rows,
  };
  console.table(rows.map((r) => ({ prompt: r.promptTokens, 'ours ms/tok': r.oursMsPerToken, 'raw ms/tok': r.rawMsPerToken, overhead: `${(r.overhead * 100).toFixed(1)}%`, 'overhead (best)': `${(r.overheadOfBest * 100).toFixed(1)}%`, 'ours tok/s': r.oursTokensPerSecond, 'raw tok/s': r.rawTokensPerSecond, 'same tokens': r.sameTokens })));
  if (values.json) {
    fs.mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
    fs.writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${values.json}`);
  } else {
    console.log(JSON.stringify(result));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
