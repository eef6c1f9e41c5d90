// A stand-in for the model in server tests: greedy decoding over synthetic logits that prefer the
// tokens of a wished-for text (a plausible but wrong guess) over deterministic noise. The real-model
// test (monitorModel.test.ts) checks the same property with the ONNX model.
import type { LogitsProcessor, StepContext, TextTokenizer } from '../../../model/types.js';

export interface ScriptedRun { text: string; tokens: number[]; forced: number }

export async function scriptedDecode(tokenizer: TextTokenizer, processors: readonly LogitsProcessor[], wish: string, opts: { maxTokens?: number; stop?: RegExp } = {}): Promise<ScriptedRun> {
  const tokens: number[] = [];
  const decoder = new TextDecoder();
  let text = '';
  let forced = 0;
  const signal = new AbortController().signal;
  const ctx: StepContext = { promptTokens: [], generatedTokens: tokens, get generatedText() { return text; }, get step() { return tokens.length; }, signal };
  const append = (id: number) => {
    tokens.push(id);
    text += decoder.decode(tokenizer.tokenBytes(id), { stream: true });
    for (const p of processors) p.onToken?.(id, ctx);
  };
  const stop = opts.stop ?? /^[\p{ID_Continue}$]+[^\p{ID_Continue}$]/u;
  while (tokens.length < (opts.maxTokens ?? 16) && !stop.test(text)) {
    const logits = new Float32Array(tokenizer.vocabSize);
    for (let i = 0; i < logits.length; i++) logits[i] = (Math.imul(i + 1, 2654435761) >>> 0) / 2 ** 32;
    for (const id of tokenizer.specialIds) logits[id] = -5;
    if (wish.startsWith(text) && wish.length > text.length) logits[tokenizer.encode(wish.slice(text.length))[0]] = 10;
    let force: readonly number[] | undefined;
    for (const p of processors) {
      const r = await p.process(logits, ctx);
      if (r && r.force) { force = r.force; break; }
    }
    if (force) { forced += force.length; force.forEach(append); continue; }
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    append(best);
  }
  return { text, tokens, forced };
}

/** Position of the end of `needle` in `text` (fixtures are addressed by substring, never line/column). */
export function offsetAfter(text: string, needle: string): number {
  const i = text.indexOf(needle);
  if (i < 0 || text.indexOf(needle, i + 1) >= 0) throw new Error(`needle ${JSON.stringify(needle)} must occur exactly once`);
  return i + needle.length;
}
