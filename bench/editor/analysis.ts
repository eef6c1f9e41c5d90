// Pure analysis of what the page recorded: keystroke-to-ghost-text latency, suggestions at typing
// pauses, stale ghost texts. No timing is taken here; every time comes from the page's performance.now().
import type { GhostRecord, KeyRecord } from './pageProbe.js';

export const shown = (g: GhostRecord): boolean => g.ghost.trim() !== '' || g.more.trim() !== '';

/** Nearest-rank percentile (p in 0..100) of unsorted values; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

export interface Distribution {
  n: number;
  p50?: number;
  p95?: number;
  min?: number;
  max?: number;
  mean?: number;
}

export function distribution(values: readonly number[]): Distribution {
  const r = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v));
  if (values.length === 0) return { n: 0 };
  return {
    n: values.length,
    p50: r(percentile(values, 50)),
    p95: r(percentile(values, 95)),
    min: r(Math.min(...values)),
    max: r(Math.max(...values)),
    mean: r(values.reduce((s, v) => s + v, 0) / values.length),
  };
}

/**
 * The first ghost text shown after the key press at `keyT`, within `capMs`: its delay and text, or
 * undefined (no suggestion).
 */
export function firstGhostAfter(ghosts: readonly GhostRecord[], keyT: number, capMs: number): { ms: number; record: GhostRecord } | undefined {
  const g = ghosts.find((r) => r.t > keyT && shown(r));
  return g && g.t - keyT <= capMs ? { ms: g.t - keyT, record: g } : undefined;
}

/** A typing pause: from the last key before it to the first key after it (page times). */
export interface Pause {
  readonly start: number;
  readonly end: number;
}

export interface PauseOutcome {
  readonly durationMs: number;
  /** A ghost text was on screen at some moment of the pause. */
  readonly suggested: boolean;
  /** …and still there when typing resumed. */
  readonly shownAtEnd: boolean;
  /** From the last key to the first ghost text shown in the pause. */
  readonly msToGhost?: number;
}

/** The ghost state in effect at time t: the last record at or before t. */
function stateAt(ghosts: readonly GhostRecord[], t: number): GhostRecord | undefined {
  let lo = 0;
  let hi = ghosts.length - 1;
  let found: GhostRecord | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ghosts[mid].t <= t) {
      found = ghosts[mid];
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** What each pause showed. Ghost records must be in time order (as the page records them). */
export function pauseOutcomes(pauses: readonly Pause[], ghosts: readonly GhostRecord[]): PauseOutcome[] {
  return pauses.map((p) => {
    const inside = ghosts.filter((g) => g.t > p.start && g.t < p.end);
    // No DOM change after the last key: what was on screen before it stayed.
    const seen = inside.length > 0 ? inside : [stateAt(ghosts, p.start)].filter((g): g is GhostRecord => g !== undefined);
    const first = seen.find(shown);
    const atEnd = stateAt(ghosts, p.end - 0.001);
    return {
      durationMs: Math.round(p.end - p.start),
      suggested: first !== undefined,
      shownAtEnd: atEnd !== undefined && shown(atEnd),
      msToGhost: first ? Math.max(0, Math.round(first.t - p.start)) : undefined,
    };
  });
}

export type StaleRule = 'unchanged-after-typing' | 'repeats-typed-word' | 'repeats-typed-dot';

export interface StaleGhost {
  readonly rule: StaleRule;
  readonly t: number;
  readonly before: string;
  readonly ghost: string;
  /** The earlier state the ghost text belongs to (rule unchanged-after-typing). */
  readonly earlierBefore?: string;
}

/**
 * Ghost texts that do not continue what is now before the cursor. From the page alone two signatures
 * are unambiguous:
 *  - unchanged-after-typing: the ghost text stayed on screen, unchanged, although characters were
 *    typed since (it continued the shorter line; VS Code itself would have trimmed the typed part or
 *    dropped it);
 *  - repeats-typed-word: the ghost text starts with the identifier part just typed before the cursor
 *    (`retu` + `return x`): it was made for the line before that word was typed;
 *  - repeats-typed-dot: after a typed `.` the ghost text starts with `.` (`acc.` + `.balance`).
 * Consecutive records of one stale ghost text (typing on under it) count once.
 */
export function staleGhosts(ghosts: readonly GhostRecord[]): StaleGhost[] {
  const out: StaleGhost[] = [];
  let prev: GhostRecord | undefined;
  let lastStaleGhost: string | undefined;
  for (const g of ghosts) {
    if (!shown(g)) {
      // Gone from the screen: the same text coming back after more typing may be a fresh suggestion
      // (`this.` is predicted in many places), so only a text that stayed on screen is compared.
      lastStaleGhost = undefined;
      prev = undefined;
      continue;
    }
    if (g.ghost === '') {
      prev = g; // only further lines (a suggestion starting on the next line): nothing to compare inline
      continue;
    }
    let rule: StaleRule | undefined;
    let earlierBefore: string | undefined;
    if (prev && prev.ghost === g.ghost && g.before !== prev.before && g.before.startsWith(prev.before)) {
      rule = 'unchanged-after-typing';
      earlierBefore = prev.before;
    } else {
      const word = /[A-Za-z_$][\w$]*$/.exec(g.before)?.[0];
      if (word && word.length >= 2 && g.ghost.startsWith(word)) rule = 'repeats-typed-word';
      else if (/[^.]\.$/.test(g.before) && g.ghost.startsWith('.') && !g.ghost.startsWith('..')) rule = 'repeats-typed-dot';
    }
    if (rule && lastStaleGhost !== g.ghost) out.push({ rule, t: g.t, before: g.before, ghost: g.ghost, earlierBefore });
    lastStaleGhost = rule ? g.ghost : undefined;
    prev = g;
  }
  return out;
}

/** Characters per second within words: the mean gap between consecutive character keys less than `pauseMs` apart. */
export function typingRate(keys: readonly KeyRecord[], pauseMs: number): number {
  const gaps: number[] = [];
  for (let i = 1; i < keys.length; i++) {
    const gap = keys[i].t - keys[i - 1].t;
    if (keys[i].key.length === 1 && keys[i - 1].key.length === 1 && gap < pauseMs) gaps.push(gap);
  }
  return gaps.length ? Math.round((10_000 * gaps.length) / gaps.reduce((s, g) => s + g, 0)) / 10 : 0;
}
