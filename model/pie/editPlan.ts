// Plans how to turn the KV cache of an old token sequence into the cache of a new one: which cached
// rows to keep (and by how many positions they move), which tokens to encode. A Myers diff over the
// tokens finds every unchanged run, so several edit regions each cost only their own new tokens.

/** Cached rows old[oldStart, oldStart+length) become new[newStart, …); their keys move by delta. */
export interface KeepSegment {
  readonly kind: 'keep';
  readonly oldStart: number;
  readonly newStart: number;
  readonly length: number;
  /** newStart − oldStart: the rotary shift the kept keys need. */
  readonly delta: number;
}

/** Tokens new[newStart, newStart+length) are encoded by the model against everything before them. */
export interface EncodeSegment {
  readonly kind: 'encode';
  readonly newStart: number;
  readonly length: number;
}

export type PlanSegment = KeepSegment | EncodeSegment;

export interface EditPlan {
  /** In new-sequence order, covering new[0, newLength) exactly once; the last one is an encode unless
   *  reencodeLast was false. */
  readonly segments: readonly PlanSegment[];
  readonly newLength: number;
  /** Length of the common token prefix of old and new (rows reusable as they are, exactly). */
  readonly commonPrefix: number;
  readonly encodeTokens: number;
  /** Encode segments, i.e. forward calls. */
  readonly encodeCalls: number;
  readonly keptTokens: number;
  /** Kept tokens whose keys need a rotation (delta ≠ 0). */
  readonly rotatedTokens: number;
  /** Kept tokens placed after an encoded span: their cached states saw the old text before them. */
  readonly staleTokens: number;
  /** Old and new are the same sequence. */
  readonly identical: boolean;
}

export interface PlanOptions {
  /** Unchanged runs shorter than this are re-encoded rather than kept (default 4): splicing isolated
   *  tokens saves little and their stale states hurt most. */
  readonly minKeep?: number;
  /** Upper bound on the edit distance the diff explores (default 1024); past it, the whole changed
   *  middle is one replaced region. */
  readonly maxEditDistance?: number;
  /** End the plan by encoding the last token, for fresh next-token logits (default true). When false,
   *  the caller encodes what follows itself (the generator encodes the prompt's last token). */
  readonly reencodeLast?: boolean;
  /** What one extra forward call costs, in encoded tokens (default 0). An unchanged run between two
   *  edits no longer than this is re-encoded, joining the edits into one call. */
  readonly callCost?: number;
}

/** Matched runs [oldStart, newStart, length] of a[lo..) vs b[lo..), in order (Myers' O((N+M)D) diff). */
function matchingRuns(a: readonly number[], b: readonly number[], aLo: number, aHi: number, bLo: number, bHi: number, maxD: number): [number, number, number][] | undefined {
  const n = aHi - aLo;
  const m = bHi - bLo;
  const max = Math.min(n + m, maxD);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])) x = v[offset + k + 1];
      else x = v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[aLo + x] === b[bLo + y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    trace.push(v.slice());
    if (found >= 0) break;
  }
  if (found < 0) return undefined;
  // Walk back through the saved frontiers, collecting diagonal (matching) moves.
  const runs: [number, number, number][] = [];
  let x = n;
  let y = m;
  for (let d = found; d >= 0; d--) {
    const k = x - y;
    let prevK: number;
    if (d === 0) prevK = 0;
    else if (k === -d || (k !== d && trace[d - 1][offset + k - 1] < trace[d - 1][offset + k + 1])) prevK = k + 1;
    else prevK = k - 1;
    const prevX = d === 0 ? 0 : trace[d - 1][offset + prevK];
    const prevY = prevX - prevK;
    // After the non-diagonal move from (prevX, prevY) the snake runs to (x, y).
    const startX = d === 0 ? 0 : prevK === k + 1 ? prevX : prevX + 1;
    const startY = startX - k;
    if (x > startX) runs.push([aLo + startX, bLo + startY, x - startX]);
    x = prevX;
    y = prevY;
  }
  return runs.reverse();
}

/** Plans the cheapest safe way from the cache of `oldTokens` to that of `newTokens`. */
export function planEdit(oldTokens: readonly number[], newTokens: readonly number[], opts: PlanOptions = {}): EditPlan {
  const minKeep = Math.max(1, opts.minKeep ?? 4);
  const maxD = opts.maxEditDistance ?? 1024;
  const n = oldTokens.length;
  const m = newTokens.length;
  let prefix = 0;
  while (prefix < n && prefix < m && oldTokens[prefix] === newTokens[prefix]) prefix++;
  let suffix = 0;
  while (suffix < n - prefix && suffix < m - prefix && oldTokens[n - 1 - suffix] === newTokens[m - 1 - suffix]) suffix++;
  const identical = n === m && prefix === n;

  const runs: [number, number, number][] = [];
  if (prefix > 0) runs.push([0, 0, prefix]);
  const middle = matchingRuns(oldTokens, newTokens, prefix, n - suffix, prefix, m - suffix, maxD) ?? [];
  for (const r of middle) if (r[2] >= minKeep) runs.push(r);
  if (suffix >= minKeep) runs.push([n - suffix, m - suffix, suffix]);

  // Joining two edits by re-encoding the short run between them saves a forward call.
  const callCost = opts.callCost ?? 0;
  const reencodeLast = opts.reencodeLast ?? true;
  for (let i = runs.length - 1; i >= 0 && callCost > 0; i--) {
    if (i === 0 && runs[0][0] === 0 && runs[0][1] === 0) break; // the common prefix always stays
    const [, newStart, length] = runs[i];
    const followedByEncode = reencodeLast || newStart + length < m;
    const precededByEncode = newStart > (i > 0 ? runs[i - 1][1] + runs[i - 1][2] : 0);
    if (followedByEncode && precededByEncode && length <= callCost) runs.splice(i, 1);
  }

  // The last token is always re-encoded so the plan ends with fresh next-token logits.
  const last = runs[runs.length - 1];
  if (reencodeLast && last && last[1] + last[2] === m) {
    if (last[2] <= 1) runs.pop();
    else last[2]--;
  }

  const segments: PlanSegment[] = [];
  let at = 0;
  let keptTokens = 0;
  let rotatedTokens = 0;
  let staleTokens = 0;
  let encodedSoFar = false;
  const encode = (to: number): void => {
    if (to <= at) return;
    segments.push({ kind: 'encode', newStart: at, length: to - at });
    encodedSoFar = true;
    at = to;
  };
  for (const [oldStart, newStart, length] of runs) {
    encode(newStart);
    segments.push({ kind: 'keep', oldStart, newStart, length, delta: newStart - oldStart });
    keptTokens += length;
    if (newStart !== oldStart) rotatedTokens += length;
    if (encodedSoFar || oldStart !== newStart) staleTokens += length;
    at = newStart + length;
  }
  encode(m);
  return {
    segments,
    newLength: m,
    commonPrefix: prefix,
    encodeTokens: m - keptTokens,
    encodeCalls: segments.filter((x) => x.kind === 'encode').length,
    keptTokens,
    rotatedTokens,
    staleTokens,
    identical,
  };
}
