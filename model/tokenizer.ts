import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { readJsonFile, readOptionalJsonFile } from './config.js';
import { ModelError } from './errors.js';
import type { TextTokenizer } from './types.js';

/** GPT-2's byte ↔ printable-character map used by every byte-level BPE tokenizer.json. */
export function byteLevelDecoderMap(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i]), b]));
}

function usesByteLevel(node: unknown): boolean {
  if (typeof node !== 'object' || node === null) return false;
  const n = node as { type?: unknown; decoders?: unknown[] };
  if (n.type === 'ByteLevel') return true;
  return Array.isArray(n.decoders) && n.decoders.some(usesByteLevel);
}

const utf8 = new TextEncoder();

/**
 * TextTokenizer over Hugging Face's own JS tokenizer (`@huggingface/tokenizers`). Encoding is the
 * library's; decoding is done from each token's raw bytes so that streamed text is byte-exact and
 * never depends on a decoder's cleanup heuristics.
 */
export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly specialIds: ReadonlySet<number>;
  readonly eosId: number | undefined;
  private readonly byteOf: Map<string, number> | undefined;
  private readonly bytesCache: (Uint8Array | undefined)[] = [];
  private readonly addedContents: string[];
  private readonly addedById = new Map<number, string>();

  private constructor(
    private readonly tok: Tokenizer,
    json: Record<string, unknown>,
    config: Record<string, unknown>,
    readonly file: string,
  ) {
    const added = Array.isArray(json.added_tokens) ? (json.added_tokens as { id: number; content: string }[]) : [];
    for (const a of added) this.addedById.set(a.id, a.content);
    this.specialIds = new Set(added.map((a) => a.id));
    this.addedContents = added.map((a) => a.content).filter((c) => c.length > 1);
    const vocab = (json.model as { vocab?: Record<string, number> | unknown[] } | undefined)?.vocab;
    const baseSize = Array.isArray(vocab) ? vocab.length : vocab ? Object.keys(vocab).length : 0;
    let maxId = baseSize - 1;
    if (vocab && !Array.isArray(vocab)) for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
    for (const a of added) maxId = Math.max(maxId, a.id);
    this.vocabSize = maxId + 1;
    this.byteOf = usesByteLevel(json.decoder) || usesByteLevel(json.pre_tokenizer) ? byteLevelDecoderMap() : undefined;
    const eosText = typeof config.eos_token === 'string' ? config.eos_token : (config.eos_token as { content?: string } | undefined)?.content;
    this.eosId = (eosText !== undefined ? tok.token_to_id(eosText) : undefined) ?? tok.token_to_id('<|endoftext|>') ?? tok.token_to_id('</s>');
  }

  /** Loads `tokenizer.json` (+ `tokenizer_config.json` when present) from a model folder. */
  static fromDir(dir: string): HfTokenizer {
    const file = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(file)) throw new ModelError(file, 'missing; expected a Hugging Face tokenizer.json in the model folder');
    const json = readJsonFile(file);
    const config = readOptionalJsonFile(path.join(dir, 'tokenizer_config.json')) ?? {};
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, config);
    } catch (err) {
      throw new ModelError(file, `cannot be loaded as a Hugging Face tokenizer (${(err as Error).message})`, { cause: err });
    }
    if (!json.model || typeof json.model !== 'object') throw new ModelError(file, 'has no "model" section; expected a tokenizer.json');
    return new HfTokenizer(tok, json, config, file);
  }

  /**
   * Encodes source text. A literal special-token string inside the text (e.g. "<fim_prefix>" in a
   * comment) would be taken as the special token; cutting the text inside each such literal keeps it
   * ordinary text.
   */
  encode(text: string): number[] {
    if (text.length === 0) return [];
    const cuts = new Set<number>();
    for (const c of this.addedContents) {
      for (let at = text.indexOf(c); at >= 0; at = text.indexOf(c, at + 1)) {
        cuts.add(at + (text.codePointAt(at)! > 0xffff ? 2 : 1));
      }
    }
    if (cuts.size === 0) return this.tok.encode(text, { add_special_tokens: false }).ids;
    const out: number[] = [];
    let start = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      out.push(...this.tok.encode(text.slice(start, cut), { add_special_tokens: false }).ids);
      start = cut;
    }
    out.push(...this.tok.encode(text.slice(start), { add_special_tokens: false }).ids);
    return out;
  }

  /** Decodes to text; special tokens appear as their own text. Invalid UTF-8 becomes U+FFFD. */
  decode(ids: readonly number[]): string {
    let out = '';
    const decoder = new TextDecoder('utf-8');
    for (const id of ids) {
      const special = this.specialIds.has(id) ? this.addedById.get(id) : undefined;
      if (special !== undefined) out += decoder.decode() + special;
      else out += decoder.decode(this.tokenBytes(id), { stream: true });
    }
    return out + decoder.decode();
  }

  tokenBytes(id: number): Uint8Array {
    const cached = this.bytesCache[id];
    if (cached) return cached;
    let bytes: Uint8Array;
    const piece = this.specialIds.has(id) ? undefined : this.tok.id_to_token(id);
    if (piece === undefined) bytes = new Uint8Array(0);
    else if (this.byteOf) {
      const arr: number[] = [];
      for (const ch of piece) {
        const b = this.byteOf.get(ch);
        if (b === undefined) arr.push(...utf8.encode(ch));
        else arr.push(b);
      }
      bytes = Uint8Array.from(arr);
    } else {
      // SentencePiece-style vocabularies: "▁" is a space, "<0xNN>" is a raw byte (byte fallback).
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      bytes = m ? Uint8Array.of(parseInt(m[1], 16)) : utf8.encode(piece.replace(/\u2581/g, ' '));
    }
    this.bytesCache[id] = bytes;
    return bytes;
  }

  specialTokenId(text: string): number | undefined {
    for (const [id, content] of this.addedById) if (content === text) return id;
    return undefined;
  }

  /** Id of any token (ordinary or added) by its vocabulary text, e.g. "▁<PRE>". */
  tokenId(text: string): number | undefined {
    return this.tok.token_to_id(text);
  }

  /** The content of an added/special token, or undefined for ordinary tokens. */
  specialTokenText(id: number): string | undefined {
    return this.addedById.get(id);
  }
}
