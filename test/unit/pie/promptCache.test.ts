import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvCache } from '../../../model/kvCache.js';
import { PromptCache } from '../../../model/pie/promptCache.js';
import type { PieModel } from '../../../model/pie/repositioner.js';
import type { RotaryConfig } from '../../../model/pie/rotary.js';

/**
 * A context-free fake model: token t at position p gets key R(p)·k(t) and value v(t), and its logits
 * depend only on (t, p). With no context mixing, PIE's result must equal full recomputation, so the
 * bookkeeping (which rows, which shifts) is checked exactly; the real model is tested in integration.
 */
class FakeRopeModel implements PieModel {
  readonly config: RotaryConfig = { headDim: 8, rotaryDim: 8, rotaryStyle: 'half', ropeTheta: 10000, ropeScaling: null, maxPositions: 4096 };
  readonly layers = 2;
  readonly heads = 2;
  encoded = 0;
  calls = 0;
  live = new Set<KvCache>();

  async forward(ids: readonly number[], cache: KvCache | null, options: { positions?: readonly number[] } = {}): Promise<{ logits: Float32Array; cache: KvCache }> {
    const positions = options.positions ?? ids.map((_, i) => (cache?.length ?? 0) + i);
    this.calls++;
    this.encoded += ids.length;
    const d = this.config.headDim;
    const n = ids.length;
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < this.layers; l++) {
      const k = new Float32Array(this.heads * n * d);
      const v = new Float32Array(this.heads * n * d);
      for (let h = 0; h < this.heads; h++) {
        for (let t = 0; t < n; t++) {
          const raw = Array.from({ length: d }, (_, j) => Math.sin(ids[t] * 13 + l * 7 + h * 3 + j));
          for (let j = 0; j < d; j++) {
            const i = j % (d / 2);
            const angle = positions[t] / Math.pow(10000, (2 * i) / d);
            const rot = j < d / 2 ? -raw[j + d / 2] : raw[j - d / 2];
            k[(h * n + t) * d + j] = raw[j] * Math.cos(angle) + rot * Math.sin(angle);
            v[(h * n + t) * d + j] = Math.cos(ids[t] + j);
          }
        }
      }
      keys.push(k);
      values.push(v);
    }
    const part = new KvCache('float32', this.layers, this.heads, d, keys, values, n);
    const out = cache ? cache.concat(part) : part;
    const last = ids[n - 1];
    const logits = Float32Array.from({ length: 16 }, (_, i) => Math.sin(last * (i + 1) + positions[n - 1]));
    return { logits, cache: out };
  }
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

function assertSameCache(a: KvCache, b: KvCache, tol = 1e-5): void {
  assert.equal(a.length, b.length);
  for (let l = 0; l < a.numLayers; l++) {
    for (const [x, y] of [[a.keys(l), b.keys(l)], [a.values(l), b.values(l)]]) {
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= tol, `layer ${l} element ${i}: ${x[i]} vs ${y[i]}`);
    }
  }
}

/** What full recomputation caches for a prompt: every token but the last (the generator encodes that). */
async function fullCache(model: FakeRopeModel, prompt: number[]): Promise<KvCache> {
  return (await model.forward(prompt.slice(0, -1), null)).cache;
}

describe('PromptCache', () => {
  it('first request is full, the same prompt again is reused without running the model', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model);
    const tokens = range(50, 100);
    const a = await pc.prepare('a.ts', tokens);
    assert.equal(a.path, 'full');
    assert.equal(a.encodedTokens, 49, 'all but the last token, which the generator encodes');
    assert.equal(a.cache?.length, 49);
    const calls = model.calls;
    const b = await pc.prepare('a.ts', tokens);
    assert.equal(b.path, 'reuse');
    assert.equal(model.calls, calls);
    assert.equal(b.cache, a.cache);
  });

  it('an insertion takes the PIE path and gives exactly the full cache for a context-free model', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model);
    const before = range(60, 100);
    await pc.prepare('a.ts', before);
    const after = [...before.slice(0, 20), 7, 8, 9, ...before.slice(20)];
    model.encoded = 0;
    const r = await pc.prepare('a.ts', after);
    assert.equal(r.path, 'pie', r.reason);
    assert.equal(model.encoded, 3, 'the 3 inserted tokens');
    assert.equal(r.rotatedTokens, 39);
    assertSameCache(r.cache!, await fullCache(model, after));
  });

  it('FIM keystrokes cost the typed tokens plus the last one', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model);
    const PRE = 1;
    const SUF = 2;
    const MID = 3;
    const prefix = range(200, 100);
    const suffix = range(300, 1000);
    const prompt = (typed: number[]) => [PRE, ...prefix, ...typed, SUF, ...suffix, MID];
    await pc.prepare('f.ts', prompt([]));
    const typed: number[] = [];
    for (const key of [50, 51, 52, 53, 54]) {
      typed.push(key);
      model.encoded = 0;
      const r = await pc.prepare('f.ts', prompt(typed));
      assert.equal(r.path, 'pie', r.reason);
      assert.equal(model.encoded, 1, 'the typed token (the generator then encodes the middle marker)');
      assertSameCache(r.cache!, await fullCache(model, prompt(typed)));
    }
  });

  it('a deletion and a rename in several places', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model);
    const base = range(120, 100).map((t, i) => (i % 40 === 5 ? 9 : t));
    await pc.prepare('a.ts', base);
    const deleted = [...base.slice(0, 50), ...base.slice(60)];
    const r1 = await pc.prepare('a.ts', deleted);
    assert.equal(r1.path, 'pie');
    assertSameCache(r1.cache!, await fullCache(model, deleted));
    const renamed = deleted.flatMap((t) => (t === 9 ? [10, 11, 12] : [t]));
    model.encoded = 0;
    const r2 = await pc.prepare('a.ts', renamed);
    assert.equal(r2.path, 'pie');
    assert.equal(model.encoded, 3 * 3);
    assertSameCache(r2.cache!, await fullCache(model, renamed));
  });

  it('appending is exact prefix reuse; a prompt that mostly changed is recomputed', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model);
    await pc.prepare('a.ts', range(40));
    // A short growth at the end is left to the generator's pass: the cached rows as they are.
    model.encoded = 0;
    const short = await pc.prepare('a.ts', range(45));
    assert.equal(short.path, 'reuse', short.reason);
    assert.equal(short.cache!.length, 39, 'the rows of the previous prompt but its last token');
    assert.equal(model.encoded, 0);
    const appended = await pc.prepare('a.ts', range(60));
    assert.equal(appended.path, 'prefix');
    assert.equal(appended.encodedTokens, 20, 'the old last token and 19 new ones');
    const noLazy = new PromptCache(model, { lazyTailTokens: 0 });
    await noLazy.prepare('a.ts', range(40));
    assert.equal((await noLazy.prepare('a.ts', range(45))).path, 'prefix', 'lazyTailTokens 0: encoded at once');
    const changed = await pc.prepare('a.ts', [...range(5), ...range(30, 500), ...range(40).slice(35)]);
    assert.equal(changed.path, 'prefix');
    assert.match(changed.reason, /most of the prompt/);
    const other = await pc.prepare('a.ts', range(45, 900));
    assert.equal(other.path, 'full');
  });

  it('after maxPieChain PIE edits the stale part is re-encoded exactly', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model, { maxPieChain: 2 });
    let tokens = range(80, 100);
    await pc.prepare('a.ts', tokens);
    const paths: string[] = [];
    for (let i = 0; i < 4; i++) {
      tokens = [...tokens.slice(0, 10 + i), 500 + i, ...tokens.slice(10 + i)];
      const r = await pc.prepare('a.ts', tokens);
      paths.push(r.path);
      if (r.path === 'prefix') {
        assert.match(r.reason, /too old/);
        assert.equal(r.keptTokens, 10 + i, 'reuses only the rows known exact (up to the last PIE edit)');
      }
    }
    assert.deepEqual(paths, ['pie', 'pie', 'prefix', 'pie']);
  });

  it('pie:false and an unsupported rotary fall back to exact reuse and say why', async () => {
    const model = new FakeRopeModel();
    const off = new PromptCache(model, { pie: false });
    await off.prepare('a.ts', range(60));
    const r = await off.prepare('a.ts', [...range(10), 999, ...range(60).slice(10)]);
    assert.equal(r.path, 'prefix');
    assert.match(r.reason, /off/);
    const dyn = new FakeRopeModel();
    (dyn as { config: RotaryConfig }).config = { ...dyn.config, ropeScaling: { type: 'dynamic', factor: 2 } };
    const pc = new PromptCache(dyn);
    assert.match(pc.pieUnavailable ?? '', /dynamic/);
    await pc.prepare('a.ts', range(60));
    const r2 = await pc.prepare('a.ts', [...range(10), 999, ...range(60).slice(10)]);
    assert.equal(r2.path, 'prefix');
    assert.match(r2.reason, /unavailable/);
  });

  it('LRU over documents, token caps, and disposal of evicted caches', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model, { maxDocuments: 2, maxTokensPerDocument: 100, maxTotalTokens: 150 });
    const a = await pc.prepare('a', range(50));
    await pc.prepare('b', range(50, 100));
    await pc.prepare('a', range(50)); // a is now the most recently used
    await pc.prepare('c', range(50, 200));
    assert.equal(pc.documents, 2);
    assert.equal((await pc.prepare('a', range(50))).path, 'reuse', 'a survived');
    assert.equal((await pc.prepare('b', range(50, 100))).path, 'full', 'b was evicted');
    assert.ok(pc.cachedTokens <= 150);
    const big = await pc.prepare('d', range(120));
    assert.equal(big.path, 'full');
    assert.equal((await pc.prepare('d', range(120))).path, 'full', 'over the per-document cap: not kept');
    pc.dispose();
    assert.equal(a.cache?.isDisposed, true);
    assert.equal(pc.documents, 0);
    await assert.rejects(pc.prepare('a', range(5)), /dispose/);
  });

  it('parkFloat16: documents not in use are stored as float16, the one handed out last never, and widened when asked for again', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model, { parkFloat16: true });
    const aTokens = range(40, 100);
    const a = await pc.prepare('a', aTokens);
    const aCopy = a.cache!.clone();
    await pc.parked();
    assert.equal(pc.parkedDocuments, 0, 'the cache just handed out stays float32');
    assert.equal(a.cache!.dtype, 'float32');
    const bytesA = pc.cachedBytes;
    await pc.prepare('b', range(40, 300));
    await pc.parked();
    assert.equal(pc.parkedDocuments, 1, 'a is parked once b was handed out');
    assert.equal(a.cache!.isDisposed, true, 'the float32 arrays of a parked cache are freed');
    assert.equal(pc.cachedBytes, bytesA / 2 + bytesA, 'a now takes half its bytes; b is whole');
    // Asked for again: the same prompt is reused from the widened copy, within float16 rounding.
    const calls = model.calls;
    const again = await pc.prepare('a', aTokens);
    assert.equal(again.path, 'reuse', again.reason);
    assert.equal(model.calls, calls, 'no recomputation');
    assert.equal(again.cache!.dtype, 'float32');
    assertSameCache(again.cache!, aCopy, 1e-3);
    // An edit of a parked document still takes PIE from the widened rows.
    await pc.prepare('b', range(40, 300));
    await pc.parked();
    const edited = await pc.prepare('a', [...aTokens.slice(0, 10), 5, ...aTokens.slice(10)]);
    assert.equal(edited.path, 'pie', edited.reason);
    assertSameCache(edited.cache!, await fullCache(model, [...aTokens.slice(0, 10), 5, ...aTokens.slice(10)]), 1e-3);
    pc.dispose();
  });

  it('parking never frees arrays a forward pass is reading', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model, { parkFloat16: true });
    const a = await pc.prepare('a', range(30));
    const keys = a.cache!.keys(0);
    const before = Array.from(keys);
    a.cache!.retain(); // a forward pass of a's generation still reading it
    await pc.prepare('b', range(30, 90));
    await pc.parked();
    assert.equal(pc.parkedDocuments, 1);
    assert.equal(a.cache!.isDisposed, true, 'parked: the float32 cache is the prompt cache\'s no more');
    assert.deepEqual(Array.from(keys), before, 'but its arrays are intact while the pass reads them');
    a.cache!.release();
    pc.dispose();
  });

  it('concurrent requests for one document are applied in order', async () => {
    const model = new FakeRopeModel();
    const pc = new PromptCache(model);
    const base = range(64, 100);
    const [r1, r2] = await Promise.all([pc.prepare('a', base), pc.prepare('a', [...base.slice(0, 30), 1, ...base.slice(30)])]);
    assert.equal(r1.path, 'full');
    assert.equal(r2.path, 'pie');
  });
});
