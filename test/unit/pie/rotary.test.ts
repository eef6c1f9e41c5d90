import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { float16ToFloat32Array, float16ToNumber, float32ToFloat16Array, numberToFloat16 } from '../../../model/pie/float16.js';
import { type KeyStore, type RotaryConfig, RotaryShifter, resolveRotary } from '../../../model/pie/rotary.js';

// Expectations are computed here directly from the RoPE definition (transformers' apply_rotary_pos_emb:
// x·cos + rotate_half(x)·sin with cos = cat(freqs, freqs), or GPT-J's rotate_every_two), not through
// the kernel under test.
function encodeDirect(k: Float64Array, pos: number, invFreq: ArrayLike<number>, rotaryDim: number, style: 'half' | 'interleaved'): Float64Array {
  const out = Float64Array.from(k);
  const pairs = rotaryDim / 2;
  for (let d = 0; d < rotaryDim; d++) {
    const i = style === 'half' ? d % pairs : d >> 1;
    const angle = pos * invFreq[i];
    let rotated: number; // rotate_half(x)[d] or rotate_every_two(x)[d]
    if (style === 'half') rotated = d < pairs ? -k[d + pairs] : k[d - pairs];
    else rotated = d % 2 === 0 ? -k[d + 1] : k[d - 1];
    out[d] = k[d] * Math.cos(angle) + rotated * Math.sin(angle);
  }
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

class FakeKeyStore implements KeyStore {
  readonly data: (Float32Array | Uint16Array)[];
  constructor(readonly numLayers: number, readonly numKvHeads: number, readonly length: number, readonly headDim: number, readonly dtype: 'float32' | 'float16') {
    const n = numKvHeads * length * headDim;
    this.data = Array.from({ length: numLayers }, () => (dtype === 'float32' ? new Float32Array(n) : new Uint16Array(n)));
  }
  keys(layer: number): Float32Array | Uint16Array {
    return this.data[layer];
  }
}

interface Case { name: string; config: RotaryConfig; dtype: 'float32' | 'float16'; positions: number[]; delta: number }

/** Fills a store with raw keys encoded at `positions`, shifts rows by delta, compares with encoding at positions+delta. */
function checkShift(c: Case): number {
  const support = resolveRotary(c.config);
  assert.ok(support.ok, support.ok ? '' : support.reason);
  const spec = support.spec;
  const layers = 3;
  const heads = 2;
  const len = c.positions.length;
  const d = c.config.headDim;
  const store = new FakeKeyStore(layers, heads, len, d, c.dtype);
  const rand = rng(42);
  const raw: Float64Array[] = [];
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < len; t++) {
        const k = new Float64Array(d).map(() => rand() * 4);
        raw.push(k);
        const enc = encodeDirect(k, c.positions[t], spec.invFreq, c.config.rotaryDim, c.config.rotaryStyle);
        const off = (h * len + t) * d;
        const arr = store.data[l];
        for (let j = 0; j < d; j++) arr[off + j] = arr instanceof Float32Array ? enc[j] : numberToFloat16(enc[j]);
      }
    }
  }
  const before = store.data.map((a) => a.slice());
  // Shift only rows [1, len): row 0 must stay exactly as it was.
  new RotaryShifter(spec).shiftKeys(store, 1, len, c.delta);
  let maxErr = 0;
  let idx = 0;
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < len; t++) {
        const k = raw[idx++];
        const off = (h * len + t) * d;
        const arr = store.data[l];
        if (t === 0) {
          assert.deepEqual(arr.subarray(off, off + d), before[l].subarray(off, off + d));
          continue;
        }
        const want = encodeDirect(k, c.positions[t] + c.delta, spec.invFreq, c.config.rotaryDim, c.config.rotaryStyle);
        for (let j = 0; j < d; j++) {
          if (j >= c.config.rotaryDim) {
            assert.equal(arr[off + j], before[l][off + j], 'dims past rotary_dim never change');
            continue;
          }
          const got = arr instanceof Float32Array ? arr[off + j] : float16ToNumber(arr[off + j]);
          maxErr = Math.max(maxErr, Math.abs(got - want[j]));
        }
      }
    }
  }
  return maxErr;
}

const llama = (over: Partial<RotaryConfig> = {}): RotaryConfig => ({
  headDim: 64, rotaryDim: 64, rotaryStyle: 'half', ropeTheta: 10000, ropeScaling: null, maxPositions: 8192, ...over,
});

describe('rotary shift', () => {
  const positions = [0, 5, 17, 300, 1023, 4000];
  const cases: Case[] = [
    { name: 'rotate-half, right shift', config: llama(), dtype: 'float32', positions, delta: 37 },
    { name: 'rotate-half, left shift', config: llama(), dtype: 'float32', positions: positions.map((p) => p + 100), delta: -93 },
    { name: 'interleaved (GPT-J)', config: llama({ rotaryStyle: 'interleaved' }), dtype: 'float32', positions, delta: 11 },
    { name: 'partial rotary, half', config: llama({ rotaryDim: 32, ropeTheta: 1e6 }), dtype: 'float32', positions, delta: 250 },
    { name: 'partial rotary, interleaved (CodeGen)', config: llama({ rotaryDim: 16, rotaryStyle: 'interleaved' }), dtype: 'float32', positions, delta: -3 },
    { name: 'linear scaling x4 (DeepSeek-Coder)', config: llama({ ropeTheta: 100000, ropeScaling: { type: 'linear', factor: 4 } }), dtype: 'float32', positions, delta: 77 },
    {
      name: 'llama3 scaling',
      config: llama({ headDim: 128, rotaryDim: 128, ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }),
      dtype: 'float32', positions, delta: 1500,
    },
  ];
  for (const c of cases) {
    it(`matches encoding at the new positions: ${c.name}`, () => {
      assert.ok(checkShift(c) <= 1e-4);
    });
  }

  it('float16 caches: within float16 rounding of the exact key', () => {
    // |key| ≤ ~2.9 here, where one float16 ulp is 2^-9; two roundings (store, shift) stay within ~1 ulp.
    const err = checkShift({ name: 'f16', config: llama(), dtype: 'float16', positions, delta: 123 });
    assert.ok(err <= 2 ** -9, `max error ${err}`);
  });

  it('a shift and its inverse give back the original keys (float32, to rounding)', () => {
    const spec = (resolveRotary(llama()) as { ok: true; spec: import('../../../model/pie/rotary.js').RotarySpec }).spec;
    const store = new FakeKeyStore(2, 2, 8, 64, 'float32');
    const rand = rng(7);
    for (const k of store.data) for (let i = 0; i < k.length; i++) k[i] = rand();
    const orig = store.data.map((k) => Float32Array.from(k));
    const shifter = new RotaryShifter(spec);
    shifter.shiftKeys(store, 0, 8, 500);
    assert.notDeepEqual(store.data[0], orig[0]);
    shifter.shiftKeys(store, 0, 8, -500);
    for (let l = 0; l < 2; l++) for (let i = 0; i < orig[l].length; i++) assert.ok(Math.abs(store.data[l][i] - orig[l][i]) < 1e-5);
  });

  it('layer by layer with tables of their own (PIE\'s fused copy) gives exactly what shiftKeys gives', () => {
    const spec = (resolveRotary(llama()) as { ok: true; spec: import('../../../model/pie/rotary.js').RotarySpec }).spec;
    const a = new FakeKeyStore(3, 2, 12, 64, 'float32');
    const rand = rng(11);
    for (const k of a.data) for (let i = 0; i < k.length; i++) k[i] = rand();
    const b = new FakeKeyStore(3, 2, 12, 64, 'float32');
    a.data.forEach((k, l) => b.data[l].set(k));
    const shifter = new RotaryShifter(spec);
    shifter.shiftKeys(a, 2, 5, 7, 30);
    shifter.shiftKeys(a, 8, 12, -3, 40);
    // Two segments' tables in use at once: each must be its own (rowTable's shared buffer is not).
    const t1 = shifter.rowTable(30, 3, 7, true);
    const t2 = shifter.rowTable(40, 4, -3, true);
    for (let l = 0; l < 3; l++) {
      shifter.shiftLayer(b, b.keys(l), 2, 5, t1);
      shifter.shiftLayer(b, b.keys(l), 8, 12, t2);
    }
    for (let l = 0; l < 3; l++) assert.deepEqual(Array.from(b.data[l]), Array.from(a.data[l]));
    assert.throws(() => shifter.shiftLayer(b, b.keys(0), 10, 13, t2), /outside/);
  });

  it('llama3 keeps high frequencies, divides low ones by the factor, blends the middle', () => {
    const config = llama({ headDim: 128, rotaryDim: 128, ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    const plain = resolveRotary({ ...config, ropeScaling: null });
    const scaled = resolveRotary(config);
    assert.ok(plain.ok && scaled.ok);
    const p = plain.spec.invFreq;
    const s = scaled.spec.invFreq;
    assert.equal(s[0], p[0]);
    assert.ok(Math.abs(s[63] - p[63] / 8) < 1e-12 * p[63] + 1e-7 * p[63]);
    const blended = [...s].findIndex((v, i) => v < p[i] && v > p[i] / 8 + 1e-12);
    assert.ok(blended > 0, 'some dims are interpolated');
  });

  it('refuses what cannot be shifted exactly, with a reason', () => {
    const dyn = resolveRotary(llama({ ropeScaling: { type: 'dynamic', factor: 2 } }));
    assert.equal(dyn.ok, false);
    assert.match((dyn as { reason: string }).reason, /dynamic/);
    assert.equal(resolveRotary(llama({ ropeScaling: { type: 'longrope', factor: 2 } })).ok, false);
    assert.equal(resolveRotary(llama({ rotaryDim: 65 })).ok, false);
    assert.equal(resolveRotary(llama({ ropeScaling: { type: 'linear' } })).ok, false);
  });
});

describe('float16 conversion', () => {
  it('the bulk conversions give what the one-value ones give, for every half and for float32 values between', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const wide = float16ToFloat32Array(all);
    for (let h = 0; h < 65536; h++) {
      const expected = float16ToNumber(h);
      assert.ok(Object.is(wide[h], Math.fround(expected)) || (Number.isNaN(wide[h]) && Number.isNaN(expected)), `half ${h}`);
    }
    const rand = rng(5);
    const values = Float32Array.from({ length: 20000 }, (_, i) => (i % 4 === 0 ? rand() * 1e-6 : i % 4 === 1 ? rand() * 7e4 * 2 : i % 4 === 2 ? rand() * 4 : rand() * 1e-4));
    values.set([0, -0, Infinity, -Infinity, NaN, 65504, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11], 0);
    const { bits: narrow, overflows } = float32ToFloat16Array(values);
    for (let i = 0; i < values.length; i++) assert.equal(narrow[i], numberToFloat16(values[i]), `value ${values[i]}`);
    assert.equal(overflows, values.filter((v) => Number.isFinite(v) && Math.abs(v) >= 65520).length, 'finite values that round beyond 65504 are counted');
  });

  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 65536; h++) {
      const v = float16ToNumber(h);
      if (Number.isNaN(v)) continue;
      assert.equal(numberToFloat16(v), h, `half 0x${h.toString(16)}`);
    }
  });

  it('rounds to nearest, ties to even, including subnormals and overflow', () => {
    const one = numberToFloat16(1);
    assert.equal(numberToFloat16(1 + 2 ** -11), one, 'tie goes to even (1.0)');
    assert.equal(numberToFloat16(1 + 3 * 2 ** -11), one + 2, 'tie goes to even (1+2^-9)');
    assert.equal(numberToFloat16(1 + 2 ** -11 + 2 ** -20), one + 1);
    assert.equal(numberToFloat16(2 ** -24), 1, 'smallest subnormal');
    assert.equal(numberToFloat16(2 ** -25), 0, 'half of it ties to zero');
    assert.equal(numberToFloat16(1.5 * 2 ** -24), 2, 'tie between subnormals goes to even');
    assert.equal(numberToFloat16(70000), 0x7c00);
    assert.equal(numberToFloat16(-70000), 0xfc00);
    assert.equal(numberToFloat16(65504), 0x7bff);
  });
});
