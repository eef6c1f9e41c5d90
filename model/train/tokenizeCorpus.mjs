#!/usr/bin/env node
// Tokenizes the corpus JSONL into flat uint16 token files (documents separated by <|endoftext|>)
// with Hugging Face's `tokenizers` library. train.py does the same in Python when the Python binding
// is available (the GPU machine); this is the CPU machine's path.
//
//   node model/train/tokenizeCorpus.mjs --corpus .corpus --tokenizer .corpus/tokenizer.json [--maxMb 60]
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import tokenizers from 'tokenizers';

const args = { corpus: '.corpus', tokenizer: '.corpus/tokenizer.json', maxMb: 1e9 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in args)) throw new Error(`unknown option --${key}`);
  args[key] = typeof args[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
}

const tok = tokenizers.Tokenizer.fromFile(args.tokenizer);
const eos = tok.tokenToId('<|endoftext|>');
if (eos == null) throw new Error(`${args.tokenizer} has no <|endoftext|> token`);

for (const split of ['train', 'val']) {
  const out = fs.openSync(path.join(args.corpus, `${split}.bin`), 'w');
  const docs = [];
  let offset = 0;
  let chars = 0;
  let batch = [];
  const flush = async () => {
    const encs = await tok.encodeBatch(batch.map((d) => d.text));
    for (let i = 0; i < encs.length; i++) {
      const ids = encs[i].getIds();
      const arr = new Uint16Array(ids.length + 1);
      arr.set(ids);
      arr[ids.length] = eos;
      fs.writeSync(out, Buffer.from(arr.buffer));
      docs.push([offset, arr.length, batch[i].text.length, batch[i].kind]);
      offset += arr.length;
    }
    batch = [];
  };
  const rl = readline.createInterface({ input: fs.createReadStream(path.join(args.corpus, `${split}.jsonl`)) });
  for await (const line of rl) {
    const doc = JSON.parse(line);
    batch.push(doc);
    chars += doc.text.length;
    if (batch.length >= 256) await flush();
    if (chars > args.maxMb * 1e6) break;
  }
  if (batch.length) await flush();
  fs.closeSync(out);
  fs.writeFileSync(path.join(args.corpus, `${split}.docs.json`), JSON.stringify(docs));
  console.log(JSON.stringify({ split, tokens: offset, chars, charsPerToken: +(chars / offset).toFixed(3) }));
}
