import type { KvCache } from './kvCache.js';
import type { ForwardOptions, ForwardResult } from './onnxSession.js';
import { sampleToken, seededRandom } from './sampling.js';
import { StopChecker } from './stopRules.js';
import { stripHealed, TokenHealingProcessor } from './tokenHealing.js';
import type { GeneratedToken, GenerationOptions, GenerationResult, ProcessResult, StepContext, TextTokenizer } from './types.js';

/** What the loop needs from a model: one forward pass. OnnxCausalLm implements it; tests may fake it. */
export interface ForwardModel {
  forward(tokens: readonly number[], cache: KvCache | null, options?: ForwardOptions): Promise<ForwardResult>;
}

export interface PromptInput {
  readonly ids: readonly number[];
  /** The cursor's line before the cursor (for the end-of-block rule). */
  readonly linePrefix?: string;
  /**
   * A cache that already holds the first `cache.length` prompt tokens (e.g. kept from an earlier
   * request, or repositioned by PIE). It stays owned by the caller; only the rest is encoded.
   */
  readonly cache?: KvCache;
  /**
   * Token healing: text that was cut off the prompt's end (with the tokens covering it). The output
   * is constrained to start with it and it is removed from the streamed and returned text.
   * `linePrefix` is then the cursor's line without it.
   */
  readonly healed?: string;
}

export interface GenerationOutcome extends GenerationResult {
  /** The cache over prompt + generated tokens (all but the last appended one), when keepCache was asked. */
  readonly cache?: KvCache;
}

export interface EngineOptions extends GenerationOptions {
  /** Ids that end the completion like EOS (FIM end markers). */
  eosIds?: readonly number[];
  /** Keep the final cache in the result (the caller then owns and disposes it). */
  keepCache?: boolean;
  /**
   * The prompt is encoded in forward passes of at most this many tokens (default 256), with the event
   * loop given a turn between them: a forward pass cannot be interrupted, so this bounds how long an
   * abort waits and how long a language server's reply sits unread.
   */
  prefillChunkTokens?: number;
}

/** Thrown (as `name === 'AbortError'`) when a signal stops work between two forward passes. */
export class AbortedError extends Error {
  override readonly name = 'AbortError';
  constructor() {
    super('aborted');
  }
}

/** Lets the event loop run its poll phase (socket reads, messages) before the next synchronous pass. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `tokens` after `cache` in chunks of `chunk` tokens, checking `signal` and yielding to the event
 * loop between chunks. Returns the last chunk's result; `cache` stays the caller's, the intermediate
 * caches are disposed. Throws AbortedError when `signal` fires between chunks; `onAbort` then receives
 * (and owns) the cache of the chunks already done, so that a caller can keep that progress.
 */
export async function forwardChunked<R extends { readonly cache: KvCache }>(
  model: { forward(tokens: readonly number[], cache: KvCache | null, options?: ForwardOptions): Promise<R> },
  tokens: readonly number[],
  cache: KvCache | null,
  options: ForwardOptions & { signal?: AbortSignal; chunk?: number; onAbort?: (partial: KvCache) => void } = {},
): Promise<R> {
  const { signal, chunk: chunkOption, onAbort, ...forwardOptions } = options;
  const chunk = Math.max(1, chunkOption ?? 256);
  if (tokens.length <= chunk) {
    if (signal?.aborted) throw new AbortedError();
    return model.forward(tokens, cache, forwardOptions);
  }
  let current = cache;
  let last: R | undefined;
  try {
    for (let from = 0; from < tokens.length; from += chunk) {
      if (from > 0) await yieldToEventLoop();
      if (signal?.aborted) throw new AbortedError();
      const to = Math.min(tokens.length, from + chunk);
      const positions = forwardOptions.positions?.slice(from, to);
      const result = await model.forward(tokens.slice(from, to), current, { ...forwardOptions, ...(positions ? { positions } : {}) });
      if (current !== cache) current?.dispose();
      current = result.cache;
      last = result;
    }
    return last!;
  } catch (err) {
    if (current !== cache && current) {
      if (err instanceof AbortedError && onAbort) onAbort(current);
      else current.dispose();
    }
    throw err;
  }
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/**
 * Autoregressive decoding with the KV cache: one forward pass over the prompt, then one per token.
 * Each step's logits go through the processors in order, then the sampler. Cancellation is checked
 * between steps. Streams one GeneratedToken per appended token and returns the result; the streamed
 * texts joined are always a prefix of the result's text (text a stop rule may still cut is held back).
 */
export async function* generate(
  model: ForwardModel,
  tokenizer: TextTokenizer,
  prompt: PromptInput,
  options: EngineOptions,
): AsyncGenerator<GeneratedToken, GenerationOutcome> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const rules = options.stop ?? [{ kind: 'eos' }];
  const stopOnEos = rules.some((r) => r.kind === 'eos');
  const eosIds = new Set<number>([...(options.eosIds ?? []), ...(tokenizer.eosId !== undefined ? [tokenizer.eosId] : [])]);
  const stopper = new StopChecker(rules, prompt.linePrefix ?? '');
  const healed = prompt.healed ?? '';
  const healer = healed ? new TokenHealingProcessor(tokenizer, healed) : undefined;
  // The healing constraint runs first; the monitors then see the healed text as generated text.
  const processors = healer ? [healer, ...(options.processors ?? [])] : options.processors ?? [];
  const temperature = options.temperature ?? 0;
  const topP = options.topP ?? 1;
  const random = seededRandom(options.seed ?? 0x5eed);
  const signal = options.signal ?? new AbortController().signal;
  const promptTokens = prompt.ids;
  if (promptTokens.length === 0) throw new Error('generate: the prompt is empty');

  const generated: number[] = [];
  const decoder = new TextDecoder('utf-8');
  let text = '';
  let emittedLength = healed.length; // the healed text is the caller's already
  let msFirstToken = -1;
  let stopReason: GenerationResult['stopReason'] = 'maxTokens';
  let cache: KvCache | null = prompt.cache ?? null;
  const ownsCache = () => cache !== null && cache !== prompt.cache;
  let logits: Float32Array | undefined;

  const ctx: StepContext = {
    promptTokens,
    generatedTokens: generated,
    get generatedText() {
      return text;
    },
    get step() {
      return generated.length;
    },
    signal,
  };

  const run = async (tokens: readonly number[]) => {
    const result = await forwardChunked(model, tokens, cache, { signal, chunk: options.prefillChunkTokens });
    if (ownsCache()) cache!.dispose();
    cache = result.cache;
    logits = result.logits;
  };

  // Decoding ahead of a pending processor answer (options.speculate): ahead[i] is the greedy choice at
  // step generated.length + i, made before the processors saw that step; aheadLogits[i] the logits
  // after feeding ahead[0..i]. Their rows are at the end of the cache. The processors are called only
  // in order, step by step, exactly as without speculation; a step whose outcome differs from ahead's
  // drops the rows from there on.
  const speculateLimit = temperature > 0 || !options.speculate ? 0 : options.speculate === true ? 32 : Math.max(0, Math.floor(options.speculate));
  const ahead: number[] = [];
  const aheadLogits: Float32Array[] = [];
  const speculation = { decoded: 0, kept: 0, rollbacks: 0 };
  /** Rows the cache holds without speculation: the prompt and every appended token fed so far. */
  let normalRows = promptTokens.length;
  /** Greedy steps past the current one while `pending` is unsettled; `current`: this step's logits so far. */
  const decodeAhead = async (pending: Promise<unknown>, current: Float32Array): Promise<void> => {
    let settled = false;
    const done = pending.then(() => { settled = true; }, () => { settled = true; });
    // An answer already there (or arriving with the next socket read) needs no speculation.
    await Promise.race([done, yieldToEventLoop()]);
    const room = Math.min(speculateLimit, options.maxTokens - generated.length);
    while (!settled && !signal.aborted && ahead.length < room) {
      const id = sampleToken(ahead.length ? aheadLogits[ahead.length - 1] : current, 0, 1, random);
      if (id < 0 || (stopOnEos && eosIds.has(id))) break;
      const result = await model.forward([id], cache);
      if (ownsCache()) cache!.dispose();
      cache = result.cache;
      ahead.push(id);
      aheadLogits.push(result.logits);
      speculation.decoded++;
      await yieldToEventLoop();
    }
  };

  try {
    if (signal.aborted) {
      stopReason = 'aborted';
    } else {
      const reused = prompt.cache?.length ?? 0;
      if (reused >= promptTokens.length) throw new Error(`generate: the given cache (${reused}) must leave at least one prompt token to encode (${promptTokens.length})`);
      try {
        await run(promptTokens.slice(reused));
      } catch (err) {
        if (!(err instanceof AbortedError)) throw err;
        stopReason = 'aborted';
      }
    }
    let pendingCut: number | undefined;
    while (stopReason !== 'aborted' && generated.length < options.maxTokens) {
      if (signal.aborted) {
        stopReason = 'aborted';
        break;
      }
      let forced: readonly number[] | undefined;
      for (const p of processors) {
        let r = p.process(logits!, ctx);
        if (isPromise<void | ProcessResult>(r)) {
          if (speculateLimit > 0) await decodeAhead(r, ahead.length ? logits! : logits!.slice());
          r = await r;
        }
        if (r && r.force && r.force.length > 0) {
          // A force that contradicts the healed text is ignored; sampling from the masked logits goes on.
          if (!healer || healer.allowsSequence(r.force)) forced = r.force;
          break;
        }
      }
      if (signal.aborted) {
        stopReason = 'aborted';
        break;
      }
      const next = forced ? forced.slice(0, options.maxTokens - generated.length) : [sampleToken(logits!, temperature, topP, random)];
      if (next[0] === -1) {
        stopReason = 'stop'; // every token was masked out
        break;
      }
      // Tokens decoded ahead that the processors chose too are already fed.
      let reused = 0;
      let reusedLogits: Float32Array | undefined;
      if (ahead.length > 0) {
        while (reused < next.length && reused < ahead.length && ahead[reused] === next[reused]) reused++;
        speculation.kept += reused;
        if (reused < next.length && reused < ahead.length) {
          speculation.rollbacks++;
          const cut = cache!.slice(0, cache!.length - (ahead.length - reused));
          if (ownsCache()) cache!.dispose();
          cache = cut;
          ahead.length = reused;
          aheadLogits.length = reused;
        }
        reusedLogits = reused > 0 ? aheadLogits[reused - 1] : undefined;
        ahead.splice(0, reused);
        aheadLogits.splice(0, reused);
      }
      let ended = false;
      for (const id of next) {
        if (stopOnEos && eosIds.has(id)) {
          stopReason = 'eos';
          ended = true;
          break;
        }
        generated.push(id);
        if (msFirstToken < 0) msFirstToken = elapsed();
        text += tokenizer.specialIds.has(id) ? '' : decoder.decode(tokenizer.tokenBytes(id), { stream: true });
        for (const p of processors) p.onToken?.(id, ctx);
        pendingCut = stopper.check(text);
        // Streamed text never runs ahead of what a stop rule could still cut; the result's text is final.
        const shown = pendingCut ?? stopper.safeLength(text);
        const delta = shown > emittedLength ? text.slice(emittedLength, shown) : '';
        emittedLength = Math.max(emittedLength, shown);
        yield { id, text: delta, forced: forced !== undefined, ms: elapsed() };
        if (pendingCut !== undefined) {
          stopReason = 'stop';
          ended = true;
          break;
        }
      }
      if (ended || generated.length >= options.maxTokens) break;
      if (signal.aborted) {
        stopReason = 'aborted';
        break;
      }
      // Feed what was appended since the last pass (one token, or all forced ones in one pass).
      if (reused < next.length) await run(next.slice(reused));
      else logits = reusedLogits;
      normalRows = promptTokens.length + generated.length;
    }
    // A kept cache ends where waiting leaves it: without rows decoded ahead and not kept, nor rows of
    // the last appended tokens (the loop does not feed those).
    if (options.keepCache && cache && ownsCache() && cache.length > normalRows) {
      const cut = cache.slice(0, normalRows);
      cache.dispose();
      cache = cut;
    }
    if (pendingCut !== undefined) text = text.slice(0, pendingCut);
    else text += decoder.decode();
    text = stripHealed(text, healed);
    const kept = options.keepCache && ownsCache() ? cache! : undefined;
    if (kept) cache = null;
    return {
      text,
      tokens: generated.slice(),
      promptTokens: promptTokens.length,
      msFirstToken: msFirstToken < 0 ? elapsed() : msFirstToken,
      msTotal: elapsed(),
      stopReason,
      ...(speculation.decoded > 0 ? { speculation: { ...speculation } } : {}),
      ...(kept ? { cache: kept } : {}),
    };
  } finally {
    if (ownsCache()) cache!.dispose();
  }
}

/** Runs `generate` to the end and returns only the result. */
export async function generateAll(...args: Parameters<typeof generate>): Promise<GenerationOutcome> {
  const it = generate(...args);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
