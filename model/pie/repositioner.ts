// Rebuilds a KV cache for an edited token sequence from the cache of the previous one, by one of four
// strategies: full recomputation, prefix-only reuse (what llama.cpp does after an insertion),
// conflict-fast (splice the edit in, leave moved keys at their old positions) and PIE (rotate moved
// keys by their shift). The first two are exact; PIE is exact in positions but keeps the moved
// tokens' states computed against the old text.
import { KvCache } from '../kvCache.js';
import { type EditPlan, type PlanOptions, planEdit } from './editPlan.js';
import { type RotaryConfig, RotaryShifter, type RotarySupport, type RotaryTable, resolveRotary } from './rotary.js';

/** What PIE needs of the engine (OnnxCausalLm, i.e. CodeModel.session, satisfies it). */
export interface PieModel {
  readonly config: RotaryConfig;
  /**
   * False for exports without a position_ids input: the graph puts new tokens right after the cache.
   * The repositioner then passes no positions; every piece it encodes starts at the cache's end
   * anyway, and rotated keys sit at their new positions, so PIE stays exact for such models.
   */
  readonly hasPositionIds?: boolean;
  /** Runs tokens at explicit positions after `cache` (not consumed); returns the last row's logits and cache + tokens. */
  forward(tokens: readonly number[], cache: KvCache | null, options?: { positions?: readonly number[] }): Promise<{ logits: Float32Array; cache: KvCache }>;
}

export type RebuildStrategy = 'full' | 'prefix' | 'conflictFast' | 'pie';

/** A cache for a token sequence (as the last request left it). */
export interface CachedPrompt {
  readonly tokens: readonly number[];
  readonly cache: KvCache;
}

export interface Rebuilt {
  /** cache for all of the new tokens, owned by the caller. */
  readonly cache: KvCache;
  /** Next-token logits after the last new token (undefined when reencodeLast was false and the plan ended
   *  with kept rows). */
  readonly logits: Float32Array | undefined;
  readonly strategy: RebuildStrategy;
  readonly encodedTokens: number;
  readonly keptTokens: number;
  readonly rotatedTokens: number;
  /** Rows [0, exactPrefix) equal what full recomputation gives (up to arithmetic). */
  readonly exactPrefix: number;
  readonly rotateMs: number;
  readonly forwardCalls: number;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

export class PieRepositioner {
  readonly rotary: RotarySupport;
  private readonly shifter: RotaryShifter | undefined;

  constructor(private readonly model: PieModel, private readonly planOptions: PlanOptions = {}) {
    this.rotary = resolveRotary(model.config);
    this.shifter = this.rotary.ok ? new RotaryShifter(this.rotary.spec) : undefined;
  }

  plan(old: readonly number[], next: readonly number[], reencodeLast = true): EditPlan {
    return planEdit(old, next, { ...this.planOptions, reencodeLast });
  }

  /**
   * The cache and logits for `next`, built from `old` by `strategy` (`old` is left untouched).
   * `oldExactPrefix`: how many leading rows of old.cache are exact (prefix reuse never goes past it).
   */
  async rebuild(
    old: CachedPrompt | undefined, next: readonly number[], strategy: RebuildStrategy,
    opts: { plan?: EditPlan; oldExactPrefix?: number; reencodeLast?: boolean } = {},
  ): Promise<Rebuilt> {
    if (next.length === 0) throw new Error('PIE: cannot build a cache for an empty sequence');
    if (old && old.cache.length !== old.tokens.length) throw new Error(`PIE: cache holds ${old.cache.length} rows for ${old.tokens.length} tokens`);
    const reencodeLast = opts.reencodeLast ?? true;
    if (!old || strategy === 'full') return this.encodeFrom(null, 0, next, 'full');
    if (strategy === 'prefix') {
      let p = 0;
      const limit = Math.min(old.tokens.length, reencodeLast ? next.length - 1 : next.length, opts.oldExactPrefix ?? old.tokens.length);
      while (p < limit && old.tokens[p] === next[p]) p++;
      if (p === 0) return this.encodeFrom(null, 0, next, 'full');
      const prefix = old.cache.slice(0, p);
      if (p === next.length) {
        return { cache: prefix, logits: undefined, strategy, encodedTokens: 0, keptTokens: p, rotatedTokens: 0, exactPrefix: p, rotateMs: 0, forwardCalls: 0 };
      }
      try {
        return { ...(await this.encodeFrom(prefix, p, next, 'prefix')), keptTokens: p };
      } finally {
        prefix.dispose();
      }
    }
    if (strategy === 'pie' && !this.shifter) throw new Error(`PIE: ${this.rotary.ok ? '' : this.rotary.reason}`);
    const plan = opts.plan ?? planEdit(old.tokens, next, { ...this.planOptions, reencodeLast });
    return this.applyPlan(old, next, plan, strategy, opts.oldExactPrefix ?? old.tokens.length);
  }

  /** Encodes next[from, to) after `cache`, which must hold exactly the rows before `from`. */
  private encode(next: readonly number[], from: number, to: number, cache: KvCache | null): Promise<{ logits: Float32Array; cache: KvCache }> {
    if ((cache?.length ?? 0) !== from) throw new Error(`PIE: encoding from position ${from} after a cache of ${cache?.length ?? 0} rows`);
    const options = this.model.hasPositionIds === false ? {} : { positions: range(from, to) };
    return this.model.forward(next.slice(from, to), cache, options);
  }

  private async encodeFrom(base: KvCache | null, start: number, next: readonly number[], strategy: RebuildStrategy): Promise<Rebuilt> {
    const r = await this.encode(next, start, next.length, base);
    return { cache: r.cache, logits: r.logits, strategy, encodedTokens: next.length - start, keptTokens: start, rotatedTokens: 0, exactPrefix: next.length, rotateMs: 0, forwardCalls: 1 };
  }

  private async applyPlan(old: CachedPrompt, next: readonly number[], plan: EditPlan, strategy: RebuildStrategy, oldExact: number): Promise<Rebuilt> {
    const rotate = strategy === 'pie';
    let current: KvCache | undefined;
    let logits: Float32Array | undefined;
    let rotateMs = 0;
    let rotatedTokens = 0;
    let forwardCalls = 0;
    let exactPrefix = 0;
    let exactSoFar = true;
    // Consecutive kept segments are copied once, into the cache they join (with the rows before them),
    // and rotated there, each layer's keys right after they are written (while the processor's cache
    // still holds them): one copy of each kept row instead of a slice, then a join of the slices.
    let pending: (typeof plan.segments[number] & { kind: 'keep' })[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      const parts = [...(current ? [{ cache: current, start: 0, end: current.length }] : []), ...pending.map((seg) => ({ cache: old.cache, start: seg.oldStart, end: seg.oldStart + seg.length }))];
      const rows = parts.reduce((n, p) => n + p.end - p.start, 0);
      const shifts: { start: number; end: number; table: RotaryTable }[] = [];
      let at = current?.length ?? 0;
      const t0 = performance.now();
      for (const seg of pending) {
        // Old rows sit at their positions: angles from seg.oldStart (see RotaryShifter.rowTable).
        if (rotate && seg.delta !== 0) {
          shifts.push({ start: at, end: at + seg.length, table: this.shifter!.rowTable(seg.oldStart, seg.length, seg.delta, true) });
          rotatedTokens += seg.length;
        }
        at += seg.length;
      }
      rotateMs += performance.now() - t0;
      const layout = { length: rows, numLayers: old.cache.numLayers, numKvHeads: old.cache.numKvHeads, headDim: old.cache.headDim, dtype: old.cache.dtype };
      const joined = KvCache.assemble(parts, shifts.length === 0 ? undefined : (_layer, keys) => {
        const t1 = performance.now();
        for (const s of shifts) this.shifter!.shiftLayer(layout, keys, s.start, s.end, s.table);
        rotateMs += performance.now() - t1;
      });
      current?.dispose();
      current = joined;
      pending = [];
    };
    try {
      for (const seg of plan.segments) {
        if (seg.kind === 'keep') {
          if (exactSoFar) {
            if (seg.newStart === 0 && seg.delta === 0) exactPrefix = Math.min(seg.length, oldExact);
            exactSoFar = exactSoFar && seg.newStart === 0 && seg.delta === 0 && exactPrefix === seg.length;
          }
          pending.push(seg);
        } else {
          flush();
          const r = await this.encode(next, seg.newStart, seg.newStart + seg.length, current ?? null);
          forwardCalls++;
          current?.dispose();
          current = r.cache;
          logits = r.logits;
          if (exactSoFar) exactPrefix = seg.newStart + seg.length;
        }
      }
      flush();
    } catch (err) {
      (current as KvCache | undefined)?.dispose();
      throw err;
    }
    if (!current) throw new Error('PIE: the plan covered no tokens');
    if (plan.segments[plan.segments.length - 1].kind !== 'encode') logits = undefined; // not after the last token
    return { cache: current, logits, strategy, encodedTokens: plan.encodeTokens, keptTokens: plan.keptTokens, rotatedTokens, exactPrefix, rotateMs, forwardCalls };
  }
}

/**
 * What one forward call costs beyond its tokens, in tokens: from timing a 1-token and a 65-token call
 * after a cache of `cacheTokens` (median of `repeats`). Small models on CPU pay most of a short call in
 * fixed overhead, so PIE should not split an edit into many calls.
 */
export async function estimateCallCost(model: PieModel, cacheTokens = 256, repeats = 3): Promise<number> {
  const ids = Array.from({ length: cacheTokens + 65 }, (_, i) => 100 + (i % 50));
  const base = await model.forward(ids.slice(0, cacheTokens), null);
  const time = async (n: number): Promise<number> => {
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const out = await model.forward(ids.slice(cacheTokens, cacheTokens + n), base.cache);
      times.push(performance.now() - t0);
      out.cache.dispose();
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  };
  await time(1); // warm-up
  const one = await time(1);
  const many = await time(65);
  base.cache.dispose();
  const perToken = Math.max((many - one) / 64, 1e-6);
  return Math.max(0, Math.round((one - perToken) / perToken));
}
