// Rotary position shifts for cached keys (the core of PIE). A key cached at position p holds R(p)·k;
// rotations compose, so multiplying by R(Δ) gives R(p+Δ)·k: the key the model would have produced at
// the new position. Values carry no position and are never touched.
import { float16Table, numberToFloat16 } from './float16.js';

/** The fields of the model config that decide how keys rotate (any ModelConfig satisfies this). */
export interface RotaryConfig {
  readonly headDim: number;
  readonly rotaryDim: number;
  readonly rotaryStyle: 'half' | 'interleaved';
  readonly ropeTheta: number;
  readonly ropeScaling: null | { readonly type: string; readonly factor?: number; readonly [k: string]: unknown };
  readonly maxPositions: number;
}

/** A model's rotation, resolved: one inverse frequency per rotating pair of dims. */
export interface RotarySpec {
  readonly headDim: number;
  readonly rotaryDim: number;
  readonly style: 'half' | 'interleaved';
  /** θ_i, as float32 values (what the exported graphs compute angles with), length rotaryDim/2. */
  readonly invFreq: Float64Array;
}

export type RotarySupport = { readonly ok: true; readonly spec: RotarySpec } | { readonly ok: false; readonly reason: string };

function num(scaling: Record<string, unknown>, key: string, fallback?: number): number | undefined {
  const v = scaling[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/**
 * Resolves the rotation a shift must apply, or says why a shift cannot be exact for this model:
 * none/default and linear scaling (angle p/factor), llama3 and YaRN (per-dim θ_i, still linear in p)
 * shift exactly; dynamic NTK changes θ with the sequence length and other kinds are not handled.
 */
export function resolveRotary(config: RotaryConfig): RotarySupport {
  const { headDim, rotaryDim, rotaryStyle } = config;
  if (!(rotaryDim > 0 && rotaryDim <= headDim && rotaryDim % 2 === 0)) {
    return { ok: false, reason: `rotary dimension ${rotaryDim} is not even and within head_dim ${headDim}` };
  }
  if (rotaryStyle !== 'half' && rotaryStyle !== 'interleaved') return { ok: false, reason: `unknown rotary style ${String(rotaryStyle)}` };
  if (!(config.ropeTheta > 0)) return { ok: false, reason: `rope_theta ${config.ropeTheta} is not positive` };
  const pairs = rotaryDim / 2;
  const base = new Float64Array(pairs);
  for (let i = 0; i < pairs; i++) base[i] = Math.fround(1 / Math.pow(config.ropeTheta, (2 * i) / rotaryDim));

  const scaling = config.ropeScaling as (Record<string, unknown> & { type: string }) | null;
  const kind = scaling ? scaling.type : 'default';
  if (kind === 'default' || kind === 'none') return { ok: true, spec: { headDim, rotaryDim, style: rotaryStyle, invFreq: base } };
  if (!scaling) return { ok: false, reason: 'unreachable' };
  const factor = num(scaling, 'factor');
  if (factor === undefined || !(factor > 0)) return { ok: false, reason: `rope_scaling ${kind} without a positive factor` };

  if (kind === 'linear') {
    const invFreq = base.map((f) => Math.fround(f / factor));
    return { ok: true, spec: { headDim, rotaryDim, style: rotaryStyle, invFreq } };
  }
  if (kind === 'llama3') {
    // Same as transformers' _compute_llama3_parameters.
    const low = num(scaling, 'low_freq_factor');
    const high = num(scaling, 'high_freq_factor');
    const oldLen = num(scaling, 'original_max_position_embeddings');
    if (low === undefined || high === undefined || oldLen === undefined || high === low) {
      return { ok: false, reason: 'rope_scaling llama3 needs low_freq_factor, high_freq_factor and original_max_position_embeddings' };
    }
    // In float32 operation by operation, as transformers' tensors compute it (the graph holds those values).
    const f32 = Math.fround;
    const lowWavelen = oldLen / low;
    const highWavelen = oldLen / high;
    const invFreq = new Float64Array(pairs);
    for (let i = 0; i < pairs; i++) {
      const f = base[i];
      const wavelen = f32(f32(2 * Math.PI) / f);
      if (wavelen < highWavelen) invFreq[i] = f;
      else if (wavelen > lowWavelen) invFreq[i] = f32(f / factor);
      else {
        const smooth = f32(f32(f32(oldLen / wavelen) - low) / (high - low));
        invFreq[i] = f32(f32(f32(f32(1 - smooth) * f) / factor) + f32(smooth * f));
      }
    }
    return { ok: true, spec: { headDim, rotaryDim, style: rotaryStyle, invFreq } };
  }
  if (kind === 'yarn') {
    // Same as transformers' _compute_yarn_parameters. YaRN also scales cos/sin by an attention factor;
    // that is a constant on every key, so a rotation by Δ still moves a cached key exactly.
    const oldLen = num(scaling, 'original_max_position_embeddings', config.maxPositions)!;
    const betaFast = num(scaling, 'beta_fast') || 32;
    const betaSlow = num(scaling, 'beta_slow') || 1;
    const truncate = scaling.truncate !== false;
    const theta = config.ropeTheta;
    const correction = (rotations: number) => (rotaryDim * Math.log(oldLen / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
    let low = correction(betaFast);
    let high = correction(betaSlow);
    if (truncate) {
      low = Math.floor(low);
      high = Math.ceil(high);
    }
    low = Math.max(low, 0);
    high = Math.min(high, rotaryDim - 1);
    if (low === high) high += 0.001;
    const invFreq = new Float64Array(pairs);
    for (let i = 0; i < pairs; i++) {
      const extrapolation = base[i];
      const interpolation = Math.fround(extrapolation / factor);
      const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
      const keep = 1 - ramp; // share of the unscaled frequency
      invFreq[i] = Math.fround(interpolation * (1 - keep) + extrapolation * keep);
    }
    return { ok: true, spec: { headDim, rotaryDim, style: rotaryStyle, invFreq } };
  }
  if (kind === 'dynamic') {
    return { ok: false, reason: 'rope_scaling dynamic (NTK) rescales θ with the sequence length, so a cached key cannot be shifted exactly' };
  }
  return { ok: false, reason: `rope_scaling ${kind} is not supported by PIE` };
}

/**
 * cos/sin of the rotation angles. rowStride 0: one row of rotaryDim/2 angles (Δ·θ_i) shared by every
 * token, head and layer; rowStride rotaryDim/2: one row per token (see RotaryShifter.shiftKeys).
 */
export interface RotaryTable {
  readonly cos: Float64Array;
  readonly sin: Float64Array;
  readonly rowStride: number;
}

export function rotaryTable(spec: RotarySpec, delta: number): RotaryTable {
  const pairs = spec.invFreq.length;
  const cos = new Float64Array(pairs);
  const sin = new Float64Array(pairs);
  for (let i = 0; i < pairs; i++) {
    const angle = delta * spec.invFreq[i];
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
  }
  return { cos, sin, rowStride: 0 };
}

/** The part of KvCache a rotation needs: layout per layer [1, numKvHeads, length, headDim], row-major. */
export interface KeyStore {
  readonly length: number;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly dtype: 'float32' | 'float16';
  keys(layer: number): Float32Array | Uint16Array;
}

/**
 * Rotates rows [start, end) of every head of one layer's keys by `table`, in place.
 * `data` is [numHeads, length, headDim] (batch 1).
 */
export function rotateRowsF32(
  data: Float32Array, numHeads: number, length: number, spec: RotarySpec, table: RotaryTable, start: number, end: number,
): void {
  const { headDim } = spec;
  const pairs = spec.invFreq.length;
  const { cos, sin, rowStride } = table;
  if (spec.style === 'half') {
    for (let h = 0; h < numHeads; h++) {
      const headEnd = (h * length + end) * headDim;
      for (let o = (h * length + start) * headDim, tb = 0; o < headEnd; o += headDim, tb += rowStride) {
        for (let i = 0; i < pairs; i++) {
          const a = data[o + i];
          const b = data[o + i + pairs];
          const c = cos[tb + i];
          const s = sin[tb + i];
          data[o + i] = a * c - b * s;
          data[o + i + pairs] = b * c + a * s;
        }
      }
    }
  } else {
    for (let h = 0; h < numHeads; h++) {
      const headEnd = (h * length + end) * headDim;
      for (let o = (h * length + start) * headDim, tb = 0; o < headEnd; o += headDim, tb += rowStride) {
        for (let i = 0; i < pairs; i++) {
          const a = data[o + 2 * i];
          const b = data[o + 2 * i + 1];
          const c = cos[tb + i];
          const s = sin[tb + i];
          data[o + 2 * i] = a * c - b * s;
          data[o + 2 * i + 1] = b * c + a * s;
        }
      }
    }
  }
}

/** Same as rotateRowsF32 for raw float16 storage: decoded by table, rounded back to nearest even. */
export function rotateRowsF16(
  data: Uint16Array, numHeads: number, length: number, spec: RotarySpec, table: RotaryTable, start: number, end: number,
): void {
  const { headDim } = spec;
  const pairs = spec.invFreq.length;
  const { cos, sin, rowStride } = table;
  const dec = float16Table();
  const stride = spec.style === 'half' ? 1 : 2;
  const partner = spec.style === 'half' ? pairs : 1;
  for (let h = 0; h < numHeads; h++) {
    const headEnd = (h * length + end) * headDim;
    for (let o = (h * length + start) * headDim, tb = 0; o < headEnd; o += headDim, tb += rowStride) {
      for (let i = 0; i < pairs; i++) {
        const ia = o + i * stride;
        const ib = ia + partner;
        const a = dec[data[ia]];
        const b = dec[data[ib]];
        const c = cos[tb + i];
        const s = sin[tb + i];
        data[ia] = numberToFloat16(a * c - b * s);
        data[ib] = numberToFloat16(b * c + a * s);
      }
    }
  }
}

/**
 * Shifts cached keys by Δ positions for a model's rotation.
 *
 * Two ways to get the angles: per Δ (Δ·θ_i, one small table reused for every row; exact in real
 * arithmetic) or, when the rows' old positions are known, per row: the model computes its angles in
 * float32 as fl32(p·θ_i), whose rounding grows with p (about 3e-5 rad at p = 1000 for θ_0 = 1), so a
 * key shifted by exact Δ·θ_i differs from the key encoded at p+Δ by up to |k|·(that rounding). Rotating
 * by fl32((p+Δ)·θ_i) − fl32(p·θ_i) instead reproduces the model's own angle: the result matches encoding
 * at p+Δ to float32 arithmetic. The per-row angles come from a per-position cos/sin table (grown on
 * demand), composed without trigonometry.
 */
export class RotaryShifter {
  private readonly tables = new Map<number, RotaryTable>();
  private posCos = new Float64Array(0);
  private posSin = new Float64Array(0);
  private rowCos = new Float64Array(0);
  private rowSin = new Float64Array(0);

  constructor(readonly spec: RotarySpec, private readonly maxTables = 256) {}

  /** The per-Δ table (memoized, a few hundred bytes each; a session sees few distinct shifts). */
  table(delta: number): RotaryTable {
    let t = this.tables.get(delta);
    if (t) {
      this.tables.delete(delta);
      this.tables.set(delta, t);
      return t;
    }
    t = rotaryTable(this.spec, delta);
    this.tables.set(delta, t);
    if (this.tables.size > this.maxTables) this.tables.delete(this.tables.keys().next().value as number);
    return t;
  }

  /** cos/sin of fl32(p·θ_i) for p in [0, positions), grown by doubling. */
  private ensurePositions(positions: number): void {
    const pairs = this.spec.invFreq.length;
    const have = this.posCos.length / pairs;
    if (positions <= have) return;
    const size = Math.max(positions, 2 * have, 256);
    const cos = new Float64Array(size * pairs);
    const sin = new Float64Array(size * pairs);
    cos.set(this.posCos);
    sin.set(this.posSin);
    for (let p = have; p < size; p++) {
      for (let i = 0; i < pairs; i++) {
        const angle = Math.fround(p * this.spec.invFreq[i]);
        cos[p * pairs + i] = Math.cos(angle);
        sin[p * pairs + i] = Math.sin(angle);
      }
    }
    this.posCos = cos;
    this.posSin = sin;
  }

  /**
   * Per-row table taking rows at positions from, from+1, … to those + Δ: valid until the next call, or
   * its own arrays when `own` is set (for several tables in use at once).
   */
  rowTable(from: number, rows: number, delta: number, own = false): RotaryTable {
    if (from < 0 || from + delta < 0) throw new Error(`negative position in a shift from ${from} by ${delta}`);
    const pairs = this.spec.invFreq.length;
    this.ensurePositions(Math.max(from, from + delta) + rows);
    if (!own && this.rowCos.length < rows * pairs) {
      this.rowCos = new Float64Array(rows * pairs * 2);
      this.rowSin = new Float64Array(rows * pairs * 2);
    }
    const { posCos, posSin } = this;
    const rowCos = own ? new Float64Array(rows * pairs) : this.rowCos;
    const rowSin = own ? new Float64Array(rows * pairs) : this.rowSin;
    for (let r = 0; r < rows; r++) {
      const p = (from + r) * pairs;
      const q = (from + r + delta) * pairs;
      const o = r * pairs;
      for (let i = 0; i < pairs; i++) {
        // R(a_q)·R(−a_p) = R(a_q − a_p)
        const cp = posCos[p + i];
        const sp = posSin[p + i];
        const cq = posCos[q + i];
        const sq = posSin[q + i];
        rowCos[o + i] = cq * cp + sq * sp;
        rowSin[o + i] = sq * cp - cq * sp;
      }
    }
    return { cos: rowCos, sin: rowSin, rowStride: pairs };
  }

  /**
   * Rotates the keys of rows [start, end) in every layer and kv head of `cache` by Δ, in place.
   * `fromPosition`: the position row `start` was encoded at; when given, angles follow the model's
   * float32 rounding (see the class comment), otherwise one Δ table is used.
   */
  shiftKeys(cache: KeyStore, start: number, end: number, delta: number, fromPosition?: number): void {
    if (delta === 0 || end <= start) return;
    const table = fromPosition === undefined ? this.table(delta) : this.rowTable(fromPosition, end - start, delta);
    for (let layer = 0; layer < cache.numLayers; layer++) this.shiftLayer(cache, cache.keys(layer), start, end, table);
  }

  /**
   * Rotates rows [start, end) of one layer's keys (`data`, laid out as `cache` says) by `table`, in
   * place: shiftKeys one layer at a time, for a caller that rotates each layer as it writes it.
   */
  shiftLayer(cache: Omit<KeyStore, 'keys'>, data: Float32Array | Uint16Array, start: number, end: number, table: RotaryTable): void {
    if (end <= start) return;
    if (cache.headDim !== this.spec.headDim) {
      throw new Error(`cache head_dim ${cache.headDim} does not match the rotary head_dim ${this.spec.headDim}`);
    }
    if (start < 0 || end > cache.length) throw new Error(`rows [${start}, ${end}) outside a cache of ${cache.length}`);
    if (data instanceof Float32Array) rotateRowsF32(data, cache.numKvHeads, cache.length, this.spec, table, start, end);
    else rotateRowsF16(data, cache.numKvHeads, cache.length, this.spec, table, start, end);
  }
}
