import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvCache, floatToHalf, halfToFloat } from '../../../model/kvCache.js';

const shape = { numLayers: 2, numKvHeads: 3, headDim: 4 };

/** A cache whose every value encodes (layer, kind, head, position, dim), so misplaced copies show. */
function numbered(length: number, offset = 0): KvCache {
  const make = (layer: number, kind: number) => {
    const a = new Float32Array(shape.numKvHeads * length * shape.headDim);
    for (let h = 0; h < shape.numKvHeads; h++)
      for (let p = 0; p < length; p++)
        for (let d = 0; d < shape.headDim; d++) a[(h * length + p) * shape.headDim + d] = layer * 1e6 + kind * 1e5 + h * 1e4 + (p + offset) * 10 + d;
    return a;
  };
  const layers = [0, 1];
  return new KvCache('float32', 2, 3, 4, layers.map((l) => make(l, 0)), layers.map((l) => make(l, 1)), length);
}

describe('KvCache', () => {
  it('slices positions along the sequence axis of every head', () => {
    const c = numbered(7);
    const s = c.slice(2, 5);
    assert.equal(s.length, 3);
    assert.deepEqual(Array.from(s.keys(1)), Array.from(numbered(3, 2).keys(1)));
    assert.deepEqual(Array.from(s.values(0)), Array.from(numbered(3, 2).values(0)));
  });

  it('concat of two slices gives back the original', () => {
    const c = numbered(9);
    const joined = c.slice(0, 4).concat(c.slice(4));
    assert.equal(joined.length, 9);
    for (let l = 0; l < 2; l++) {
      assert.deepEqual(Array.from(joined.keys(l)), Array.from(c.keys(l)));
      assert.deepEqual(Array.from(joined.values(l)), Array.from(c.values(l)));
    }
  });

  it('assemble writes ranges of several caches once, equal to slices joined by concat', () => {
    const a = numbered(9);
    const b = numbered(6, 100);
    const parts = [{ cache: a, start: 0, end: 3 }, { cache: b, start: 2, end: 6 }, { cache: a, start: 5, end: 5 }, { cache: a, start: 7, end: 9 }];
    const joined = KvCache.assemble(parts);
    const expected = a.slice(0, 3).concat(b.slice(2, 6)).concat(a.slice(7, 9));
    assert.equal(joined.length, 9);
    for (let l = 0; l < 2; l++) {
      assert.deepEqual(Array.from(joined.keys(l)), Array.from(expected.keys(l)));
      assert.deepEqual(Array.from(joined.values(l)), Array.from(expected.values(l)));
    }
    joined.keys(0)[0] = -1;
    assert.notEqual(a.keys(0)[0], -1, 'no aliasing of a part');
    assert.throws(() => KvCache.assemble([{ cache: a, start: 8, end: 10 }]), /outside/);
    assert.throws(() => KvCache.assemble([{ cache: a, start: 0, end: 1 }, { cache: KvCache.empty(shape, 'float16'), start: 0, end: 0 }]), /different/);
    assert.throws(() => KvCache.assemble([]), /at least one/);
  });

  it('assemble hands each layer\'s new keys to afterKeys once, in order, before it goes on', () => {
    const a = numbered(5);
    const seen: number[] = [];
    const joined = KvCache.assemble([{ cache: a, start: 1, end: 4 }], (layer, keys) => {
      seen.push(layer);
      assert.deepEqual(Array.from(keys), Array.from(a.slice(1, 4).keys(layer)), 'the layer is written when handed over');
      keys[0] = -layer - 1; // changes made here are the cache's
    });
    assert.deepEqual(seen, [0, 1]);
    assert.equal(joined.keys(0)[0], -1);
    assert.equal(joined.keys(1)[0], -2);
    assert.notEqual(joined.values(0)[0], -1, 'values are not handed over');
  });

  it('withDtype: float16 rounds each value to the nearest half, and back to float32 is exact', () => {
    assert.throws(() => numbered(3).withDtype('float16'), /beyond float16's range/, 'numbered() holds values up to 1e6');
    const small = (layer: number) => Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i * 7 + layer) * 40);
    const a = new KvCache('float32', 2, 2, 4, [small(0), small(1)], [small(2), small(3)], 3);
    const half = a.withDtype('float16');
    assert.equal(half.dtype, 'float16');
    assert.ok(half.keys(0) instanceof Uint16Array);
    const back = half.withDtype('float32');
    for (let l = 0; l < 2; l++) {
      const x = a.keys(l);
      const y = back.keys(l);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= Math.abs(x[i]) * 2 ** -11, `${x[i]} vs ${y[i]}`);
      assert.deepEqual(Array.from(back.withDtype('float16').keys(l)), Array.from(half.keys(l)), 'a half widened and narrowed again is the same half');
    }
    assert.notEqual(a.withDtype('float32').keys(0), a.keys(0), 'the same dtype is a copy');
  });

  it('allocate: one buffer behind every array, handed back whole at dispose', () => {
    const c = KvCache.allocate({ numLayers: 2, numKvHeads: 2, headDim: 64 }, 'float16', 512); // 256 KiB
    const k0 = c.keys(0);
    const v1 = c.values(1);
    assert.equal(k0.buffer, v1.buffer, 'views of one buffer');
    assert.equal(k0.length, 2 * 512 * 64);
    k0[0] = 1;
    assert.equal(v1[0], 0, 'the arrays do not overlap');
    c.dispose();
    assert.equal(k0.length, 0, 'detached: its memory is back');
    assert.equal(v1.length, 0);
  });

  it('slices never alias the source storage', () => {
    const c = numbered(5);
    const s = c.slice(0, 5);
    s.keys(0)[0] = -1;
    assert.notEqual(c.keys(0)[0], -1);
  });

  it('empty caches concat and slice to empty', () => {
    const e = KvCache.empty(shape, 'float16');
    assert.equal(e.length, 0);
    assert.equal(e.concat(e).length, 0);
    assert.ok(e.keys(1) instanceof Uint16Array);
  });

  it('refuses out-of-range slices, mismatched concat, wrong sizes and use after dispose', () => {
    const c = numbered(4);
    assert.throws(() => c.slice(3, 5), /outside/);
    assert.throws(() => c.concat(KvCache.empty(shape, 'float16')), /different/);
    assert.throws(() => new KvCache('float32', 1, 1, 2, [new Float32Array(3)], [new Float32Array(3)], 2), /expected 4 values/);
    c.dispose();
    assert.ok(c.isDisposed);
    assert.throws(() => c.keys(0), /after dispose/);
  });
});

describe('half floats', () => {
  it('round-trips representable values and rounds others to the nearest half', () => {
    for (const x of [0, 1, -2, 0.5, 65504, -0.000060975551605224609375, 2 ** -24]) assert.equal(halfToFloat(floatToHalf(x)), x);
    assert.equal(halfToFloat(floatToHalf(1 + 2 ** -11)), 1); // tie → even
    assert.equal(halfToFloat(floatToHalf(1e6)), Infinity);
    assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
    assert.ok(Math.abs(halfToFloat(floatToHalf(Math.PI)) - Math.PI) < 1e-3);
  });
});

describe('KvCache memory', () => {
  // 2 layers × 2 heads × 1,024 positions × 16 dims of float32: 128 KiB per array, above the free threshold.
  const big = (): KvCache => {
    const a = () => new Float32Array(2 * 1024 * 16).fill(1);
    return new KvCache('float32', 2, 2, 16, [a(), a()], [a(), a()], 1024);
  };

  it('dispose hands the arrays back at once (their buffers detach), not at the next collection', () => {
    const c = big();
    const keys = c.keys(0);
    assert.equal(keys.buffer.byteLength, 128 * 1024);
    c.dispose();
    assert.equal(keys.buffer.byteLength, 0, 'detached');
    assert.throws(() => c.keys(0), /used after dispose/);
    c.dispose(); // twice is harmless
  });

  it('a cache a forward pass still reads is freed only when the pass releases it', () => {
    const c = big();
    const values = c.values(1);
    c.retain();
    c.dispose();
    assert.equal(values.length, 2 * 1024 * 16, 'still readable by the pass');
    c.release();
    assert.equal(values.buffer.byteLength, 0, 'freed at release');
  });

  it('never frees a view into another array\'s storage', () => {
    const shared = new Float32Array(4 * 2 * 1024 * 16);
    const view = (i: number) => shared.subarray(i * 2 * 1024 * 16, (i + 1) * 2 * 1024 * 16);
    const c = new KvCache('float32', 2, 2, 16, [view(0), view(1)], [view(2), view(3)], 1024);
    c.dispose();
    assert.equal(shared.buffer.byteLength, shared.length * 4, 'the shared buffer is left to the collector');
  });
});
