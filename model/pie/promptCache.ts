// A per-document prompt cache: it remembers each document's last prompt and the KV cache of all its
// tokens but the last, and for the next request picks the cheapest safe way to such a cache (see
// build()). The generator then encodes the prompt's last token, which gives fresh next-token logits:
// a FIM keystroke costs the typed tokens plus that last token. Memory is bounded by a token cap per
// document, a total token cap and an LRU over documents.
import { forwardChunked } from '../generate.js';
import { KvCache } from '../kvCache.js';
import type { PlanOptions } from './editPlan.js';
import { PieRepositioner, type PieModel, type Rebuilt } from './repositioner.js';

export type PromptPath = 'full' | 'prefix' | 'pie' | 'reuse';

export interface PreparedPrompt {
  readonly path: PromptPath;
  /** Why this path (e.g. "no cached prompt", "most of the prompt changed"). */
  readonly reason: string;
  /**
   * Cache of every prompt token but the last (undefined for a one-token prompt): hand it to the
   * generator as `{ ids: tokens, cache }`, which encodes the last token. Owned by the PromptCache:
   * valid until the next prepare() of the same document, forget(), eviction or dispose(); the
   * generator does not consume it; never dispose it yourself.
   */
  readonly cache: KvCache | undefined;
  /** Tokens the model ran on here (the generator's last token not counted). */
  readonly encodedTokens: number;
  readonly keptTokens: number;
  readonly rotatedTokens: number;
  readonly rotateMs: number;
  readonly ms: number;
}

export interface PromptCacheOptions extends Omit<PlanOptions, 'reencodeLast'> {
  /** callCost (see PlanOptions; estimateCallCost measures it): also weighs PIE's calls against prefix reuse's one. */
  /** Use PIE at all (false: only exact reuse, i.e. identical prompts and common prefixes). Default true. */
  readonly pie?: boolean;
  /** Prompts longer than this are computed in full and not kept (default 16384; the engine's prompt window is smaller). */
  readonly maxTokensPerDocument?: number;
  /** Documents kept (default 8), least recently used evicted first. */
  readonly maxDocuments?: number;
  /** Tokens kept over all documents (default 4 × maxTokensPerDocument). */
  readonly maxTotalTokens?: number;
  /**
   * Bytes of KV cache kept over all documents (default 256 MiB). Counted in bytes, not tokens: one
   * token costs 2 × layers × kv heads × head size × 2 or 4 bytes, from 16 KiB (the built-in model) to
   * 384 KiB (a 1.3 B model in float32). A single prompt above this is computed but not kept.
   */
  readonly maxBytes?: number;
  /** Tokens per forward pass when encoding (default 256): an abort waits at most one such pass. */
  readonly chunkTokens?: number;
  /** PIE edits in a row before the stale part is re-encoded exactly (default 32). */
  readonly maxPieChain?: number;
  /** PIE is skipped when it would encode more than this fraction of the prompt (default 0.5). */
  readonly maxEncodeFraction?: number;
  /**
   * When the prompt only grew at its end by at most this many tokens (typing at the cursor of an SPM or
   * left-to-right prompt), the cached rows are handed over as they are and the generator encodes the new
   * tokens together with the last one, in its one forward pass: a keystroke then costs one pass instead of
   * two. The document's entry grows only once the tail is longer (default 8; 0 turns it off).
   */
  readonly lazyTailTokens?: number;
  /**
   * Store the float32 caches of documents not in use as float16 ("parked", half the bytes, each value
   * rounded to the nearest half as an fp16 KV cache holds it) and widen one back when its document is
   * asked for again. Parking runs after a request's prepare, off its path, and never touches the cache
   * handed out last (a generation may be about to read it) nor a document with a request on its way.
   * Default false (caches stay exact to float32).
   */
  readonly parkFloat16?: boolean;
}

interface Entry {
  /** The prompt minus its last token: what `cache` holds. */
  tokens: readonly number[];
  cache: KvCache;
  /** Rows [0, exactPrefix) are what full recomputation gives. */
  exactPrefix: number;
  /** PIE edits since the cache was last exact. */
  pieChain: number;
  /** Stored as float16 while the document is not in use (see PromptCacheOptions.parkFloat16). */
  parked?: boolean;
  /** Holds values beyond float16's range: never parked. */
  unparkable?: boolean;
}

export class PromptCache {
  readonly repositioner: PieRepositioner;
  private readonly entries = new Map<string, Entry>(); // insertion order = LRU order
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly running = new Set<string>();
  private readonly opts: Required<Omit<PromptCacheOptions, keyof PlanOptions>>;
  private disposed = false;
  private readonly callCost: number;
  /** The signal of the prepare() now running: its forward passes stop between chunks when it fires. */
  private activeSignal: AbortSignal | undefined;
  /** The chunks an aborted encode had finished (rows of the prompt's first tokens), and whether they are exact. */
  private partial: KvCache | undefined;
  private partialExact = false;
  /** The cache the last prepare() handed out: never parked (its generation may not have read it yet). */
  private handedOut: KvCache | undefined;
  /** The parking pass under way, if any. */
  private parking: Promise<void> | undefined;

  constructor(model: PieModel, options: PromptCacheOptions = {}) {
    const chunk = options.chunkTokens ?? 256;
    const chunked: PieModel = {
      config: model.config,
      forward: (tokens, cache, forwardOptions) => forwardChunked(model, tokens, cache, {
        ...forwardOptions, signal: this.activeSignal, chunk,
        onAbort: (partial) => {
          this.partial?.dispose();
          this.partial = partial;
        },
      }),
    };
    this.repositioner = new PieRepositioner(chunked, { minKeep: options.minKeep, maxEditDistance: options.maxEditDistance, callCost: options.callCost });
    this.callCost = options.callCost ?? 0;
    const maxTokensPerDocument = options.maxTokensPerDocument ?? 16_384;
    this.opts = {
      pie: options.pie ?? true,
      maxTokensPerDocument,
      maxDocuments: options.maxDocuments ?? 8,
      maxTotalTokens: options.maxTotalTokens ?? 4 * maxTokensPerDocument,
      maxBytes: options.maxBytes ?? 256 * 1024 * 1024,
      chunkTokens: chunk,
      maxPieChain: options.maxPieChain ?? 32,
      maxEncodeFraction: options.maxEncodeFraction ?? 0.5,
      lazyTailTokens: options.lazyTailTokens ?? 8,
      parkFloat16: options.parkFloat16 ?? false,
    };
  }

  /** Why PIE cannot be used with this model, or undefined when it can. */
  get pieUnavailable(): string | undefined {
    return this.repositioner.rotary.ok ? undefined : this.repositioner.rotary.reason;
  }

  get documents(): number {
    return this.entries.size;
  }

  get cachedTokens(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.tokens.length;
    return n;
  }

  /** Bytes of KV cache held over all documents. */
  get cachedBytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += cacheBytes(e.cache);
    return n;
  }

  /**
   * A cache for all of `tokens` but the last, in `documentId`, built from what the last request left.
   * `signal` stops the encoding between two forward passes: the promise then rejects with an AbortError,
   * and the document keeps either its previous cache or, when the aborted encode had finished more of the
   * new prompt's start than that shares with it, those finished rows (see keepPartial).
   */
  prepare(documentId: string, tokens: readonly number[], options: { signal?: AbortSignal; pie?: boolean } = {}): Promise<PreparedPrompt> {
    // One request per document at a time: each builds on the previous one's cache.
    const before = this.locks.get(documentId) ?? Promise.resolve();
    const run = before.then(async () => {
      this.running.add(documentId);
      this.activeSignal = options.signal;
      try {
        return await this.prepareNow(documentId, tokens, options.pie ?? this.opts.pie);
      } finally {
        this.activeSignal = undefined;
        this.running.delete(documentId);
      }
    });
    const settled = run.catch(() => undefined);
    if (this.opts.parkFloat16) void settled.then(() => this.scheduleParking());
    this.locks.set(documentId, settled);
    void settled.then(() => {
      if (this.locks.get(documentId) === settled) this.locks.delete(documentId);
    });
    return run;
  }

  private async prepareNow(documentId: string, prompt: readonly number[], pie: boolean): Promise<PreparedPrompt> {
    if (this.disposed) throw new Error('PromptCache used after dispose()');
    if (prompt.length === 0) throw new Error('PromptCache: empty prompt');
    const t0 = performance.now();
    const tokens = prompt.slice(0, -1);
    const entry = this.entries.get(documentId);
    if (entry) {
      this.entries.delete(documentId);
      this.entries.set(documentId, entry); // most recently used
      if (entry.parked) this.unpark(entry);
    }
    const result = (path: PromptPath, reason: string, cache: KvCache | undefined, r?: Rebuilt): PreparedPrompt => {
      this.handedOut = cache;
      return {
        path, reason, cache, encodedTokens: r?.encodedTokens ?? 0, keptTokens: r?.keptTokens ?? cache?.length ?? 0,
        rotatedTokens: r?.rotatedTokens ?? 0, rotateMs: r?.rotateMs ?? 0, ms: performance.now() - t0,
      };
    };
    if (tokens.length === 0) return result('full', 'one-token prompt: nothing to cache', undefined);
    if (entry && entry.tokens.length === tokens.length && entry.tokens.every((t, i) => t === tokens[i])) {
      return result('reuse', 'same prompt as the last request', entry.cache);
    }
    const tail = tokens.length - (entry?.tokens.length ?? 0);
    if (entry && tail > 0 && tail <= this.opts.lazyTailTokens && entry.tokens.every((t, i) => t === tokens[i])) {
      return result('reuse', `the prompt grew by ${tail} token${tail === 1 ? '' : 's'} at its end: encoded with the last one, in the generator's pass`, entry.cache);
    }
    let built: Awaited<ReturnType<PromptCache['build']>>;
    try {
      built = await this.build(entry, tokens, pie);
    } catch (err) {
      this.keepPartial(documentId, tokens, entry);
      throw err;
    } finally {
      this.partial?.dispose();
      this.partial = undefined;
      this.partialExact = false;
    }
    const { path, reason, rebuilt } = built;
    const pieChain = path === 'pie' ? (entry?.pieChain ?? 0) + 1 : 0;
    this.forget(documentId);
    if (this.disposed) rebuilt.cache.dispose();
    else if (tokens.length < this.opts.maxTokensPerDocument && cacheBytes(rebuilt.cache) <= this.opts.maxBytes) {
      this.entries.set(documentId, { tokens, cache: rebuilt.cache, exactPrefix: rebuilt.exactPrefix, pieChain });
      this.evict(documentId);
    } // else: over the cap, not kept; the caller's cache is left to the garbage collector.
    return result(path, reason, rebuilt.cache, rebuilt);
  }

  /**
   * An encode from an exact prefix was aborted after some of its chunks: keep those rows as the document's
   * cache (they are the new prompt's first tokens, exactly) when they cover more than the old cache shares
   * with the new prompt. Typing fast aborts each prompt before it is done; this way each keystroke's work
   * carries over to the next one instead of starting again.
   */
  private keepPartial(documentId: string, tokens: readonly number[], entry: Entry | undefined): void {
    const partial = this.partial;
    if (!partial || !this.partialExact || this.disposed || partial.length === 0 || partial.length > tokens.length) return;
    let shared = 0;
    if (entry) while (shared < entry.tokens.length && shared < tokens.length && entry.tokens[shared] === tokens[shared]) shared++;
    if (partial.length <= Math.min(shared, entry?.exactPrefix ?? 0)) return;
    this.partial = undefined; // the entry owns it now
    this.forget(documentId);
    this.entries.set(documentId, { tokens: tokens.slice(0, partial.length), cache: partial, exactPrefix: partial.length, pieChain: 0 });
    this.evict(documentId);
  }

  private async build(entry: Entry | undefined, tokens: readonly number[], pie: boolean): Promise<{ path: PromptPath; reason: string; rebuilt: Rebuilt }> {
    const rp = this.repositioner;
    this.partialExact = true; // full and prefix encodes run from an exact prefix; PIE's do not
    if (!entry) return { path: 'full', reason: 'no cached prompt for this document', rebuilt: await rp.rebuild(undefined, tokens, 'full') };
    const old = { tokens: entry.tokens, cache: entry.cache };
    const exact = async (why: string) => {
      const rebuilt = await rp.rebuild(old, tokens, 'prefix', { oldExactPrefix: entry.exactPrefix, reencodeLast: false });
      return { path: rebuilt.strategy === 'full' ? ('full' as const) : ('prefix' as const), reason: why, rebuilt };
    };
    if (!pie) return exact('PIE is off');
    if (!rp.rotary.ok) return exact(`PIE unavailable: ${rp.rotary.reason}`);
    if (entry.pieChain >= this.opts.maxPieChain) return exact(`cache too old: ${entry.pieChain} PIE edits since the last exact encode`);
    const plan = rp.plan(entry.tokens, tokens, false);
    const prefixTokens = tokens.length - Math.min(plan.commonPrefix, entry.exactPrefix);
    const prefixCost = prefixTokens + (prefixTokens > 0 ? this.callCost : 0);
    const pieCost = plan.encodeTokens + this.callCost * plan.encodeCalls;
    if (plan.staleTokens === 0 && plan.commonPrefix > entry.exactPrefix) {
      // Only the end changed (typing at the cursor), after an earlier PIE edit made the cache approximate
      // from that edit on: extend it, as PIE's own path would, instead of re-encoding everything after that
      // earlier edit (in SPM prompts the suffix comes first, so an edit after the cursor made most of the
      // cache approximate and every keystroke that followed re-encoded ~90 % of the prompt). It counts as
      // one more PIE edit, so the chain still ends in an exact re-encode.
      this.partialExact = false;
      const rebuilt = await rp.rebuild(old, tokens, 'prefix', { oldExactPrefix: old.tokens.length, reencodeLast: false });
      return {
        path: 'pie',
        reason: `${rebuilt.encodedTokens} tokens appended to a repositioned cache (${entry.pieChain + 1} PIE edits since the last exact encode)`,
        rebuilt: { ...rebuilt, exactPrefix: Math.min(rebuilt.exactPrefix, entry.exactPrefix) },
      };
    }
    if (plan.staleTokens === 0) return exact('nothing after the edit is reusable: prefix reuse is exact and as cheap');
    if (pieCost >= prefixCost) return exact(`PIE would cost as much as prefix reuse (${plan.encodeTokens} tokens in ${plan.encodeCalls} calls vs ${prefixTokens})`);
    if (plan.encodeTokens > this.opts.maxEncodeFraction * tokens.length) return exact(`most of the prompt changed (${plan.encodeTokens} of ${tokens.length} tokens to encode)`);
    this.partialExact = false;
    const rebuilt = await rp.rebuild(old, tokens, 'pie', { plan, oldExactPrefix: entry.exactPrefix });
    return { path: 'pie', reason: `${plan.encodeTokens} tokens encoded, ${rebuilt.rotatedTokens} rotated, ${plan.keptTokens} kept`, rebuilt };
  }

  /** A parked entry back in float32 (the engine's forward passes take float32 caches). */
  private unpark(entry: Entry): void {
    const wide = entry.cache.withDtype('float32');
    entry.cache.dispose(); // a parked copy is never handed out
    entry.cache = wide;
    entry.parked = false;
  }

  /** Parks every float32 cache not in use (see parkFloat16), once the current macrotask is over. */
  private scheduleParking(): void {
    if (this.parking || this.disposed) return;
    this.parking = (async () => {
      try {
        for (const [id, e] of [...this.entries]) await this.park(id, e);
      } finally {
        this.parking = undefined;
      }
    })();
  }

  private parkable(id: string, e: Entry): boolean {
    return !this.disposed && this.entries.get(id) === e && !e.parked && !e.unparkable && e.cache.dtype === 'float32'
      && e.cache !== this.handedOut && !this.running.has(id) && !this.locks.has(id);
  }

  /**
   * One entry's cache as float16, a layer per macrotask (a 1,024-token cache of the built-in model is
   * 16 layer arrays of 1 MiB): a generation running meanwhile loses at most one layer's conversion
   * between two tokens. Given up when the document is asked for in between.
   */
  private async park(id: string, e: Entry): Promise<void> {
    const src = e.cache;
    if (!this.parkable(id, e)) return;
    const narrow = KvCache.allocate(src, 'float16', src.length);
    for (let l = 0; l < src.numLayers; l++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.parkable(id, e) || e.cache !== src || src.isDisposed) {
        narrow.dispose();
        return;
      }
      try {
        KvCache.convertInto(src.keys(l), narrow.keys(l));
        KvCache.convertInto(src.values(l), narrow.values(l));
      } catch {
        narrow.dispose();
        e.unparkable = true; // values beyond float16's range: this entry stays float32
        return;
      }
    }
    e.cache = narrow;
    e.parked = true;
    // A forward pass still reading the float32 arrays keeps them until it ends (KvCache.retain).
    src.dispose();
  }

  /** Resolves when no parking is under way, including one a prepare just settled is about to start (tests, benchmarks). */
  async parked(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.parking) await this.parking;
  }

  /** Documents whose caches are parked as float16 right now. */
  get parkedDocuments(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.parked) n++;
    return n;
  }

  private evict(keep: string): void {
    let total = this.cachedTokens;
    let bytes = this.cachedBytes;
    for (const [id, e] of this.entries) {
      if (this.entries.size <= this.opts.maxDocuments && total <= this.opts.maxTotalTokens && bytes <= this.opts.maxBytes) break;
      if (id === keep || this.running.has(id)) continue; // never pull a cache from under a running request
      total -= e.tokens.length;
      bytes -= cacheBytes(e.cache);
      this.forget(id);
    }
  }

  /** Drops a document's cache (e.g. when it is closed). */
  forget(documentId: string): void {
    const e = this.entries.get(documentId);
    if (!e) return;
    this.entries.delete(documentId);
    e.cache.dispose();
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.forget(id);
  }

  dispose(): void {
    this.clear();
    this.disposed = true;
  }
}

/** Bytes a cache's keys and values take (the rows it holds). */
export function cacheBytes(cache: KvCache): number {
  const width = cache.dtype === 'float16' ? 2 : 4;
  return 2 * cache.numLayers * cache.numKvHeads * cache.headDim * cache.length * width;
}
