// A small byte-level BPE vocabulary that merges the dot with names (`.get`, `.count`), as Qwen2's and
// DeepSeek-Coder's do, built with Hugging Face's tokenizers (the `tokenizers` npm package) in Qwen2's
// format: NFC normalizer, a Split pre-tokenizer on Qwen2's regex (whose `[^\r\n\p{L}\p{N}]?\p{L}+`
// keeps a `.` with the letters after it), then ByteLevel. Loaded back through the project's own
// HfTokenizer, so the monitor sees it exactly as it would see a real Qwen2 tokenizer.json.
import fs from 'node:fs';
import path from 'node:path';
import { AddedToken, BPE, byteLevelAlphabet, byteLevelPreTokenizer, nfcNormalizer, sequencePreTokenizer, splitPreTokenizer, Tokenizer } from 'tokenizers';
import { HfTokenizer } from '../../../model/index.js';
import { byteLevelDecoderMap } from '../../../model/tokenizer.js';

/** Qwen2's pre-tokenizer regex (tokenizer.json of Qwen/Qwen2.5-Coder). */
export const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Words of the vocabulary (as source text); every prefix of each becomes a token on the way. The
 *  dot-merged ones come first so that their merges rank before the bare names'. */
export const DOT_MERGED_WORDS = [
  '.count', '.invoke', '.invalidate', '.inventory', '.inventoryValue', '.get', '.length', '.set', '.push', '.map',
  '.then', '.restock', '.value', '.items', '.size', '.log', '.name', '.data',
  ' store', 'store', ' return', ' total', ' +', ' =', ' obj', 'obj', 'count', 'er', 'Value', '();', '()', ';', '(', ')', '.', 'zorble',
];

/** GPT-2's byte-to-character table (the ByteLevel alphabet), for writing words as vocabulary entries. */
function byteChars(): string[] {
  const table: string[] = new Array<string>(256);
  for (const [char, byte] of byteLevelDecoderMap()) table[byte] = char;
  return table;
}

/** Builds the tokenizer into `dir` (tokenizer.json + tokenizer_config.json) and loads it. */
export async function buildDotMergedTokenizer(dir: string, words: readonly string[] = DOT_MERGED_WORDS): Promise<HfTokenizer> {
  const chars = byteChars();
  const vocab: Record<string, number> = {};
  for (const c of byteLevelAlphabet().sort()) vocab[c] = Object.keys(vocab).length;
  const merges: [string, string][] = [];
  for (const word of words) {
    const units = [...Buffer.from(word, 'utf8')].map((b) => chars[b]);
    let cur = units[0];
    for (const u of units.slice(1)) {
      const next = cur + u;
      if (!(next in vocab)) { vocab[next] = Object.keys(vocab).length; merges.push([cur, u]); }
      cur = next;
    }
  }
  const tokenizer = new Tokenizer(BPE.init(vocab, merges));
  tokenizer.setNormalizer(nfcNormalizer());
  tokenizer.setPreTokenizer(sequencePreTokenizer([splitPreTokenizer(QWEN2_SPLIT, 'isolated', false), byteLevelPreTokenizer(false, false)]));
  tokenizer.addAddedTokens([new AddedToken('<|endoftext|>', true)]);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'tokenizer.json');
  tokenizer.save(file);
  // The Node binding takes a Split pattern as a literal string and has no ByteLevel decoder: write both
  // as Qwen2's tokenizer.json has them.
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { pre_tokenizer: { pretokenizers: { type: string; pattern?: unknown }[] }; decoder: unknown };
  for (const p of json.pre_tokenizer.pretokenizers) if (p.type === 'Split') p.pattern = { Regex: QWEN2_SPLIT };
  json.decoder = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  fs.writeFileSync(file, JSON.stringify(json));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>' }));
  // Checked with the tokenizer that wrote it (the Rust one): the dot stays with the name.
  const check = await Tokenizer.fromFile(file).encode('return store.count;');
  if (!check.getTokens().includes('.count')) throw new Error(`the vocabulary does not merge the dot: ${check.getTokens().join(' ')}`);
  return HfTokenizer.fromDir(dir);
}
