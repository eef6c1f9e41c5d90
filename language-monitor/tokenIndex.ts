// A per-tokenizer index of every token's bytes, built once, so that a mask costs work proportional to
// the legal identifiers, not to the vocabulary. Tokens are indexed as raw bytes (byte-level BPE tokens
// may split a UTF-8 character; byte-exact matching handles them without decoding). Special tokens
// have no bytes and never appear in the index, so they are never legal while a monitor constrains.
import type { TextTokenizer } from '../model/types.js';

/**
 * A byte trie over the vocabulary in compressed-row form. Nodes are numbered so that the tokens in a
 * node's subtree are a contiguous range of `sortedIds` ([rangeLo, rangeHi)), which lets a mask admit a
 * whole subtree (e.g. every token that starts with `(`) by one range.
 */
export class TokenIndex {
  readonly vocabSize: number;
  /** Token ids ordered by their bytes. */
  readonly sortedIds: Int32Array;
  /** Per node: first child slot in childBytes/childNodes, and count. Children are sorted by byte. */
  readonly childStart: Int32Array;
  readonly childCount: Uint16Array;
  readonly childBytes: Uint8Array;
  readonly childNodes: Int32Array;
  /** Per node: the token id whose bytes end exactly here (-1 when none; duplicates go to `extraIds`). */
  readonly tokenAt: Int32Array;
  readonly extraIds: Map<number, number[]>;
  readonly rangeLo: Int32Array;
  readonly rangeHi: Int32Array;
  /** Bytes of every id (empty for special tokens). */
  readonly bytes: readonly Uint8Array[];
  readonly nodeCount: number;

  private static readonly cache = new WeakMap<TextTokenizer, TokenIndex>();

  /** The index for a tokenizer, built on first use and kept as long as the tokenizer lives. */
  static for(tokenizer: TextTokenizer): TokenIndex {
    let index = TokenIndex.cache.get(tokenizer);
    if (!index) {
      index = TokenIndex.build(tokenizer);
      TokenIndex.cache.set(tokenizer, index);
    }
    return index;
  }

  static build(tokenizer: TextTokenizer): TokenIndex {
    const bytes: Uint8Array[] = [];
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      bytes.push(tokenizer.specialIds.has(id) ? new Uint8Array(0) : tokenizer.tokenBytes(id));
    }
    return new TokenIndex(bytes);
  }

  constructor(bytes: Uint8Array[]) {
    this.vocabSize = bytes.length;
    this.bytes = bytes;
    const ids: number[] = [];
    for (let id = 0; id < bytes.length; id++) if (bytes[id].length > 0) ids.push(id);
    ids.sort((a, b) => Buffer.compare(bytes[a], bytes[b]) || a - b);
    this.sortedIds = Int32Array.from(ids);

    // Build a pointer trie in sorted order (so subtree ranges are contiguous), then flatten it.
    interface Node { children: Map<number, Node>; token: number; extra?: number[]; lo: number; hi: number; num: number }
    const mk = (lo: number): Node => ({ children: new Map(), token: -1, lo, hi: lo, num: -1 });
    const root = mk(0);
    ids.forEach((id, rank) => {
      let node = root;
      node.hi = rank + 1;
      for (const b of bytes[id]) {
        let child = node.children.get(b);
        if (!child) { child = mk(rank); node.children.set(b, child); }
        child.hi = rank + 1;
        node = child;
      }
      if (node.token === -1) node.token = id;
      else (node.extra ??= []).push(id);
    });
    const order: Node[] = [];
    const stack: Node[] = [root];
    while (stack.length) {
      const node = stack.pop()!;
      node.num = order.length;
      order.push(node);
      for (const child of node.children.values()) stack.push(child);
    }
    const n = order.length;
    this.nodeCount = n;
    this.childStart = new Int32Array(n);
    this.childCount = new Uint16Array(n);
    this.tokenAt = new Int32Array(n);
    this.rangeLo = new Int32Array(n);
    this.rangeHi = new Int32Array(n);
    this.extraIds = new Map();
    this.childBytes = new Uint8Array(n - 1);
    this.childNodes = new Int32Array(n - 1);
    let slot = 0;
    for (const node of order) {
      const i = node.num;
      this.tokenAt[i] = node.token;
      if (node.extra) this.extraIds.set(i, node.extra);
      this.rangeLo[i] = node.lo;
      this.rangeHi[i] = node.hi;
      this.childStart[i] = slot;
      const kids = [...node.children.entries()].sort((a, b) => a[0] - b[0]);
      this.childCount[i] = kids.length;
      for (const [b, child] of kids) {
        this.childBytes[slot] = b;
        this.childNodes[slot] = child.num;
        slot++;
      }
    }
  }

  /** Child of `node` along byte `b`, or -1. */
  child(node: number, b: number): number {
    let lo = this.childStart[node];
    let hi = lo + this.childCount[node];
    const bytes = this.childBytes;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const v = bytes[mid];
      if (v === b) return this.childNodes[mid];
      if (v < b) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  /** Node reached from the root along `bytes`, or -1. */
  walk(bytes: Uint8Array, from = 0): number {
    let node = from;
    for (let i = 0; i < bytes.length && node >= 0; i++) node = this.child(node, bytes[i]);
    return node;
  }
}
