#!/usr/bin/env node
// Trains the default model's byte-level BPE tokenizer with Hugging Face's own `tokenizers` library
// (npm package `tokenizers`, Rust with Node bindings).
//
// The Node binding trains with the BPE model's default trainer (30k merges budget, no options), so
// we train on a sample of the corpus and then keep the first N entries: BPE merges are learned
// greedily in order, so the first N ranks of a larger run are what a run to N would have learned.
// All 256 byte symbols are forced into the alphabet so no input is ever unknown.
//
//   node model/train/trainTokenizer.mjs --corpus .corpus --out .corpus/tokenizer.json --vocab 16384
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import tokenizers from 'tokenizers';

const { Tokenizer, BPE, byteLevelPreTokenizer, byteLevelProcessing, byteLevelAlphabet } = tokenizers;

export const SPECIAL_TOKENS = ['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<fim_pad>', '<file_sep>'];

function parseArgs(argv) {
  const args = { corpus: '.corpus', out: '.corpus/tokenizer.json', vocab: 16384, sampleMb: 48 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args)) throw new Error(`unknown option --${key}`);
    args[key] = typeof args[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return args;
}

async function writeSample(corpus, file, budgetChars) {
  // Every 3rd .js document, every .ts/.d.ts one, up to the budget: the tokenizer should favour TypeScript.
  const out = fs.createWriteStream(file);
  let used = 0;
  let n = 0;
  const rl = readline.createInterface({ input: fs.createReadStream(path.join(corpus, 'train.jsonl')) });
  for await (const line of rl) {
    const doc = JSON.parse(line);
    n++;
    if (doc.kind === 'js' && n % 3 !== 0) continue;
    if (doc.kind === 'dts' && n % 2 !== 0) continue;
    out.write(doc.text + '\n');
    used += doc.text.length;
    if (used > budgetChars) break;
  }
  // Characters whose UTF-8 encodings start with every possible lead byte, so every byte symbol is seen.
  const cover = [];
  for (let cp = 0x20; cp < 0x7f; cp++) cover.push(String.fromCodePoint(cp));
  for (let cp = 0x80; cp < 0x800; cp += 1) cover.push(String.fromCodePoint(cp));
  for (let lead = 0xe0; lead <= 0xef; lead++) cover.push(String.fromCodePoint(((lead & 0x0f) << 12) | 0x0a00));
  for (let lead = 0xf0; lead <= 0xf4; lead++) cover.push(String.fromCodePoint(((lead & 0x07) << 18) | 0x10000 * (lead === 0xf0 ? 1 : 0) | 0x0600));
  for (let i = 0; i < 4; i++) out.write(cover.join(' ') + '\n');
  for (let b = 0; b < 0x20; b++) out.write(String.fromCharCode(b));
  out.write('\n');
  await new Promise((r) => out.end(r));
  return used;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const sample = path.join(args.corpus, 'tokenizer-sample.txt');
  const used = await writeSample(args.corpus, sample, args.sampleMb * 1e6);
  console.error(`tokenizer sample: ${(used / 1e6).toFixed(1)} MB`);

  const tok = new Tokenizer(BPE.empty());
  tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
  tok.setPostProcessor(byteLevelProcessing(false));
  const t0 = Date.now();
  tok.train([sample]);
  console.error(`trained in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${tok.getVocabSize()} entries`);

  const tmp = path.join(args.corpus, 'tokenizer-raw.json');
  tok.save(tmp, false);
  const json = JSON.parse(fs.readFileSync(tmp, 'utf8'));

  // Keep the first (vocab - specials) ranks; drop merges that produce or use a dropped symbol.
  // Bytes that never occur in UTF-8 text (0xC0, 0xC1, 0xF5-0xFF) are not seen in training: append them
  // so that the vocabulary covers all 256 byte symbols, as byte-level BPE promises.
  const vocab = json.model.vocab;
  const missing = byteLevelAlphabet().filter((ch) => !Object.hasOwn(vocab, ch));
  const keep = args.vocab - SPECIAL_TOKENS.length - missing.length;
  const kept = Object.fromEntries(Object.entries(vocab).filter(([, id]) => id < keep));
  missing.forEach((ch, i) => { kept[ch] = keep + i; });
  const merges = json.model.merges.filter((m) => {
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    return Object.hasOwn(kept, a) && Object.hasOwn(kept, b) && Object.hasOwn(kept, a + b);
  });
  json.model.vocab = kept;
  json.model.merges = merges;
  json.decoder = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  json.added_tokens = SPECIAL_TOKENS.map((content, i) => ({ id: keep + missing.length + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  fs.writeFileSync(args.out, JSON.stringify(json));

  // Reload through the library to prove the file is valid and the ids are what we wrote.
  const check = Tokenizer.fromFile(args.out);
  for (const [i, s] of SPECIAL_TOKENS.entries()) {
    if (check.tokenToId(s) !== keep + missing.length + i) throw new Error(`special token ${s} has id ${check.tokenToId(s)}`);
  }
  const probe = 'const x = obj.method(42); // ünïcødé → 🎉\r\n\tindented';
  const enc = await check.encode(probe);
  const dec = await check.decode(enc.getIds(), false);
  if (dec !== probe) throw new Error(`round trip failed: ${JSON.stringify(dec)}`);
  console.log(JSON.stringify({ vocab: check.getVocabSize(true), merges: merges.length, sampleChars: used, probeTokens: enc.getIds().length }));
  fs.rmSync(tmp);
}

await main();
