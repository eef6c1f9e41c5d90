// Monitors as explicit state machines with the four hooks of monitor-guided decoding (Agrawal et al.):
//   pre(trigger)      should analysis run at this point?              idle -> analyzing
//   analyze(ctx)      run the static analysis (a language server query) analyzing -> constraining | done
//   maskgen(...)      which tokens are legal now (0 = no constraint)
//   update(bytes)     advance on the appended token                     constraining -> constraining | done
import type { CompletionItem } from 'vscode-languageserver-protocol';
import { CandidateSet, MaskBuilder, utf8 } from './identifierMask.js';
import type { LspClient, RequestOutcome } from './lspSession.js';
import type { ShadowDocument } from './shadowDocument.js';
import type { Trigger, TriggerKind } from './triggers.js';
import type { TokenIndex } from './tokenIndex.js';

export type MonitorState = 'idle' | 'analyzing' | 'constraining' | 'done';

/** What `analyze` may use: the session, the shadow document (already holding the generated text), a cache. */
export interface AnalysisContext {
  readonly client: LspClient;
  readonly shadow: ShadowDocument;
  /** Full text before the trigger point (document prefix + generated), for cache keys. */
  readonly textBefore: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly cache: AnswerCache;
  /** Reports one server query (ms, outcome), for statistics. */
  readonly onQuery: (ms: number, outcome: RequestOutcome | 'cached') => void;
}

export interface Monitor {
  readonly kind: TriggerKind;
  readonly state: MonitorState;
  pre(trigger: Trigger): boolean;
  analyze(ctx: AnalysisContext): Promise<void>;
  /** Computes the legal set into `mask` (allow list) or blocks directly in `logits`; returns the number
   *  of legal ids for allow lists, -1 when it blocked in place, 0 when it does not constrain this step. */
  maskgen(mask: MaskBuilder, logits: Float32Array): number;
  update(tokenBytes: Uint8Array): void;
  /** Bytes that are certain to come next (fast-forward), if any. */
  forced(): Uint8Array | undefined;
}

/** Answers cached per (uri, kind, trigger offset, text before the trigger); survives across completions. */
export class AnswerCache {
  private readonly map = new Map<string, unknown>();
  constructor(private readonly capacity = 256) {}
  get<T>(key: string): T | undefined {
    const value = this.map.get(key);
    if (value !== undefined) { this.map.delete(key); this.map.set(key, value); }
    return value as T | undefined;
  }
  set(key: string, value: unknown): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
  get size(): number { return this.map.size; }
  clear(): void { this.map.clear(); }
}

function cacheKey(kind: string, ctx: AnalysisContext, offset: number): string {
  return `${ctx.shadow.uri}\u0000${kind}\u0000${offset}\u0000${hashString(ctx.textBefore)}\u0000${hashString(ctx.shadow.base.slice(ctx.shadow.cursor, ctx.shadow.cursor + 400))}`;
}

/** FNV-1a over UTF-16 code units, two lanes (collisions only cost a wrong constraint, never a crash). */
export function hashString(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(36) + (b >>> 0).toString(36);
}

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;
const KEYWORD_KIND = 14;
const SNIPPET_KIND = 15;

/** The identifier text an item inserts, or undefined for items that insert something else (`["a-b"]`). */
export function itemIdentifier(item: CompletionItem): string | undefined {
  if (item.kind === KEYWORD_KIND || item.kind === SNIPPET_KIND) return undefined;
  const edit = item.textEdit && 'newText' in item.textEdit ? item.textEdit.newText : undefined;
  for (const text of [item.insertText, edit, item.label.replace(/\?$/, '')]) {
    if (text !== undefined && IDENTIFIER.test(text)) return text;
  }
  return undefined;
}

const WS = new Set([0x20, 0x09]);

/**
 * "The next text is one of these identifiers": dereference (`expr.`), `new`, named imports, case labels.
 * Subclasses say how to ask the server and which items count.
 */
export abstract class IdentifierMonitor implements Monitor {
  abstract readonly kind: TriggerKind;
  private _state: MonitorState = 'idle';
  protected trigger: Trigger | undefined;
  protected set: CandidateSet | undefined;
  /** Bytes appended since the trigger (leading whitespace included). */
  private emitted: number[] = [];
  private identStart = -1;

  constructor(protected readonly identByte: Uint8Array, initialIdentifier = '') {
    if (initialIdentifier) { this.emitted = [...utf8(initialIdentifier)]; this.identStart = 0; }
  }

  get state(): MonitorState { return this._state; }
  get candidates(): readonly string[] { return this.set?.identifiers ?? []; }

  pre(trigger: Trigger): boolean {
    if (trigger.kind !== this.kind || this._state !== 'idle') return false;
    this.trigger = trigger;
    this._state = 'analyzing';
    return true;
  }

  /** The items to ask for; a subclass picks the request and filters. */
  protected abstract query(ctx: AnalysisContext, trigger: Trigger): Promise<string[] | undefined>;

  async analyze(ctx: AnalysisContext): Promise<void> {
    const trigger = this.trigger!;
    const key = cacheKey(this.kind, ctx, trigger.offset);
    let identifiers = ctx.cache.get<string[]>(key);
    if (identifiers) ctx.onQuery(0, 'cached');
    else {
      identifiers = await this.query(ctx, trigger);
      if (identifiers) ctx.cache.set(key, identifiers);
    }
    if (this._state !== 'analyzing') return; // ended meanwhile
    if (!identifiers || identifiers.length === 0) { this._state = 'done'; return; }
    this.set = new CandidateSet(identifiers);
    this._state = 'constraining';
  }

  /** Whether byte `b` goes on the label whose bytes so far are `label` (else the label ended before it). */
  protected continuesLabel(label: readonly number[], b: number): boolean {
    return this.identByte[b] === 1;
  }

  private get partial(): Uint8Array {
    return this.identStart < 0 ? new Uint8Array(0) : Uint8Array.from(this.emitted.slice(this.identStart));
  }

  maskgen(mask: MaskBuilder): number {
    if (this._state !== 'constraining' || !this.set) return 0;
    const partial = this.partial;
    const node = this.set.nodeAfter(partial);
    if (node < 0) {
      this._state = 'done'; // off the legal set (it went unconstrained while the server was late)
      return 0;
    }
    // A complete identifier stays constrained for one more step: the next token must end it.
    const lead = this.trigger!.lead;
    const n = mask.compute(this.set, partial, {
      leadOpen: lead !== 'none' && this.identStart < 0,
      leadRequired: lead === 'required' && this.emitted.length === 0,
      escape: this.trigger!.escape === true && this.emitted.length === 0,
    });
    if (n === 0) this._state = 'done';
    return n;
  }

  update(tokenBytes: Uint8Array): void {
    if (this._state === 'done' || this._state === 'idle') return;
    const lead = this.trigger?.lead ?? 'none';
    for (const b of tokenBytes) {
      const pos = this.emitted.length;
      this.emitted.push(b);
      if (this.identStart < 0) {
        if (lead !== 'none' && WS.has(b)) continue;
        if (!this.continuesLabel([], b)) { this._state = 'done'; return; }
        if (this.trigger?.escape && pos === 0) { this._state = 'done'; return; } // `newValue`, not `new X`
        this.identStart = pos;
        continue;
      }
      if (!this.continuesLabel(this.emitted.slice(this.identStart, -1), b)) { this._state = 'done'; return; } // label ended with a break byte
    }
  }

  forced(): Uint8Array | undefined {
    if (this._state !== 'constraining' || !this.set) return undefined;
    if (this.identStart < 0 && this.trigger!.lead !== 'none') return undefined; // whitespace is the model's choice
    const node = this.set.nodeAfter(this.partial);
    if (node < 0) return undefined;
    const rest = this.set.uniqueRemainder(node);
    return rest && rest.length > 0 ? rest : undefined;
  }
}

async function completionIdentifiers(ctx: AnalysisContext, offset: number, keep: (item: CompletionItem) => boolean): Promise<string[] | undefined> {
  const answer = await ctx.client.completion(ctx.shadow.uri, ctx.shadow.positionAt(offset), ctx.timeoutMs, ctx.signal);
  ctx.onQuery(answer.ms, answer.outcome);
  if (!answer.items) return undefined;
  const out: string[] = [];
  for (const item of answer.items) {
    if (!keep(item)) continue;
    const id = itemIdentifier(item);
    if (id) out.push(id);
  }
  return out;
}

/** `expr.` — members of the receiver. */
export class DereferenceMonitor extends IdentifierMonitor {
  readonly kind = 'dereference' as const;
  protected query(ctx: AnalysisContext, trigger: Trigger): Promise<string[] | undefined> {
    return completionIdentifiers(ctx, trigger.offset, () => true);
  }
}

// LSP CompletionItemKind values.
const CLASS = 7, MODULE = 9, VARIABLE = 6, CONSTANT = 21, CONSTRUCTOR = 4;
/** `GRUNDLE_LIMIT`: a constant's name, not a constructor's (`URL` has no underscore and stays). */
const SCREAMING_CASE = /^[A-Z0-9]+_[A-Z0-9_]*$/;

/** `new ` — names that can be constructed: classes, namespaces holding them, and capitalized values
 *  (the lib declares `Map`, `Promise`... as `var X: XConstructor`). */
export class NewMonitor extends IdentifierMonitor {
  readonly kind = 'new' as const;
  protected query(ctx: AnalysisContext, trigger: Trigger): Promise<string[] | undefined> {
    return completionIdentifiers(ctx, trigger.offset + (trigger.queryInsert?.length ?? 0), (item) =>
      item.kind === CLASS || item.kind === MODULE || item.kind === CONSTRUCTOR
      || ((item.kind === VARIABLE || item.kind === CONSTANT) && /^[A-Z]/.test(item.label) && !SCREAMING_CASE.test(item.label)));
  }
}

/** `import { | } from 'm'` / `from m import |` — exports of m. */
export class NamedImportMonitor extends IdentifierMonitor {
  readonly kind = 'namedImport' as const;
  protected query(ctx: AnalysisContext, trigger: Trigger): Promise<string[] | undefined> {
    return completionIdentifiers(ctx, trigger.offset, (item) => item.label !== 'type');
  }
}

const ENUM_MEMBER = 20;
const PRIMITIVES = new Set(['string', 'number', 'boolean', 'bigint', 'symbol', 'object', 'any', 'unknown', 'never', 'undefined', 'null']);
const QUALIFIED_NAME = /^[\p{ID_Start}$_][\p{ID_Continue}$]*(?:\.[\p{ID_Start}$_][\p{ID_Continue}$]*)*$/u;

/** The type a hover names for an expression (`(parameter) shade: Shade` -> `Shade`), when it is a plain
 *  (possibly qualified) name; unions, generics and object types give undefined. */
export function hoverTypeName(hover: string): string | undefined {
  for (const line of hover.split('\n')) {
    const m = /^(?:\([\w ]+\)\s*)?(?:(?:const|let|var|readonly)\s+)?[\p{ID_Continue}$.]+\??:\s*(.+?)\s*$/u.exec(line.trim());
    if (m) return QUALIFIED_NAME.test(m[1]) && !PRIMITIVES.has(m[1]) ? m[1] : undefined;
  }
  return undefined;
}

/**
 * `case |` in a switch over an enum or a union of literals: the label is one of the subject's members not
 * yet handled, written `'literal'` / `"literal"` or `Enum.Member`. TypeScript answers a completion at
 * `case |` with every name in scope, so the monitor asks elsewhere in the shadow copy: inside a quote
 * (`case '|`, which lists the literals of a string-literal union), and otherwise at `Type.|` for the
 * enum type a hover on the subject names (which lists its members).
 */
export class CaseMonitor extends IdentifierMonitor {
  readonly kind = 'case' as const;

  protected override continuesLabel(label: readonly number[], b: number): boolean {
    if (this.set) return this.set.nodeAfter(Uint8Array.from([...label, b])) >= 0;
    // Before the answer: a label runs up to its `:` (or the end of the line).
    return b !== 0x3a && b !== 0x0a && b !== 0x3b && !(label.length === 0 && WS.has(b));
  }

  protected async query(ctx: AnalysisContext, trigger: Trigger): Promise<string[] | undefined> {
    const deadline = performance.now() + ctx.timeoutMs;
    const left = () => Math.max(1, deadline - performance.now());
    const at = trigger.offset + (trigger.queryInsert?.length ?? 0);
    const inserted = ctx.shadow.insertedText;
    const ask = async (probe: string) => {
      ctx.shadow.sync(inserted + probe);
      try {
        const answer = await ctx.client.completion(ctx.shadow.uri, ctx.shadow.positionAt(at + probe.length), left(), ctx.signal);
        ctx.onQuery(answer.ms, answer.outcome);
        return answer.items;
      } finally {
        ctx.shadow.sync(inserted);
      }
    };
    const literals = await ask("'");
    if (!literals) return undefined;
    const values = literals.map(literalValue).filter((v): v is string => v !== undefined);
    if (values.length > 0) return values.flatMap((v) => [`'${v}'`, `"${v}"`]);

    if (trigger.subjectEnd === undefined) return undefined;
    const hover = await ctx.client.hover(ctx.shadow.uri, ctx.shadow.positionAt(trigger.subjectEnd - 1), left(), ctx.signal);
    ctx.onQuery(hover.ms, hover.outcome);
    const type = hover.text === undefined ? undefined : hoverTypeName(hover.text);
    if (!type) return undefined;
    const members = await ask(`${type}.`);
    if (!members) return undefined;
    return members.filter((item) => item.kind === ENUM_MEMBER)
      .map(itemIdentifier).filter((id): id is string => id !== undefined)
      .map((id) => `${type}.${id}`);
  }
}

/** The string a literal completion inserts, when it can be written between quotes as it is. */
function literalValue(item: CompletionItem): string | undefined {
  if (item.kind === KEYWORD_KIND || item.kind === SNIPPET_KIND) return undefined;
  const edit = item.textEdit && 'newText' in item.textEdit ? item.textEdit.newText : undefined;
  const value = edit ?? item.insertText ?? item.label;
  return /^[^'"\\\n`]*$/.test(value) ? value : undefined;
}

/**
 * Argument lists: no more arguments than the callee accepts (arity from signature help; rest
 * parameters and unknown callees leave it unlimited). Blocks tokens that would add a top-level comma
 * past the last parameter; with zero parameters the list is closed at once (`)` is forced).
 */
export class ArgumentCountMonitor implements Monitor {
  readonly kind = 'arguments' as const;
  private _state: MonitorState = 'idle';
  private trigger: Trigger | undefined;
  private maxArgs = Infinity;
  /** Lexer state since the `(`: bracket depth, string quote, commas at depth 0. */
  private depth = 0;
  private quote = 0;
  private escaped = false;
  private commas = 0;
  private sawArgument = false;
  private structural: Int32Array | undefined;

  constructor(private readonly index: TokenIndex, private readonly textSinceParen = '') {}

  get state(): MonitorState { return this._state; }
  get arity(): number { return this.maxArgs; }

  pre(trigger: Trigger): boolean {
    if (trigger.kind !== 'arguments' || this._state !== 'idle') return false;
    this.trigger = trigger;
    this._state = 'analyzing';
    this.update(utf8(this.textSinceParen));
    return true;
  }

  async analyze(ctx: AnalysisContext): Promise<void> {
    const trigger = this.trigger!;
    const key = cacheKey('arguments', ctx, trigger.openParen ?? trigger.offset);
    let max = ctx.cache.get<number>(key);
    if (max !== undefined) ctx.onQuery(0, 'cached');
    else {
      const answer = await ctx.client.signatureHelp(ctx.shadow.uri, ctx.shadow.positionAt(trigger.offset), ctx.timeoutMs, ctx.signal);
      ctx.onQuery(answer.ms, answer.outcome);
      if (!answer.help || answer.help.signatures.length === 0) { this._state = 'done'; return; }
      max = 0;
      for (const sig of answer.help.signatures) {
        const params = sig.parameters ?? [];
        const rest = params.some((p) => {
          const label = typeof p.label === 'string' ? p.label : sig.label.slice(p.label[0], p.label[1]);
          return label.trimStart().startsWith('...') || label.startsWith('*');
        });
        // Python methods show `self` in some servers' labels; it is not passed explicitly.
        const count = params.filter((p) => (typeof p.label === 'string' ? p.label : sig.label.slice(p.label[0], p.label[1])) !== 'self').length;
        max = Math.max(max, rest ? Infinity : count);
      }
      ctx.cache.set(key, max);
    }
    if (this._state !== 'analyzing') return;
    this.maxArgs = max;
    this._state = max === Infinity ? 'done' : 'constraining';
  }

  private structuralTokens(): Int32Array {
    if (!this.structural) {
      const ids: number[] = [];
      const special = new Set([...',()[]{}\'"`\\'].map((c) => c.charCodeAt(0)));
      this.index.bytes.forEach((bytes, id) => { if (bytes.some((b) => special.has(b))) ids.push(id); });
      this.structural = Int32Array.from(ids);
    }
    return this.structural;
  }

  /** Would appending these bytes add an argument past the limit? Does not change state. */
  private exceeds(bytes: Uint8Array): boolean {
    let { depth, quote, escaped, commas } = this;
    for (const b of bytes) {
      if (quote) {
        if (escaped) escaped = false;
        else if (b === 0x5c) escaped = true;
        else if (b === quote) quote = 0;
        continue;
      }
      if (b === 0x22 || b === 0x27 || b === 0x60) quote = b;
      else if (b === 0x28 || b === 0x5b || b === 0x7b) depth++;
      else if (b === 0x29 || b === 0x5d || b === 0x7d) { if (--depth < 0) return false; }
      else if (b === 0x2c && depth === 0 && ++commas >= this.maxArgs) return true;
    }
    return false;
  }

  maskgen(mask: MaskBuilder, logits: Float32Array): number {
    if (this._state !== 'constraining') return 0;
    if (this.maxArgs === 0 && !this.sawArgument && this.depth === 0) {
      // Only whitespace then `)`: an allow list through the trie (whitespace chain, then `)` subtree).
      const set = new CandidateSet([')']);
      return mask.compute(set, new Uint8Array(0), { leadOpen: true });
    }
    let blocked = 0;
    for (const id of this.structuralTokens()) {
      if (this.exceeds(this.index.bytes[id])) { logits[id] = -Infinity; blocked++; }
    }
    return blocked > 0 ? -1 : 0;
  }

  update(tokenBytes: Uint8Array): void {
    if (this._state === 'done') return;
    for (const b of tokenBytes) {
      if (this.quote) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === this.quote) this.quote = 0;
        continue;
      }
      if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x29) this.sawArgument = true;
      if (b === 0x22 || b === 0x27 || b === 0x60) this.quote = b;
      else if (b === 0x28 || b === 0x5b || b === 0x7b) this.depth++;
      else if (b === 0x29 || b === 0x5d || b === 0x7d) { if (--this.depth < 0) { this._state = 'done'; return; } }
      else if (b === 0x2c && this.depth === 0) this.commas++;
    }
  }

  /** A callee without parameters: the list can only close, so `)` is forced (whitespace loops are
   *  likely under greedy decoding when the model wanted an argument). */
  forced(): Uint8Array | undefined {
    if (this._state !== 'constraining' || this.maxArgs !== 0 || this.sawArgument || this.depth !== 0 || this.quote) return undefined;
    return CLOSE_PAREN;
  }
}

const CLOSE_PAREN = Uint8Array.of(0x29);
