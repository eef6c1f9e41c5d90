import { ModelError } from './errors.js';
import { float16ToFloat32Array, float32ToFloat16Array } from './pie/float16.js';

export type KvDtype = 'float32' | 'float16';
/** float16 caches are raw IEEE half bits (Node 20 has no Float16Array). */
export type KvArray = Float32Array | Uint16Array;

export interface KvShape {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

/** Arrays smaller than this are left to the collector (freeing costs more than it saves). */
const FREE_MIN_BYTES = 64 * 1024;

/**
 * Hands an array's memory back now by detaching its buffer: ArrayBuffer.prototype.transfer(0) (Node 21+,
 * the extension host of every current VS Code), else a structured clone that takes the buffer over and is
 * dropped at once. Only an array that spans its whole, non-shared buffer (never a view into another
 * array's storage, which other views may still read).
 */
export function freeArray(a: KvArray): void {
  const buf = a.buffer;
  if (!(buf instanceof ArrayBuffer) || a.byteOffset !== 0 || a.byteLength !== buf.byteLength) return;
  freeBuffer(buf);
}

/** Detaches a buffer (see freeArray): every view of it reads as empty from then on. */
function freeBuffer(buf: ArrayBuffer): void {
  if (buf.byteLength < FREE_MIN_BYTES) return;
  const transfer = (buf as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer }).transfer;
  if (typeof transfer === 'function') transfer.call(buf, 0);
  else structuredClone(buf, { transfer: [buf] });
}

function alloc(dtype: KvDtype, n: number): KvArray {
  return dtype === 'float32' ? new Float32Array(n) : new Uint16Array(n);
}

/**
 * The key/value cache of one sequence (batch 1): per layer a key and a value array laid out
 * [1, kvHeads, seq, headDim], as the ONNX export takes and returns them. The cache owns its arrays
 * (dispose frees them: nothing may keep a view of them past that); slice/concat return new caches and
 * never alias this one's storage. Keys are stored after RoPE
 * rotation (so a position shift is a rotation of the keys; values carry no position).
 */
export class KvCache implements KvShape {
  private disposed = false;
  /** Forward passes reading the arrays right now (see retain). */
  private readers = 0;
  /** The one buffer every array is a view of (KvCache.allocate), freed as a whole. */
  private backing: ArrayBuffer | undefined;

  constructor(
    readonly dtype: KvDtype,
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    private keyData: KvArray[],
    private valueData: KvArray[],
    /** Number of cached positions. */
    readonly length: number,
  ) {
    if (keyData.length !== numLayers || valueData.length !== numLayers) {
      throw new ModelError('kv cache', `expected ${numLayers} key and value arrays, got ${keyData.length} and ${valueData.length}`);
    }
    const size = numKvHeads * length * headDim;
    for (let l = 0; l < numLayers; l++) {
      if (keyData[l].length !== size || valueData[l].length !== size) {
        throw new ModelError('kv cache', `layer ${l}: expected ${size} values ([1, ${numKvHeads}, ${length}, ${headDim}]), got ${keyData[l].length}/${valueData[l].length}`);
      }
    }
  }

  /**
   * A zero-filled cache of `length` rows whose arrays are views of one buffer, for a caller that fills
   * them. One allocation instead of 2 × layers: above the allocator's mmap threshold it is mapped and
   * handed back to the system whole at dispose, where per-layer arrays of a MiB would stay in (and
   * fragment) the allocator's heap.
   */
  static allocate(shape: KvShape, dtype: KvDtype, length: number): KvCache {
    const per = shape.numKvHeads * length * shape.headDim;
    const width = dtype === 'float32' ? 4 : 2;
    const buffer = new ArrayBuffer(2 * shape.numLayers * per * width);
    const view = (i: number): KvArray => (dtype === 'float32' ? new Float32Array(buffer, i * per * 4, per) : new Uint16Array(buffer, i * per * 2, per));
    const keys = Array.from({ length: shape.numLayers }, (_, l) => view(2 * l));
    const values = Array.from({ length: shape.numLayers }, (_, l) => view(2 * l + 1));
    const cache = new KvCache(dtype, shape.numLayers, shape.numKvHeads, shape.headDim, keys, values, length);
    cache.backing = buffer;
    return cache;
  }

  static empty(shape: KvShape, dtype: KvDtype): KvCache {
    const none = () => Array.from({ length: shape.numLayers }, () => alloc(dtype, 0));
    return new KvCache(dtype, shape.numLayers, shape.numKvHeads, shape.headDim, none(), none(), 0);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Keys of one layer, [1, kvHeads, length, headDim]; mutable (PIE rotates them in place). */
  keys(layer: number): KvArray {
    this.check();
    return this.keyData[layer];
  }

  values(layer: number): KvArray {
    this.check();
    return this.valueData[layer];
  }

  /** Positions [start, end) as a new cache. */
  slice(start: number, end: number = this.length): KvCache {
    this.check();
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= this.length)) {
      throw new ModelError('kv cache', `slice [${start}, ${end}) is outside [0, ${this.length}]`);
    }
    if (end - start === this.length) {
      const copy = (src: KvArray): KvArray => src.slice();
      return new KvCache(this.dtype, this.numLayers, this.numKvHeads, this.headDim, this.keyData.map(copy), this.valueData.map(copy), this.length);
    }
    return KvCache.assemble([{ cache: this, start, end }]);
  }

  /** This cache followed by `other` along the sequence axis, as a new cache. */
  concat(other: KvCache): KvCache {
    this.check();
    other.check();
    if (other.dtype !== this.dtype || other.numLayers !== this.numLayers || other.numKvHeads !== this.numKvHeads || other.headDim !== this.headDim) {
      throw new ModelError('kv cache', 'concat of caches with different shapes or dtypes');
    }
    return KvCache.assemble([{ cache: this, start: 0, end: this.length }, { cache: other, start: 0, end: other.length }]);
  }

  /**
   * Rows of several caches (ranges [start, end) of each, in order) as one new cache, written once: what
   * slice() of each part and concat() of the slices give, without the intermediate copies (PIE joins
   * the kept segments of an edited prompt this way). `afterKeys` sees each layer's new key array as soon
   * as it is written, while it is still in the processor's cache (PIE rotates the moved rows there).
   */
  static assemble(
    parts: readonly { readonly cache: KvCache; readonly start: number; readonly end: number }[],
    afterKeys?: (layer: number, keys: KvArray) => void,
  ): KvCache {
    if (parts.length === 0) throw new ModelError('kv cache', 'assemble needs at least one part');
    const first = parts[0].cache;
    let n = 0;
    for (const { cache, start, end } of parts) {
      cache.check();
      if (cache.dtype !== first.dtype || cache.numLayers !== first.numLayers || cache.numKvHeads !== first.numKvHeads || cache.headDim !== first.headDim) {
        throw new ModelError('kv cache', 'assemble of caches with different shapes or dtypes');
      }
      if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= cache.length)) {
        throw new ModelError('kv cache', `rows [${start}, ${end}) are outside [0, ${cache.length}]`);
      }
      n += end - start;
    }
    const d = first.headDim;
    const build = (arrays: (c: KvCache) => KvArray[], layer: number): KvArray => {
      const dst = alloc(first.dtype, first.numKvHeads * n * d);
      for (let h = 0; h < first.numKvHeads; h++) {
        let at = h * n * d;
        for (const { cache, start, end } of parts) {
          const from = (h * cache.length + start) * d;
          dst.set(arrays(cache)[layer].subarray(from, from + (end - start) * d), at);
          at += (end - start) * d;
        }
      }
      return dst;
    };
    const layers = Array.from({ length: first.numLayers }, (_, l) => l);
    const keys = layers.map((l) => {
      const k = build((c) => c.keyData, l);
      afterKeys?.(l, k);
      return k;
    });
    const values = layers.map((l) => build((c) => c.valueData, l));
    return new KvCache(first.dtype, first.numLayers, first.numKvHeads, first.headDim, keys, values, n);
  }

  /**
   * A copy stored as `dtype`: float32 → float16 rounds each value to the nearest half (what an fp16 KV
   * cache holds; the prompt cache parks inactive documents this way) and throws when a value is beyond
   * the half range (±65504); float16 → float32 is exact.
   */
  withDtype(dtype: KvDtype): KvCache {
    this.check();
    if (dtype === this.dtype) return this.clone();
    const out = KvCache.allocate(this, dtype, this.length);
    try {
      for (let l = 0; l < this.numLayers; l++) {
        KvCache.convertInto(this.keyData[l], out.keyData[l]);
        KvCache.convertInto(this.valueData[l], out.valueData[l]);
      }
    } catch (err) {
      out.dispose();
      throw err;
    }
    return out;
  }

  /**
   * One array converted into another of the other dtype (same length); float32 → float16 throws when a
   * value is beyond the half range.
   */
  static convertInto(src: KvArray, dst: KvArray): void {
    if (src instanceof Float32Array && dst instanceof Uint16Array) {
      const { overflows } = float32ToFloat16Array(src, dst);
      if (overflows > 0) throw new ModelError('kv cache', `${overflows} values beyond float16's range (±65504): not stored as float16`);
    } else if (src instanceof Uint16Array && dst instanceof Float32Array) {
      float16ToFloat32Array(src, dst);
    } else {
      dst.set(src as never);
    }
  }

  /** A deep copy. */
  clone(): KvCache {
    return this.slice(0, this.length);
  }

  /**
   * A forward pass reads this cache's arrays on onnxruntime's threads until `release()`: a `dispose()`
   * meanwhile waits for it to end before freeing them.
   */
  retain(): void {
    this.check();
    this.readers++;
  }

  release(): void {
    if (--this.readers === 0 && this.disposed) this.free();
  }

  /**
   * Releases the arrays; any later use throws. Their memory is handed back at once (detached), not when
   * V8 next collects: a decode step returns the whole cache again (16 MiB at 1,024 tokens of the
   * built-in model), and left to the collector those copies pile up by the hundred megabytes and
   * fragment the allocator. Arrays still read by a forward pass are freed when it ends.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.readers === 0) this.free();
  }

  private free(): void {
    if (this.backing) freeBuffer(this.backing);
    else {
      for (const a of this.keyData) freeArray(a);
      for (const a of this.valueData) freeArray(a);
    }
    this.backing = undefined;
    this.keyData = [];
    this.valueData = [];
  }

  private check(): void {
    if (this.disposed) throw new ModelError('kv cache', 'used after dispose()');
  }
}

/** IEEE half bits → float (for float16 caches and logits). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** float → IEEE half bits, round to nearest even. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and overflows to Infinity at the top).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}
