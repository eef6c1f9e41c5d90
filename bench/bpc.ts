// Bits per character of a model on TypeScript sources it never saw: the evaluation packages'
// non-declaration .ts files (package-level held out, unlike the training run's file-level split).
//
//   npm run bench:bpc -- [--model DIR] [--packages FILE] [--tokens N] [--json OUT]
//
// Packages are installed and their sources collected exactly as the MGD evaluation does (same cache,
// .cache/mgd). Each file is scored in windows of --window tokens (no overlap); the first token of
// each window is not scored.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CodeModel, defaultModelDir } from '../model/index.js';
import { installPackage, parsePackageList, specLabel } from './mgd/packages.js';

function logSoftmaxAt(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return row[target] - max - Math.log(sum);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    model: { type: 'string' }, packages: { type: 'string', default: path.join(__dirname, '../../shared/eval/dev-packages.txt') },
    tokens: { type: 'string', default: '20000' }, window: { type: 'string', default: '512' }, json: { type: 'string' },
  } });
  const budget = Number(values.tokens);
  const win = Number(values.window);
  const model = await CodeModel.load(values.model ?? defaultModelDir);
  const cache = path.join(process.cwd(), '.cache', 'mgd');
  const rows: { package: string; tokens: number; chars: number; bitsPerChar: number; nllPerToken: number }[] = [];
  const listFile = path.resolve(values.packages!);
  const specs = parsePackageList(fs.readFileSync(listFile, 'utf8'), path.dirname(listFile));
  const perPackage = Math.ceil(budget / specs.length);
  for (const spec of specs) {
    let nll = 0, scored = 0, chars = 0;
    for (const file of (await installPackage(spec, cache)).files) {
      if (scored >= perPackage) break;
      const text = fs.readFileSync(file, 'utf8');
      const ids = model.tokenizer.encode(text);
      for (let s = 0; s + 1 < ids.length && scored < perPackage; s += win) {
        const w = ids.slice(s, s + win + 1);
        const r = await model.session.forward(w.slice(0, -1), null, { allLogits: true });
        const V = r.logits.length / r.rows;
        for (let i = 0; i + 1 < w.length; i++) nll -= logSoftmaxAt(r.logits.subarray(i * V, (i + 1) * V), w[i + 1]);
        r.cache.dispose();
        scored += w.length - 1;
        chars += model.tokenizer.decode(w.slice(1)).length;
      }
    }
    if (scored > 0) rows.push({ package: specLabel(spec), tokens: scored, chars, bitsPerChar: nll / Math.LN2 / chars, nllPerToken: nll / scored });
  }
  const tokens = rows.reduce((n, r) => n + r.tokens, 0);
  const chars = rows.reduce((n, r) => n + r.chars, 0);
  const nll = rows.reduce((n, r) => n + r.nllPerToken * r.tokens, 0);
  const result = { model: model.name, window: win, tokens, chars, bitsPerChar: nll / Math.LN2 / chars, nllPerToken: nll / tokens, rows };
  await model.dispose();
  console.table(rows.map((r) => ({ ...r, bitsPerChar: r.bitsPerChar.toFixed(3), nllPerToken: r.nllPerToken.toFixed(3) })));
  console.log(JSON.stringify({ model: result.model, tokens, bitsPerChar: +result.bitsPerChar.toFixed(4), nllPerToken: +result.nllPerToken.toFixed(4) }));
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(result, null, 1));
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exitCode = 1;
});
