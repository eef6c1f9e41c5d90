// npm run bench:lastLogits -- [--json OUT] [--model DIR] [--variant V] [--tokens 1024] [--chunk 256] [--rounds 15] [--threads T]
// A prefill of --tokens tokens in --chunk-token chunks (as the engine prefills a prompt) on a Hub-layout
// export loaded twice: with its last-logits sidecar (model/lastLogits.ts: each chunk computes one row
// of logits) and as it is (lastLogits: false: [chunk, vocab] per chunk). Runs alternate, one of each per
// round; prints a table and JSON {model, variant, rows: [{graph, medianMs, minMs}], ratio}, where
// ratio is the median over rounds of sidecar / original. The model folder is copied to a temp folder
// first (the sidecar is written beside the graph). Default model: the qwen2 stand-in
// (test/fixtures/models/qwen2: hidden 64, vocabulary 704, 2 layers): its lm_head is a small share of a
// token's work, unlike a real 0.5B export's (hidden 896, vocabulary 151,936: about 28 %).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CodeModel, type ModelVariant } from '../model/index.js';
import { median } from './stats.js';

const { values } = parseArgs({
  options: {
    json: { type: 'string' },
    model: { type: 'string', default: path.resolve(__dirname, '../test/fixtures/models/qwen2') },
    variant: { type: 'string', default: 'default' },
    tokens: { type: 'string', default: '1024' },
    chunk: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '15' },
    threads: { type: 'string', default: '1' },
  },
});
const tokens = Number(values.tokens);
const chunk = Number(values.chunk);
const rounds = Number(values.rounds);
const threads = Number(values.threads);


async function prefill(model: CodeModel, ids: readonly number[]): Promise<{ ms: number; last: Float32Array }> {
  const t0 = performance.now();
  let cache = null;
  let last: Float32Array = new Float32Array(0);
  for (let at = 0; at < ids.length; at += chunk) {
    const r = await model.session.forward(ids.slice(at, at + chunk), cache);
    cache?.dispose();
    cache = r.cache;
    last = r.logits;
  }
  const ms = performance.now() - t0;
  cache?.dispose();
  return { ms, last };
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-bench-last-logits-'));
  try {
    const dir = path.join(tmp, path.basename(values.model));
    fs.cpSync(values.model, dir, { recursive: true });
    const variant = values.variant as ModelVariant;
    const logs: string[] = [];
    const sidecar = await CodeModel.load(dir, { variant, threads, log: (m) => logs.push(m) });
    const original = await CodeModel.load(dir, { variant, threads, lastLogits: false });
    if (!sidecar.session.logitsToKeepInput || sidecar.session.graphFile === original.session.graphFile) throw new Error(`no sidecar: ${logs.join('; ')}`);
    // Token ids spread over the vocabulary, the same for both.
    const ids = Array.from({ length: tokens }, (_, i) => (i * 7919 + 13) % sidecar.config.vocabSize);
    const a = await prefill(sidecar, ids);
    const b = await prefill(original, ids);
    let diff = 0;
    for (let i = 0; i < a.last.length; i++) diff = Math.max(diff, Math.abs(a.last[i] - b.last[i]));
    const times: Record<'sidecar' | 'original', number[]> = { sidecar: [], original: [] };
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so that neither always runs on a warmer machine.
      const order = r % 2 ? (['original', 'sidecar'] as const) : (['sidecar', 'original'] as const);
      const got: Partial<Record<'sidecar' | 'original', number>> = {};
      for (const which of order) got[which] = (await prefill(which === 'sidecar' ? sidecar : original, ids)).ms;
      times.sidecar.push(got.sidecar!);
      times.original.push(got.original!);
      ratios.push(got.sidecar! / got.original!);
    }
    const rows = (['original', 'sidecar'] as const).map((graph) => ({
      graph,
      file: path.basename((graph === 'sidecar' ? sidecar : original).session.graphFile),
      medianMs: Number(median(times[graph]).toFixed(2)),
      minMs: Number(Math.min(...times[graph]).toFixed(2)),
    }));
    const result = {
      model: values.model, variant, tokens, chunk, rounds, threads,
      hidden: sidecar.config.hiddenSize, vocab: sidecar.config.vocabSize, layers: sidecar.config.numLayers,
      lastRowMaxAbsDiff: diff, rows, ratio: Number(median(ratios).toFixed(3)),
    };
    console.log(`prefill of ${tokens} tokens in ${chunk}-token chunks, ${rounds} interleaved rounds, ${threads} thread(s), ${path.basename(values.model)} ${variant}`);
    console.log('graph     file                              median ms   min ms');
    for (const r of rows) console.log(`${r.graph.padEnd(9)} ${r.file.padEnd(33)} ${r.medianMs.toFixed(2).padStart(9)} ${r.minMs.toFixed(2).padStart(8)}`);
    console.log(`sidecar / original (median of per-round ratios): ${result.ratio}; last-row max |diff| ${diff}`);
    console.log(JSON.stringify(result));
    if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
    await sidecar.dispose();
    await original.dispose();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
