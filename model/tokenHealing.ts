// Token healing. A prompt that ends inside what the model would write as one token (`await |` where
// the model writes ` readFile`, or `this.inv|` where it writes `inventory`) leaves the model at a
// token boundary it rarely saw in training, so it continues badly. Healing drops the prompt tokens
// that cover the partial text and makes the first generated token(s) spell it again: only tokens
// whose bytes start with the removed text, or are a proper prefix of it (the constraint then goes on
// with the rest), are allowed. The caller strips the removed text from the output.
import type { LogitsProcessor, StepContext, TextTokenizer } from './types.js';

export interface HealingPlan {
  /** Prompt tokens to keep (the prefix's ids without the healed tail). */
  readonly keep: number;
  /** Text of the dropped tokens; the completion must start with it. '' when nothing is healed. */
  readonly text: string;
}

export interface HealingOptions {
  /** Most prompt tokens dropped (default 3). */
  readonly maxTokens?: number;
  /** Longest healed text in characters (default 48). */
  readonly maxChars?: number;
}

const TRAILING_BLANKS = /\S[ \t]+$/;
const IDENTIFIER_TAIL = /[\p{ID_Continue}$]+$/u;

/**
 * The text at the end of `linePrefix` that a following token could merge with: trailing spaces/tabs
 * after other text on the line, or an identifier (possibly partial) right before the cursor.
 */
export function healableTail(linePrefix: string): string {
  if (TRAILING_BLANKS.test(linePrefix)) return /[ \t]+$/.exec(linePrefix)![0];
  return IDENTIFIER_TAIL.exec(linePrefix)?.[0] ?? '';
}

const utf8 = new TextEncoder();

/**
 * Which of `prefixIds` (the tokens of `prefix`, possibly cut at the start) to drop so that the
 * healable tail is re-generated. The dropped tokens must be ordinary tokens, spell valid UTF-8
 * without a line break, and be exactly the end of `prefix`; otherwise nothing is healed.
 */
export function planHealing(tokenizer: TextTokenizer, prefix: string, prefixIds: readonly number[], options: HealingOptions = {}): HealingPlan {
  const none = { keep: prefixIds.length, text: '' };
  const lineStart = Math.max(prefix.lastIndexOf('\n'), prefix.lastIndexOf('\r')) + 1;
  const tail = healableTail(prefix.slice(lineStart));
  if (!tail) return none;
  const need = utf8.encode(tail).length;
  const maxTokens = options.maxTokens ?? 3;
  let covered = 0;
  let k = 0;
  while (covered < need && k < maxTokens && k < prefixIds.length) {
    const id = prefixIds[prefixIds.length - 1 - k];
    if (tokenizer.specialIds.has(id)) break;
    covered += tokenizer.tokenBytes(id).length;
    k++;
  }
  if (k === 0) return none;
  const dropped = prefixIds.slice(prefixIds.length - k);
  const bytes = concatBytes(dropped.map((id) => tokenizer.tokenBytes(id)));
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return none; // the dropped tokens split a character: keep the prompt as it is
  }
  if (!text || /[\r\n]/.test(text) || text.length > (options.maxChars ?? 48) || !prefix.endsWith(text)) return none;
  return { keep: prefixIds.length - k, text };
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Ordinary token ids grouped by their first byte, once per tokenizer. */
const byFirstByte = new WeakMap<TextTokenizer, number[][]>();

function firstByteIndex(tokenizer: TextTokenizer): number[][] {
  let index = byFirstByte.get(tokenizer);
  if (!index) {
    index = Array.from({ length: 256 }, () => [] as number[]);
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      if (tokenizer.specialIds.has(id)) continue;
      const b = tokenizer.tokenBytes(id);
      if (b.length > 0) index[b[0]].push(id);
    }
    byFirstByte.set(tokenizer, index);
  }
  return index;
}

/**
 * Keeps the output on the healed text: while bytes of it remain, every token that neither starts
 * with them nor is a proper prefix of them gets -Infinity. Put it first in the processor list.
 */
export class TokenHealingProcessor implements LogitsProcessor {
  private remaining: Uint8Array;
  private readonly index: number[][];
  private readonly allowed: Uint8Array;
  private seen = 0;

  constructor(private readonly tokenizer: TextTokenizer, readonly text: string) {
    this.remaining = utf8.encode(text);
    this.index = firstByteIndex(tokenizer);
    this.allowed = new Uint8Array(tokenizer.vocabSize);
  }

  /** Whether the constraint still holds back some bytes of the healed text. */
  get active(): boolean {
    return this.remaining.length > 0;
  }

  /** Whether a token may come next: it starts with the rest of the healed text or is a proper prefix of it. */
  allows(id: number): boolean {
    if (!this.active) return true;
    if (this.tokenizer.specialIds.has(id)) return false;
    const b = this.tokenizer.tokenBytes(id);
    const r = this.remaining;
    const n = Math.min(b.length, r.length);
    if (n === 0) return false;
    for (let i = 0; i < n; i++) if (b[i] !== r[i]) return false;
    return true;
  }

  /** Whether appending these tokens in order keeps to the healed text. */
  allowsSequence(ids: readonly number[]): boolean {
    const saved = this.remaining;
    try {
      for (const id of ids) {
        if (!this.allows(id)) return false;
        this.advance(id);
      }
      return true;
    } finally {
      this.remaining = saved;
    }
  }

  process(logits: Float32Array, ctx: StepContext): void {
    for (let i = this.seen; i < ctx.generatedTokens.length; i++) this.onToken(ctx.generatedTokens[i]);
    if (!this.active) return;
    const allowed = this.allowed;
    allowed.fill(0);
    for (const id of this.index[this.remaining[0]]) if (id < logits.length && this.allows(id)) allowed[id] = 1;
    for (let id = 0; id < logits.length; id++) if (!allowed[id]) logits[id] = -Infinity;
  }

  onToken(tokenId: number): void {
    this.seen++;
    this.advance(tokenId);
  }

  private advance(id: number): void {
    if (!this.active) return;
    const len = this.tokenizer.tokenBytes(id).length;
    this.remaining = len >= this.remaining.length ? new Uint8Array(0) : this.remaining.subarray(len);
  }
}

/** The completion as the caller sees it: what comes after the healed text. */
export function stripHealed(text: string, healed: string): string {
  if (!healed) return text;
  return text.startsWith(healed) ? text.slice(healed.length) : healed.startsWith(text) ? '' : text;
}
