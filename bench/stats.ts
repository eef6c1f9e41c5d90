// Small statistics shared by the benchmark scripts.

/** The median (the mean of the two middle values for an even count); `empty` when there are none. */
export function median(xs: readonly number[], empty = Number.NaN): number {
  if (xs.length === 0) return empty;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}
