// npm run bench:attention -- [--model DIR] [--variant quantized] [--contexts 1024,2048,4096] [--new 1,16] [--rounds 5] [--threads 2] [--json OUT]
// A Hub export loaded as the loader ships it (the sidecar graph with the last-logits slice and grouped
// attention: model/groupedAttention.ts multiplies grouped queries by the kvH key/value heads instead of
// repeat_kv's copies) and with the export's own attention (`groupedAttention: false`), each from its own
// temporary folder of hard links to the model's files (the sidecar is written beside the graph). For each
// past length and each count of new tokens (1: a decode step, and PIE's last-token step after an edit;
// 16: an edited span), one forward on a past of that length, rounds alternating between the two; prints
// a table and JSON {model, variant, threads, rows: [{context, newTokens, ungroupedMs, groupedMs, ratio,
// maxAbsDiff}]} (medians over rounds; ratio = grouped / ungrouped within a round). int8 exports quantize
// activations per call, so a one-token step's logits can differ beyond float rounding (a rounding flip
// in one layer); float32 exports agree to ~1e-5. Default model: the Qwen2 stand-in; the numbers that
// matter come from the 0.5B shape (scripts/standins/make_realsize.py).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CodeModel, type ModelVariant, type RawRunner } from '../model/index.js';
import { median } from './stats.js';

const { values } = parseArgs({
  options: {
    json: { type: 'string' },
    model: { type: 'string', default: path.resolve(__dirname, '../test/fixtures/models/qwen2') },
    variant: { type: 'string', default: 'default' },
    contexts: { type: 'string', default: '1024,2048,4096' },
    new: { type: 'string', default: '1,16' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
  },
});
const contexts = values.contexts!.split(',').map(Number);
const newCounts = values.new!.split(',').map(Number);
const rounds = Number(values.rounds);
const threads = Number(values.threads);
type Kind = 'ungrouped' | 'grouped';
type Tensor = ReturnType<RawRunner['tensor']>;


/**
 * A folder of hard links to `dir`'s files (onnx/ included) where the loader may write its sidecar
 * (onnxruntime resolves symbolic links and refuses external data outside the graph's folder).
 */
function linkedCopy(dir: string, target: string): string {
  fs.mkdirSync(path.join(target, 'onnx'), { recursive: true });
  for (const sub of ['', 'onnx']) {
    for (const f of fs.readdirSync(path.join(dir, sub))) {
      const from = path.join(dir, sub, f);
      if (fs.statSync(from).isFile() && !/\.last-logits(\.json)?$/.test(f)) fs.linkSync(from, path.join(target, sub, f));
    }
  }
  return target;
}

async function main(): Promise<void> {
  // Beside the model: hard links need the same file system.
  const tmp = fs.mkdtempSync(path.join(path.dirname(path.resolve(values.model!)), '.typeguide-bench-attention-'));
  const models: Partial<Record<Kind, CodeModel>> = {};
  try {
    const variant = values.variant as ModelVariant;
    for (const kind of ['ungrouped', 'grouped'] as const) {
      const logs: string[] = [];
      models[kind] = await CodeModel.load(linkedCopy(values.model!, path.join(tmp, kind)), { variant, threads, groupedAttention: kind === 'grouped', log: (m) => logs.push(m) });
      const lm = models[kind]!;
      if (!lm.session.logitsToKeepInput) throw new Error(`${kind}: no last-logits sidecar (${logs.join('; ')})`);
      if (kind === 'grouped' && !logs.some((l) => l.includes('grouped attention'))) throw new Error(`the export has no repeat_kv to group (${logs.join('; ') || 'heads ' + lm.config.numHeads + ' / ' + lm.config.numKvHeads})`);
    }
    const config = models.grouped!.config;
    const runners = { ungrouped: models.ungrouped!.session.raw(), grouped: models.grouped!.session.raw() };
    const raw = runners.grouped;
    const rows: { context: number; newTokens: number; ungroupedMs: number; groupedMs: number; ratio: number; maxAbsDiff: number }[] = [];
    for (const context of contexts) {
      // A random past of unit scale: what it holds does not change the work.
      const kvShape = [1, config.numKvHeads, context, config.headDim];
      const size = kvShape.reduce((a, b) => a * b, 1);
      const past: Record<string, Tensor> = {};
      let seed = 12345;
      const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
      for (let l = 0; l < config.numLayers; l++) {
        for (const kv of ['key', 'value']) {
          const data = new Float32Array(size);
          for (let i = 0; i < size; i++) data[i] = rand();
          past[`past_key_values.${l}.${kv}`] = raw.kvDtype === 'float16' ? raw.tensor('float16', Uint16Array.from(data, (x) => (x >= 0 ? 0x3800 : 0xb800)), kvShape) : raw.tensor('float32', data, kvShape);
        }
      }
      for (const n of newCounts) {
        const feeds: Record<string, Tensor> = { ...past };
        feeds.input_ids = raw.tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(100 + i)), [1, n]);
        feeds.attention_mask = raw.tensor('int64', new BigInt64Array(context + n).fill(1n), [1, context + n]);
        if (raw.hasPositionIds) feeds.position_ids = raw.tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(context + i)), [1, n]);
        if (raw.logitsToKeepInput) feeds[raw.logitsToKeepInput] = raw.tensor('int64', BigInt64Array.from([1n]), []);
        if (raw.isMergedDecoder) feeds.use_cache_branch = raw.tensor('bool', Uint8Array.from([1]), [1]);
        const times: Record<Kind, number[]> = { ungrouped: [], grouped: [] };
        const ratios: number[] = [];
        let diff = 0;
        for (let r = 0; r <= rounds; r++) {
          const logits: Partial<Record<Kind, Float32Array>> = {};
          const round: Partial<Record<Kind, number>> = {};
          for (const kind of (r % 2 ? ['grouped', 'ungrouped'] : ['ungrouped', 'grouped']) as Kind[]) {
            const t0 = performance.now();
            const out = await runners[kind].run(feeds);
            round[kind] = performance.now() - t0;
            logits[kind] = Float32Array.from(out.logits.data as Float32Array);
          }
          if (r === 0) continue; // warm-up: each new shape's first run plans its memory
          times.ungrouped.push(round.ungrouped!);
          times.grouped.push(round.grouped!);
          ratios.push(round.grouped! / round.ungrouped!);
          const [a, b] = [logits.ungrouped!, logits.grouped!];
          for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
        }
        rows.push({ context, newTokens: n, ungroupedMs: median(times.ungrouped), groupedMs: median(times.grouped), ratio: median(ratios), maxAbsDiff: diff });
        console.error(`past ${context}, ${n} new: ${median(times.ungrouped).toFixed(1)} -> ${median(times.grouped).toFixed(1)} ms`);
      }
    }
    const report = {
      bench: 'attention', model: values.model, file: path.basename(models.grouped!.session.file), variant: values.variant, threads, rounds,
      heads: { heads: config.numHeads, kvHeads: config.numKvHeads }, layers: config.numLayers, loadavg: os.loadavg(), rows,
    };
    console.log('| past tokens | new tokens | repeat_kv ms | grouped ms | grouped / repeat_kv | max abs logit difference |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.context} | ${r.newTokens} | ${r.ungroupedMs.toFixed(1)} | ${r.groupedMs.toFixed(1)} | ${r.ratio.toFixed(3)} | ${r.maxAbsDiff.toExponential(1)} |`);
    console.log(JSON.stringify(report));
    if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    for (const m of Object.values(models)) await m?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
