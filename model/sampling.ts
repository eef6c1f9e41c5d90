/** Deterministic PRNG (mulberry32): same seed, same samples. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest value (first on ties); -1 when every value is -Infinity or NaN. */
export function argmax(values: Float32Array): number {
  let best = -1;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > max) {
      max = values[i];
      best = i;
    }
  }
  return best;
}

/**
 * Samples from softmax(logits / temperature) restricted to the smallest set of tokens whose
 * probability reaches topP. temperature ≤ 0 is greedy. Returns -1 when no token is allowed.
 */
export function sampleToken(logits: Float32Array, temperature: number, topP: number, random: () => number): number {
  if (!(temperature > 0)) return argmax(logits);
  const best = argmax(logits);
  if (best < 0) return -1;
  const max = logits[best];
  // Tokens below e^-30 of the best cannot matter for any topP < 1 - 1e-13.
  const floor = max - 30 * temperature;
  const ids: number[] = [];
  const weights: number[] = [];
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] >= floor) {
      const w = Math.exp((logits[i] - max) / temperature);
      ids.push(i);
      weights.push(w);
      total += w;
    }
  }
  let order = ids.map((_, k) => k);
  let mass = total;
  if (topP > 0 && topP < 1) {
    order.sort((x, y) => weights[y] - weights[x]);
    let acc = 0;
    let keep = 0;
    while (keep < order.length && acc < topP * total) acc += weights[order[keep++]];
    order = order.slice(0, Math.max(1, keep));
    mass = acc;
  }
  let r = random() * mass;
  for (const k of order) {
    r -= weights[k];
    if (r <= 0) return ids[k];
  }
  return ids[order[order.length - 1]];
}
