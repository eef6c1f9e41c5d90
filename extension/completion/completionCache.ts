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
  /** Most recent first, without touching recency. */
  *entries(): IterableIterator<[K, V]> {
    yield* [...this.map.entries()].reverse();
  }
  clear(): void {
    this.map.clear();
  }
}

export interface CachedCompletion {
  readonly documentKey: string;
  readonly prefix: string;
  readonly suffix: string;
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

/**
 * Recent completions, looked up by position: an entry made at prefix P applies to a request at P + typed
 * (same document, same text after the cursor) when the user typed the start of the completion.
 */
export class CompletionCache {
  private readonly lru: LruMap<string, CachedCompletion>;
  constructor(capacity = 64) {
    this.lru = new LruMap(capacity);
  }

  put(entry: CachedCompletion): void {
    if (entry.texts.length === 0) return;
    this.lru.set(`${entry.documentKey}\u0000${entry.prefix.length}\u0000${entry.prefix.slice(-256)}`, entry);
  }

  /** Remaining completion texts for a request at (prefix, suffix), most recent matching entry first. */
  lookup(documentKey: string, prefix: string, suffix: string): string[] | undefined {
    for (const [key, e] of this.lru.entries()) {
      if (e.documentKey !== documentKey || e.suffix !== suffix || !prefix.startsWith(e.prefix)) continue;
      const typed = prefix.slice(e.prefix.length);
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

  clear(): void {
    this.lru.clear();
  }
}
