// IEEE 754 binary16 <-> number conversions for caches stored as raw Uint16Array (Node 20 has no
// Float16Array). Decoding goes through a 64k-entry table; encoding rounds to nearest, ties to even,
// through one shared scratch word, so converting allocates nothing per element.

let decodeTable: Float32Array | undefined;

/** Table of every half value as float32, built once on first use (256 KiB). */
export function float16Table(): Float32Array {
  if (decodeTable) return decodeTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) table[h] = mant ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  decodeTable = table;
  return table;
}

export function float16ToNumber(h: number): number {
  return float16Table()[h & 0xffff];
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Rounds a number to the nearest binary16 (ties to even) and returns its bit pattern. */
export function numberToFloat16(value: number): number {
  scratchF32[0] = value; // first rounding to float32: double rounding can only matter at exact float32 ties
  return float32BitsToFloat16(scratchU32[0]);
}

/** The binary16 nearest (ties to even) to the float32 with these bits. */
function float32BitsToFloat16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and reaches infinity at the top).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++;
  return sign | h;
}

/**
 * float32 values as binary16 bits, each rounded as numberToFloat16 rounds it (bulk, for KV caches).
 * `overflows` counts finite values beyond the half range (written as ±Infinity).
 */
export function float32ToFloat16Array(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): { bits: Uint16Array; overflows: number } {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  let overflows = 0;
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    const h = float32BitsToFloat16(x);
    // ±Infinity out of a finite input (float32 exponent below 0xff): it was beyond 65504.
    if ((h & 0x7fff) === 0x7c00 && (x & 0x7f800000) !== 0x7f800000) overflows++;
    dst[i] = h;
  }
  return { bits: dst, overflows };
}

/** binary16 bits as float32 values (bulk, through the decoding table). */
export function float16ToFloat32Array(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = float16Table();
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]];
  return dst;
}
