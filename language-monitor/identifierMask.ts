// The token mask for "the next text is one of these identifiers". A token is legal when the identifier
// bytes so far plus the token are a prefix of a legal identifier, or complete one and go on with a byte
// that cannot continue an identifier (the rest of such a token is not constrained). Computed by walking
// the candidates' byte trie against the vocabulary's (TokenIndex), so the cost follows the candidates.
import type { TokenIndex } from './tokenIndex.js';

const encoder = new TextEncoder();

/** Bytes that continue an identifier: ASCII letters, digits, `_`, `$` where the language has it, and
 *  every byte of a multi-byte UTF-8 character (non-ASCII identifier characters are treated as letters). */
export function identifierByteTable(language: 'js' | 'python' | 'other'): Uint8Array {
  const table = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    const c = String.fromCharCode(b);
    table[b] = b >= 0x80 || /[A-Za-z0-9_]/.test(c) || (c === '$' && language !== 'python') ? 1 : 0;
  }
  return table;
}

export function languageFamily(languageId: string): 'js' | 'python' | 'other' {
  if (/^(typescript|javascript)(react)?$/.test(languageId)) return 'js';
  if (languageId === 'python') return 'python';
  return 'other';
}

/** Whitespace allowed between the trigger and the identifier. */
export type LeadRule = 'none' | 'optional' | 'required';

/** A set of legal identifiers as a byte trie. */
export class CandidateSet {
  private readonly kids: Map<number, number>[] = [new Map()];
  private readonly terminal: boolean[] = [false];
  private readonly terminals: number[] = [0];
  /** Children as flat arrays (built once after construction): the mask's inner loop iterates them. */
  private readonly childByteLists: Uint8Array[];
  private readonly childNodeLists: Int32Array[];
  readonly size: number;

  constructor(readonly identifiers: readonly string[]) {
    const unique = [...new Set(identifiers)].filter((s) => s.length > 0);
    this.size = unique.length;
    for (const id of unique) {
      const path = [0];
      let node = 0;
      for (const b of encoder.encode(id)) {
        let next = this.kids[node].get(b);
        if (next === undefined) {
          next = this.kids.length;
          this.kids.push(new Map());
          this.terminal.push(false);
          this.terminals.push(0);
          this.kids[node].set(b, next);
        }
        node = next;
        path.push(node);
      }
      if (!this.terminal[node]) {
        this.terminal[node] = true;
        for (const n of path) this.terminals[n]++;
      }
    }
    this.childByteLists = this.kids.map((m) => Uint8Array.from(m.keys()));
    this.childNodeLists = this.kids.map((m) => Int32Array.from(m.values()));
  }

  childBytes(node: number): Uint8Array { return this.childByteLists[node]; }
  childNodes(node: number): Int32Array { return this.childNodeLists[node]; }

  /** Node after these bytes, or -1 when no identifier starts with them. */
  nodeAfter(bytes: Uint8Array): number {
    let node = 0;
    for (let i = 0; i < bytes.length; i++) {
      const next = this.kids[node].get(bytes[i]);
      if (next === undefined) return -1;
      node = next;
    }
    return node;
  }

  isTerminal(node: number): boolean { return this.terminal[node]; }
  /** Number of identifiers that start with the node's bytes. */
  terminalCount(node: number): number { return this.terminals[node]; }
  children(node: number): Map<number, number> { return this.kids[node]; }

  /** When exactly one identifier extends `node`, the bytes still missing; otherwise undefined. */
  uniqueRemainder(node: number): Uint8Array | undefined {
    if (this.terminals[node] !== 1) return undefined;
    const out: number[] = [];
    while (!this.terminal[node]) {
      const [[b, next]] = this.kids[node];
      out.push(b);
      node = next;
    }
    return Uint8Array.from(out);
  }
}

/** Reusable mask buffers for one vocabulary. Not re-entrant: one per processor. */
export class MaskBuilder {
  private readonly stamp: Uint32Array;
  private generation = 0;
  private readonly ids: Int32Array;
  private saved: Float32Array;
  /** Number of legal ids after `compute`. */
  count = 0;

  /** Ids legal right after a complete identifier although they have no bytes: the special tokens, which
   *  never continue a name (EOS and the FIM end markers end the completion there). */
  private readonly endIds: Int32Array;

  constructor(readonly index: TokenIndex, private readonly identByte: Uint8Array, endIds?: Iterable<number>) {
    this.endIds = endIds ? Int32Array.from(endIds) : Int32Array.from(index.bytes.flatMap((b, id) => (b.length === 0 ? [id] : [])));
    this.stamp = new Uint32Array(index.vocabSize);
    this.ids = new Int32Array(index.vocabSize);
    this.saved = new Float32Array(1024);
  }

  private add(id: number): void {
    if (this.stamp[id] === this.generation) return;
    this.stamp[id] = this.generation;
    this.ids[this.count++] = id;
  }

  private addNode(node: number): void {
    const { index } = this;
    const t = index.tokenAt[node];
    if (t >= 0) this.add(t);
    const extra = index.extraIds.get(node);
    if (extra) for (const id of extra) this.add(id);
  }

  private addSubtree(node: number): void {
    const { sortedIds, rangeLo, rangeHi } = this.index;
    for (let r = rangeLo[node], hi = rangeHi[node]; r < hi; r++) this.add(sortedIds[r]);
  }

  /** Subtrees of `tokNode` whose first byte cannot continue an identifier. */
  private addBreakChildren(tokNode: number): void {
    const { childStart, childCount, childBytes, childNodes } = this.index;
    for (let s = childStart[tokNode], e = s + childCount[tokNode]; s < e; s++) {
      if (!this.identByte[childBytes[s]]) this.addSubtree(childNodes[s]);
    }
  }

  private intersect(set: CandidateSet, candNode: number, tokNode: number, atStart: boolean): void {
    if (!atStart) this.addNode(tokNode);
    if (set.isTerminal(candNode)) this.addBreakChildren(tokNode);
    const bytes = set.childBytes(candNode);
    const nodes = set.childNodes(candNode);
    for (let i = 0; i < bytes.length; i++) {
      const tn = this.index.child(tokNode, bytes[i]);
      if (tn >= 0) this.intersect(set, nodes[i], tn, false);
    }
  }

  /**
   * Legal tokens after `partial` (the identifier bytes emitted since the trigger, leading whitespace
   * removed). `leadOpen`: whitespace may still come before the identifier; `leadRequired`: it must.
   * `escape`: tokens starting an unrelated identifier are also allowed (e.g. `newValue` after `new`).
   * Returns the number of legal ids (0 = no constraint applies).
   */
  compute(set: CandidateSet, partial: Uint8Array, opts: { leadOpen?: boolean; leadRequired?: boolean; escape?: boolean } = {}): number {
    this.generation++;
    if (this.generation === 0xffffffff) { this.stamp.fill(0); this.generation = 1; }
    this.count = 0;
    const candNode = set.nodeAfter(partial);
    if (candNode < 0) return 0;
    const index = this.index;
    if (!opts.leadRequired) this.intersect(set, candNode, 0, true);
    if (set.isTerminal(candNode)) for (const id of this.endIds) this.add(id);
    if (partial.length === 0 && (opts.leadOpen || opts.leadRequired)) {
      // Tokens made of whitespace, then a prefix of an identifier: " Foo", "  ", "\tBar".
      const stack = [0];
      while (stack.length) {
        const from = stack.pop()!;
        for (const ws of [0x20, 0x09]) {
          const node = index.child(from, ws);
          if (node < 0) continue;
          this.intersect(set, 0, node, false);
          stack.push(node);
        }
      }
    }
    if (opts.escape && partial.length === 0) {
      const { childStart, childCount, childBytes, childNodes } = index;
      for (let s = childStart[0], e = s + childCount[0]; s < e; s++) {
        if (this.identByte[childBytes[s]]) this.addSubtree(childNodes[s]);
      }
    }
    return this.count;
  }

  /**
   * Legal tokens among those whose bytes start with the vocabulary trie node `tokNode`'s bytes (e.g. the
   * `.` node): the bytes after that start must lead to an identifier of `set`, as `compute` would demand
   * of a token right after those bytes. Returns the number of legal ids.
   */
  computeUnder(set: CandidateSet, tokNode: number): number {
    this.generation++;
    if (this.generation === 0xffffffff) { this.stamp.fill(0); this.generation = 1; }
    this.count = 0;
    this.intersect(set, 0, tokNode, true);
    return this.count;
  }

  isAllowed(id: number): boolean { return this.stamp[id] === this.generation; }

  allowedIds(): Int32Array { return this.ids.subarray(0, this.count); }

  /** Sets every illegal logit to -Infinity (keeps the legal ones). No-op when nothing is legal. */
  apply(logits: Float32Array): void {
    const n = this.count;
    if (n === 0) return;
    if (this.saved.length < n) this.saved = new Float32Array(Math.max(n, this.saved.length * 2));
    const ids = this.ids;
    const saved = this.saved;
    for (let i = 0; i < n; i++) saved[i] = logits[ids[i]];
    logits.fill(-Infinity);
    for (let i = 0; i < n; i++) logits[ids[i]] = saved[i];
  }
}

/** Index of the largest logit (first on ties). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > bestValue) { bestValue = v; best = i; }
  }
  return best;
}

export function utf8(text: string): Uint8Array { return encoder.encode(text); }
