/** A small least-recently-used map (Map keeps insertion order; a hit re-inserts). */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly capacity: number) {
    if (capacity < 1) throw new RangeError('LRU capacity must be at least 1');
  }
  get size(): number {
    return this.map.size;
  }
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }
  delete(key: K): boolean {
    return this.map.delete(key);
  }
  /** Least recently used first, without touching recency. */
  oldest(): [K, V] | undefined {
    return this.map.entries().next().value;
  }
  /** Most recent first, without touching recency. */
  *entries(): IterableIterator<[K, V]> {
    yield* [...this.map.entries()].reverse();
  }
  clear(): void {
    this.map.clear();
  }
}

/** A point in a document: the cursor's offset and the bounded window of text around it. */
export interface CursorWindow {
  /** Cursor offset in the whole document. */
  readonly offset: number;
  /** Text before the cursor (a window's tail of it, or all of it). */
  readonly prefix: string;
  /** Text after the cursor (a window's head of it, or all of it). */
  readonly suffix: string;
}

/** The longest run of typing a cached or running completion is reused across. */
export const MAX_TYPED = 1024;

/**
 * What the user typed between `from` and `to` (the same document), when `to` is `from` plus typing at the
 * cursor: the text around both agrees where their windows overlap. Windows slide with the cursor, so
 * they are compared by document offset, never by `startsWith` on their starts.
 */
export function typedBetween(from: CursorWindow, to: CursorWindow): string | undefined {
  const n = to.offset - from.offset;
  if (n < 0 || n > MAX_TYPED || n > to.prefix.length) return undefined;
  const before = to.prefix.slice(0, to.prefix.length - n);
  const overlap = Math.min(before.length, from.prefix.length);
  if (before.slice(before.length - overlap) !== from.prefix.slice(from.prefix.length - overlap)) return undefined;
  const after = Math.min(to.suffix.length, from.suffix.length);
  if (to.suffix.slice(0, after) !== from.suffix.slice(0, after)) return undefined;
  return to.prefix.slice(to.prefix.length - n);
}

export interface CachedCompletion extends CursorWindow {
  readonly documentKey: string;
  /** Alternatives, best first (postprocessed; never empty strings). */
  readonly texts: readonly string[];
}

/**
 * When the user has typed `typed` since a completion was made at `prefix`, what is left of `text`?
 * undefined when the typing diverged from the prediction or consumed all of it.
 */
export function remainderAfterTyping(text: string, typed: string): string | undefined {
  if (!text.startsWith(typed)) return undefined;
  const rest = text.slice(typed.length);
  return rest.trim() === '' ? undefined : rest;
}

/** 53-bit string hash (cyrb53): cache keys without keeping the text they were made from. */
export function hashText(s: string): number {
  let h1 = 0xdeadbeef ^ s.length;
  let h2 = 0x41c6ce57 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Characters of context either side of the cursor that key an entry (hashed, not kept). */
export const KEY_CONTEXT_CHARS = 1024;
const MAX_TEXT_CHARS = 4096;
const ENTRY_OVERHEAD_BYTES = 128;

interface Entry {
  readonly documentKey: string;
  readonly offset: number;
  readonly prefixHash: number;
  readonly prefixLength: number;
  readonly suffixHash: number;
  readonly texts: readonly string[];
  readonly bytes: number;
}

export interface CompletionCacheLimits {
  /** Most entries (default 64). */
  readonly entries?: number;
  /** Most bytes of completion text over all entries (UTF-16, default 1 MiB). */
  readonly bytes?: number;
}

/**
 * Recent completions, looked up by position: an entry made at offset O applies to a request at O + n
 * (same document, same text around the cursor) when the user typed the start of the completion. Entries
 * keep hashes of a bounded window around their cursor and their (capped) texts, never the document.
 */
export class CompletionCache {
  private readonly lru: LruMap<string, Entry>;
  private readonly maxBytes: number;
  private usedBytes = 0;

  constructor(limits: CompletionCacheLimits | number = {}) {
    const l = typeof limits === 'number' ? { entries: limits } : limits;
    this.lru = new LruMap(l.entries ?? 64);
    this.maxBytes = l.bytes ?? 1024 * 1024;
  }

  put(entry: CachedCompletion): void {
    const texts = entry.texts.filter((t) => t.length > 0).map((t) => t.slice(0, MAX_TEXT_CHARS));
    if (texts.length === 0) return;
    const context = entry.prefix.slice(-KEY_CONTEXT_CHARS);
    const e: Entry = {
      documentKey: entry.documentKey,
      offset: entry.offset,
      prefixHash: hashText(context),
      prefixLength: context.length,
      suffixHash: hashText(entry.suffix.slice(0, KEY_CONTEXT_CHARS)),
      texts,
      bytes: ENTRY_OVERHEAD_BYTES + 2 * (entry.documentKey.length + texts.reduce((n, t) => n + t.length, 0)),
    };
    if (e.bytes > this.maxBytes) return;
    const key = `${e.documentKey}\u0000${e.offset}\u0000${e.prefixHash}`;
    this.remove(key);
    const before = this.lru.size;
    this.lru.set(key, e);
    this.usedBytes += e.bytes;
    // LruMap dropped its oldest when over capacity; recount rather than track it through the map.
    if (this.lru.size <= before) this.recount();
    while (this.usedBytes > this.maxBytes) {
      const oldest = this.lru.oldest();
      if (!oldest) break;
      this.remove(oldest[0]);
    }
  }

  /** Remaining completion texts for a request at `at`, most recent matching entry first. */
  lookup(documentKey: string, at: CursorWindow): string[] | undefined {
    const suffixHash = hashText(at.suffix.slice(0, KEY_CONTEXT_CHARS));
    const prefixHashes = new Map<number, { hash: number; length: number }>();
    const contextBefore = (n: number): { hash: number; length: number } => {
      let h = prefixHashes.get(n);
      if (!h) {
        const context = at.prefix.slice(Math.max(0, at.prefix.length - n - KEY_CONTEXT_CHARS), at.prefix.length - n);
        h = { hash: hashText(context), length: context.length };
        prefixHashes.set(n, h);
      }
      return h;
    };
    for (const [key, e] of this.lru.entries()) {
      const n = at.offset - e.offset;
      if (e.documentKey !== documentKey || e.suffixHash !== suffixHash || n < 0 || n > MAX_TYPED || n > at.prefix.length) continue;
      const before = contextBefore(n);
      if (before.hash !== e.prefixHash || before.length !== e.prefixLength) continue;
      const typed = at.prefix.slice(at.prefix.length - n);
      const rest = e.texts.map((t) => remainderAfterTyping(t, typed)).filter((t): t is string => t !== undefined);
      if (rest.length > 0) {
        this.lru.get(key);
        return rest;
      }
    }
    return undefined;
  }

  get size(): number {
    return this.lru.size;
  }

  /** Bytes the entries hold (their texts and a fixed overhead each). */
  get bytes(): number {
    return this.usedBytes;
  }

  clear(): void {
    this.lru.clear();
    this.usedBytes = 0;
  }

  private remove(key: string): void {
    const e = this.lru.get(key);
    if (!e) return;
    this.lru.delete(key);
    this.usedBytes -= e.bytes;
  }

  private recount(): void {
    let n = 0;
    for (const [, e] of this.lru.entries()) n += e.bytes;
    this.usedBytes = n;
  }
}
