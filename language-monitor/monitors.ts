// Monitors as explicit state machines with the four hooks of monitor-guided decoding (Agrawal et al.):
//   pre(trigger)      should analysis run at this point?              idle -> analyzing
//   analyze(ctx)      run the static analysis (a language server query) analyzing -> constraining | done
//   maskgen(...)      which tokens are legal now (0 = no constraint)
//   update(bytes)     advance on the appended token                     constraining -> constraining | done
import type { CompletionItem } from 'vscode-languageserver-protocol';
import { CandidateSet, identifierByteTable, MaskBuilder, utf8 } from './identifierMask.js';
import type { LspClient, RequestOutcome } from './lspSession.js';
import type { ShadowDocument } from './shadowDocument.js';
import { hashString } from './textHash.js';
import type { Trigger, TriggerKind } from './triggers.js';
import type { TokenIndex } from './tokenIndex.js';

export { hashString };

export type MonitorState = 'idle' | 'analyzing' | 'constraining' | 'done';

/** What `analyze` may use: the session, the shadow document (already holding the generated text), a cache. */
export interface AnalysisContext {
  readonly client: LspClient;
  readonly shadow: ShadowDocument;
  /** Full text before the trigger point (document prefix + generated), for cache keys. */
  readonly textBefore: string;
  readonly timeoutMs: number;
  /** performance.now() by which the trigger's answer is due; follow-up requests get what is left. */
  readonly deadline?: number;
  readonly signal?: AbortSignal;
  readonly cache: AnswerCache;
  /** Part of every cache key: changes when another document of the project was edited. */
  readonly cacheSalt?: string;
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
  /** How many legal identifiers the answer gave (arguments: the most arguments accepted); 0 without one. */
  readonly candidateCount: number;
  /** Set when the monitor decided not to constrain although the server answered. */
  readonly outcome?: MonitorOutcome;
}

/**
 * Answers cached per (uri, kind, trigger offset, the whole text around the trigger, edits to the project's
 * other documents); survives across completions. The text after the trigger counts whole (an edit
 * anywhere in the file can change a type), except the identifier typed right after it, so that typing
 * `store.ge` after `store.g` reuses the answer; an edit to another document (a member added to a class
 * there) changes the salt and so every key.
 */
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
  return `${ctx.shadow.uri}\u0000${kind}\u0000${offset}\u0000${ctx.cacheSalt ?? ''}\u0000${hashString(ctx.textBefore)}\u0000${ctx.shadow.suffixHash}`;
}

/** What is left of the trigger's bound for a follow-up request (the whole bound without a deadline). */
function remaining(ctx: AnalysisContext): number {
  return ctx.deadline === undefined ? ctx.timeoutMs : ctx.deadline - performance.now();
}

/** A name as it is written after the trigger: an identifier, or an ECMAScript private name (`#count`). */
const IDENTIFIER = /^#?[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;
const TEXT_KIND = 1;
const KEYWORD_KIND = 14;
const SNIPPET_KIND = 15;

/** The identifier text an item inserts, or undefined for items that insert something else (`["a-b"]`).
 *  TypeScript marks members that need optional chaining by inserting `?.name` over the typed `.`; they are
 *  not legal after a plain `.`. typescript-language-server's edits replace the `.` too (`.name`, `.#name`). */
export function itemIdentifier(item: CompletionItem): string | undefined {
  if (item.kind === KEYWORD_KIND || item.kind === SNIPPET_KIND) return undefined;
  const te = item.textEdit;
  const range = te ? ('range' in te ? te.range : te.insert) : undefined;
  // How much typed text the edit replaces: 1 is the `.`, 2 a `?.` the user already wrote.
  const width = range && range.start.line === range.end.line ? range.end.character - range.start.character : 0;
  let edit = te?.newText;
  const chained = edit?.startsWith('?.') === true && width >= 2;
  if ((edit?.startsWith('?.') || item.insertText?.startsWith('?.')) && !chained) return undefined;
  if (edit !== undefined) edit = edit.slice(chained ? 2 : edit.startsWith('.') ? 1 : 0);
  for (const text of [item.insertText, edit, item.label.replace(/\?$/, '')]) {
    if (text !== undefined && IDENTIFIER.test(text)) return text;
  }
  return undefined;
}

/** Why a monitor chose not to constrain, when that was its own decision (read by the trigger report). */
export type MonitorOutcome = 'unconstrained-any';

const WS = new Set([0x20, 0x09]);
const HASH = 0x23;

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
  /** Set when the monitor decided not to constrain although the server answered (see MonitorOutcome). */
  outcome: MonitorOutcome | undefined;

  constructor(protected readonly identByte: Uint8Array, initialIdentifier = '') {
    if (initialIdentifier) { this.emitted = [...utf8(initialIdentifier)]; this.identStart = 0; }
  }

  get state(): MonitorState { return this._state; }
  get candidates(): readonly string[] { return this.set?.identifiers ?? []; }
  get candidateCount(): number { return this.set?.size ?? 0; }
  /** The legal set once the answer came (the pre-dot monitor masks with it). */
  get candidateSet(): CandidateSet | undefined { return this.set; }

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
    const cached = ctx.cache.get<{ identifiers: string[]; outcome?: MonitorOutcome }>(key);
    let identifiers: string[] | undefined;
    if (cached) {
      ctx.onQuery(0, 'cached');
      ({ identifiers, outcome: this.outcome } = cached);
    } else {
      identifiers = await this.query(ctx, trigger);
      if (identifiers) ctx.cache.set(key, { identifiers, outcome: this.outcome });
    }
    if (this._state !== 'analyzing') return; // ended meanwhile
    if (!identifiers || identifiers.length === 0) { this._state = 'done'; return; }
    this.set = new CandidateSet(identifiers);
    this._state = 'constraining';
  }

  /** Whether byte `b` goes on the label whose bytes so far are `label` (else the label ended before it). */
  protected continuesLabel(label: readonly number[], b: number): boolean {
    return this.identByte[b] === 1 || (b === HASH && label.length === 0 && this.trigger?.privateNames === true);
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

/**
 * `expr.` — members of the receiver. In JavaScript both TypeScript servers append the file's words as
 * plain-text items (kind Text) to every member list; they are not members. When they are all there is
 * (an `any` receiver: `JSON.parse(s).`), nothing is known about the members and the trigger is left
 * unconstrained (outcome `unconstrained-any`).
 */
export class DereferenceMonitor extends IdentifierMonitor {
  readonly kind = 'dereference' as const;
  protected async query(ctx: AnalysisContext, trigger: Trigger): Promise<string[] | undefined> {
    const answer = await ctx.client.completion(ctx.shadow.uri, ctx.shadow.positionAt(trigger.offset), ctx.timeoutMs, ctx.signal);
    ctx.onQuery(answer.ms, answer.outcome);
    if (!answer.items) return undefined;
    let words = 0;
    const members: string[] = [];
    for (const item of answer.items) {
      if (item.kind === TEXT_KIND) { words++; continue; }
      const id = itemIdentifier(item);
      if (id) members.push(id);
    }
    if (members.length === 0 && words > 0) this.outcome = 'unconstrained-any';
    else if (answer.items.length === 0 && trigger.offset >= 2 && remaining(ctx) > 0) {
      // TypeScript files: an `any` receiver gets no items at all; the hover on the receiver says why.
      const hover = await ctx.client.hover(ctx.shadow.uri, ctx.shadow.positionAt(trigger.offset - 2), remaining(ctx), ctx.signal);
      ctx.onQuery(hover.ms, hover.outcome);
      if (hover.text !== undefined && /:\s*any\s*(?:$|\n|`)/.test(hover.text)) this.outcome = 'unconstrained-any';
    }
    return members;
  }
}

/**
 * Right before a possible `.`, for vocabularies that merge the dot with names (`.get`, `.length`): the
 * members the receiver would have after the `.` decide which `.name` tokens are legal, exactly as they
 * decide which tokens may follow a plain `.` (the token's bytes after the dot must lead to a member).
 * Every other token is left alone, the `.` token too (the dereference trigger after it takes over).
 * It asks as if the `.` were there (the same question, and cache key, as that trigger's) and ends with
 * the next token; a `.name` token then starts the dereference monitor with `name` already typed.
 */
export class MergedDotMonitor implements Monitor {
  readonly kind = 'dereference' as const;
  private readonly inner: DereferenceMonitor;
  private ended = false;

  constructor(identByte: Uint8Array, private readonly index: TokenIndex) {
    this.inner = new DereferenceMonitor(identByte);
  }

  get state(): MonitorState { return this.ended ? 'done' : this.inner.state; }
  get candidates(): readonly string[] { return this.inner.candidates; }
  get candidateCount(): number { return this.inner.candidateCount; }
  get outcome(): MonitorOutcome | undefined { return this.inner.outcome; }

  pre(trigger: Trigger): boolean { return this.inner.pre(trigger); }
  analyze(ctx: AnalysisContext): Promise<void> { return this.inner.analyze(ctx); }

  maskgen(mask: MaskBuilder, logits: Float32Array): number {
    const set = this.inner.candidateSet;
    if (this.state !== 'constraining' || !set) return 0;
    const dot = this.index.child(0, 0x2e);
    if (dot < 0) return 0;
    mask.computeUnder(set, dot);
    const { sortedIds, rangeLo, rangeHi, tokenAt } = this.index;
    const plainDot = tokenAt[dot];
    let blocked = 0;
    for (let r = rangeLo[dot], hi = rangeHi[dot]; r < hi; r++) {
      const id = sortedIds[r];
      if (id === plainDot || mask.isAllowed(id) || logits[id] === -Infinity) continue;
      logits[id] = -Infinity;
      blocked++;
    }
    return blocked > 0 ? -1 : 0;
  }

  update(): void { this.ended = true; }
  forced(): Uint8Array | undefined { return undefined; }
}

// LSP CompletionItemKind values.
const CLASS = 7, MODULE = 9, VARIABLE = 6, CONSTANT = 21, CONSTRUCTOR = 4;
/** `GRUNDLE_LIMIT`: a constant's name, not a constructor's (`URL` has no underscore and stays). */
const SCREAMING_CASE = /^[A-Z0-9]+_[A-Z0-9_]*$/;
/** TypeScript's sort text for globals (lib declarations): the same symbol in every file of a project. */
const GLOBAL_SORT = '15';
/** Resolves sent at once: the server answers them in order, so a later trigger waits behind at most one batch. */
const RESOLVE_BATCH = 64;

/** Whether an item comes from a module the file does not import yet (an auto-import suggestion). */
export function isAutoImport(item: CompletionItem): boolean {
  const data = item.data as Record<string, unknown> | null | undefined;
  return (typeof data === 'object' && data !== null && (data.autoImport !== undefined || typeof data.source === 'string'))
    || item.labelDetails?.description !== undefined || (item.additionalTextEdits?.length ?? 0) > 0
    || item.sortText?.startsWith('16') === true;
}

/** Whether a resolved item's detail (`var Map: MapConstructor`, `(alias) class Foo`, `var Math: Math`)
 *  shows something `new` accepts: a class, a construct signature, or a `...Constructor` interface (the lib's
 *  convention; `SymbolConstructor`, which has none, slips through). */
export function constructibleFromDetail(detail: string): boolean {
  return /(?:^|\s)class\s/.test(detail) || /\bnew\s*[<(]/.test(detail) || /:\s*(?:[\w$]+\.)*[\w$]*Constructor\b/.test(detail)
    || /:\s*typeof\s/.test(detail);
}

type Resolver = (method: string, params: unknown, timeoutMs: number, signal?: AbortSignal) => Promise<{ value: unknown; outcome: RequestOutcome }>;
/** Verdicts on globals per server session (a global is the same symbol everywhere, so it is resolved once). */
const globalVerdicts = new WeakMap<object, Map<string, boolean>>();

/**
 * `new ` — names that can be constructed and are in scope: classes, namespaces (which may hold classes),
 * and values whose type has a construct signature (`Map`, an imported class alias), told apart from
 * `Math` or `JSON` by resolving the item (its detail names the type). Auto-import suggestions are admitted
 * only when they are classes: the ghost text cannot add the import, but the name is the one the user
 * means and the missing import is a one-step quick fix, whereas excluding them would push the model onto
 * an in-scope class it did not mean. Enums, functions, interfaces and constants are never admitted.
 * Values whose verdict is not known within the bound are admitted (a wrong block is worse than a miss).
 */
export class NewMonitor extends IdentifierMonitor {
  readonly kind = 'new' as const;

  protected async query(ctx: AnalysisContext, trigger: Trigger): Promise<string[] | undefined> {
    const deadline = performance.now() + ctx.timeoutMs;
    const answer = await ctx.client.completion(ctx.shadow.uri, ctx.shadow.positionAt(trigger.offset + (trigger.queryInsert?.length ?? 0)), ctx.timeoutMs, ctx.signal);
    ctx.onQuery(answer.ms, answer.outcome);
    if (!answer.items) return undefined;
    const out: string[] = [];
    const values: { item: CompletionItem; id: string }[] = [];
    for (const item of answer.items) {
      const id = itemIdentifier(item);
      if (!id) continue;
      if (item.kind === CLASS || item.kind === CONSTRUCTOR) { out.push(id); continue; }
      if (isAutoImport(item)) continue;
      if (item.kind === MODULE) out.push(id);
      else if ((item.kind === VARIABLE || item.kind === CONSTANT) && /^[A-Z]/.test(id) && !SCREAMING_CASE.test(id)) values.push({ item, id });
    }
    const verdicts = await this.constructible(ctx, values.map((v) => v.item), deadline);
    values.forEach((v, i) => { if (verdicts[i] !== false) out.push(v.id); });
    return out;
  }

  /** true / false per item, undefined where no verdict came in time. */
  private async constructible(ctx: AnalysisContext, items: CompletionItem[], deadline: number): Promise<(boolean | undefined)[]> {
    const verdicts: (boolean | undefined)[] = new Array<boolean | undefined>(items.length);
    const client = ctx.client as unknown as { request?: Resolver };
    if (typeof client.request !== 'function') return verdicts; // a client without raw requests: admit all
    const resolve: Resolver = client.request.bind(ctx.client);
    let known = globalVerdicts.get(ctx.client);
    if (!known) { known = new Map(); globalVerdicts.set(ctx.client, known); }
    const pending: number[] = [];
    items.forEach((item, i) => {
      const global = item.sortText?.startsWith(GLOBAL_SORT) === true;
      const v = global ? known.get(item.label) : undefined;
      if (v !== undefined) verdicts[i] = v;
      else pending.push(i);
    });
    // Local names first (few, and they change), then globals.
    pending.sort((a, b) => Number(items[a].sortText?.startsWith(GLOBAL_SORT)) - Number(items[b].sortText?.startsWith(GLOBAL_SORT)));
    for (let k = 0; k < pending.length; k += RESOLVE_BATCH) {
      const left = deadline - performance.now();
      if (left <= 0 || ctx.signal?.aborted) break;
      await Promise.all(pending.slice(k, k + RESOLVE_BATCH).map(async (i) => {
        const answer = await resolve('completionItem/resolve', items[i], left, ctx.signal);
        const detail = (answer.value as CompletionItem | null | undefined)?.detail;
        if (answer.outcome !== 'ok' || typeof detail !== 'string') return;
        verdicts[i] = constructibleFromDetail(detail);
        if (items[i].sortText?.startsWith(GLOBAL_SORT)) known.set(items[i].label, verdicts[i]!);
      }));
    }
    return verdicts;
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

const enum Mode { Code, Quote, Template, LineComment, BlockComment }
/** Stack entry for `${` inside a template literal (its `}` returns to the template). */
const TEMPLATE_EXPR = 1;
const LT = 0x3c;

/**
 * Where the text of an argument list stands: bracket nesting (`(`, `[`, `{`, type arguments `<...>`,
 * template `${`), strings, template literals and comments, so that only a comma at the list's own level
 * counts as an argument separator. `<` opens type arguments only right after a name (`Map<`, `f<`): a
 * comparison with no space before it (`a<b, c`) then hides a separator, which errs toward allowing.
 */
export class ArgumentLexer {
  private stack: number[] = [];
  private mode = Mode.Code;
  private quote = 0;
  private escaped = false;
  private prev = 0;
  /** Top-level commas so far; `closed` once the list's own `)` came. */
  commas = 0;
  closed = false;
  sawArgument = false;
  /** The argument after the last top-level comma has text; some argument is a spread (`...xs`). */
  private current = false;
  spread = false;

  constructor(private readonly python: boolean, private readonly identByte: Uint8Array) {}

  get depth(): number { return this.stack.length; }
  get inString(): boolean { return this.mode !== Mode.Code; }

  clone(): ArgumentLexer {
    const c = new ArgumentLexer(this.python, this.identByte);
    c.stack = this.stack.slice();
    c.mode = this.mode; c.quote = this.quote; c.escaped = this.escaped; c.prev = this.prev;
    c.commas = this.commas; c.closed = this.closed; c.sawArgument = this.sawArgument;
    c.current = this.current; c.spread = this.spread;
    return c;
  }

  /** Arguments written so far (a trailing comma adds none). */
  get args(): number { return this.commas + (this.current ? 1 : 0); }

  /** Feeds one byte; returns true when it was a top-level comma. */
  push(b: number): boolean {
    if (this.closed) return false;
    const prev = this.prev;
    this.prev = b;
    switch (this.mode) {
      case Mode.LineComment:
        if (b === 0x0a) this.mode = Mode.Code;
        return false;
      case Mode.BlockComment:
        if (prev === 0x2a && b === 0x2f) { this.mode = Mode.Code; this.prev = 0; }
        return false;
      case Mode.Quote:
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === this.quote || b === 0x0a) this.mode = Mode.Code;
        return false;
      case Mode.Template:
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x60) this.mode = Mode.Code;
        else if (prev === 0x24 && b === 0x7b) { this.stack.push(TEMPLATE_EXPR); this.mode = Mode.Code; }
        return false;
      case Mode.Code:
        break;
    }
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x29 && this.stack.length === 0) {
      this.sawArgument = true;
      if (!this.current && b === 0x2e) this.spread = true;
      this.current = true;
    }
    const top = this.stack[this.stack.length - 1];
    if (this.python ? b === 0x23 : prev === 0x2f && b === 0x2f) { this.mode = Mode.LineComment; return false; }
    if (!this.python && prev === 0x2f && b === 0x2a) { this.mode = Mode.BlockComment; this.prev = 0; return false; }
    if (b === 0x22 || b === 0x27) { this.mode = Mode.Quote; this.quote = b; return false; }
    if (b === 0x60 && !this.python) { this.mode = Mode.Template; return false; }
    if (b === 0x28 || b === 0x5b || b === 0x7b) { this.stack.push(b); return false; }
    if (b === LT && !this.python && this.identByte[prev] === 1) { this.stack.push(LT); return false; }
    if (b === 0x3e && top === LT && prev !== 0x3d) { this.stack.pop(); return false; }
    if (b === 0x29 || b === 0x5d || b === 0x7d) {
      while (this.stack[this.stack.length - 1] === LT) this.stack.pop(); // comparisons, not type arguments
      if (this.stack.length === 0) { this.closed = true; return false; }
      if (this.stack.pop() === TEMPLATE_EXPR) this.mode = Mode.Template;
      return false;
    }
    if (b === 0x2c && this.stack.length === 0) { this.commas++; this.current = false; return true; }
    return false;
  }
}

/** A parameter the caller must pass (a signature-help label): not `name?: T`, not `...rest` /
 *  `*args` / `**kw`, no default (`x = 1`, `x: int = 1`; the `=` of a type's `=>` or `==` is not one). */
export function requiredParameter(label: string): boolean {
  const l = label.trim();
  if (l.startsWith('...') || l.startsWith('*') || l === '/' || /(?<![=!<>])=(?![=>])/.test(l)) return false;
  return !/^(?:[\p{ID_Continue}$]+|\{.*\}|\[.*\])\?\s*:/su.test(l);
}

/**
 * Argument lists: as many arguments as the callee takes (arity from signature help, over all its
 * overloads). Blocks tokens that would add a top-level comma past the last parameter (rest parameters
 * and unknown callees leave it unlimited) and tokens whose `)` would close the list before every
 * required parameter has an argument (a spread argument may fill any number); with zero parameters the
 * list is closed at once (`)` is forced).
 */
export class ArgumentCountMonitor implements Monitor {
  readonly kind = 'arguments' as const;
  private _state: MonitorState = 'idle';
  private trigger: Trigger | undefined;
  private maxArgs = Infinity;
  private minArgs = 0;
  private lexer: ArgumentLexer | undefined;
  private separatorTokens: Int32Array | undefined;

  constructor(private readonly index: TokenIndex, private readonly textSinceParen = '') {}

  get state(): MonitorState { return this._state; }
  get arity(): number { return this.maxArgs; }
  /** Arguments the callee requires (the fewest over its overloads). */
  get requiredArity(): number { return this.minArgs; }
  get candidateCount(): number { return Number.isFinite(this.maxArgs) && this._state !== 'analyzing' ? this.maxArgs : 0; }

  pre(trigger: Trigger): boolean {
    if (trigger.kind !== 'arguments' || this._state !== 'idle') return false;
    this.trigger = trigger;
    this._state = 'analyzing';
    this.lexer = new ArgumentLexer(trigger.python === true, identifierByteTable(trigger.python ? 'python' : 'js'));
    this.update(utf8(this.textSinceParen));
    return true;
  }

  async analyze(ctx: AnalysisContext): Promise<void> {
    const trigger = this.trigger!;
    const key = cacheKey('arguments', ctx, trigger.openParen ?? trigger.offset);
    let arity = ctx.cache.get<{ min: number; max: number }>(key);
    if (arity !== undefined) ctx.onQuery(0, 'cached');
    else {
      const answer = await ctx.client.signatureHelp(ctx.shadow.uri, ctx.shadow.positionAt(trigger.offset), ctx.timeoutMs, ctx.signal);
      ctx.onQuery(answer.ms, answer.outcome);
      if (!answer.help || answer.help.signatures.length === 0) {
        // A server that answered "no signature here" answers the same for the same text: kept like an
        // arity, so that the next step or completion at this list does not ask again.
        if (answer.outcome === 'ok') ctx.cache.set(key, { min: 0, max: Infinity });
        this._state = 'done';
        return;
      }
      let max = 0;
      let min = Infinity;
      for (const sig of answer.help.signatures) {
        // Python methods show `self` in some servers' labels; it is not passed explicitly.
        const labels = (sig.parameters ?? []).map((p) => (typeof p.label === 'string' ? p.label : sig.label.slice(p.label[0], p.label[1])))
          .filter((label) => label !== 'self');
        const rest = labels.some((label) => label.trimStart().startsWith('...') || label.trimStart().startsWith('*'));
        max = Math.max(max, rest ? Infinity : labels.length);
        min = Math.min(min, labels.filter(requiredParameter).length);
      }
      arity = { min, max };
      ctx.cache.set(key, arity);
    }
    if (this._state !== 'analyzing') return;
    this.maxArgs = arity.max;
    this.minArgs = arity.min;
    this._state = arity.max === Infinity && arity.min === 0 ? 'done' : 'constraining';
  }

  /** Only a token containing a comma can add an argument, only one containing `)` can close the list. */
  private tokensWithSeparator(): Int32Array {
    if (!this.separatorTokens) {
      const ids: number[] = [];
      this.index.bytes.forEach((bytes, id) => { if (bytes.includes(0x2c) || bytes.includes(0x29)) ids.push(id); });
      this.separatorTokens = Int32Array.from(ids);
    }
    return this.separatorTokens;
  }

  /** Would appending these bytes add an argument past the limit, or close the list short of the
   *  required ones? Does not change state. */
  private violates(bytes: Uint8Array): boolean {
    const lexer = this.lexer!.clone();
    for (const b of bytes) {
      if (lexer.push(b) && lexer.commas >= this.maxArgs) return true;
      if (lexer.closed) return lexer.args < this.minArgs && !lexer.spread;
    }
    return false;
  }

  maskgen(mask: MaskBuilder, logits: Float32Array): number {
    const lexer = this.lexer;
    if (this._state !== 'constraining' || !lexer) return 0;
    if (this.maxArgs === 0 && !lexer.sawArgument && lexer.depth === 0 && !lexer.inString) {
      // Only whitespace then `)`: an allow list through the trie (whitespace chain, then `)` subtree).
      const set = new CandidateSet([')']);
      return mask.compute(set, new Uint8Array(0), { leadOpen: true });
    }
    let blocked = 0;
    for (const id of this.tokensWithSeparator()) {
      if (this.violates(this.index.bytes[id])) { logits[id] = -Infinity; blocked++; }
    }
    return blocked > 0 ? -1 : 0;
  }

  update(tokenBytes: Uint8Array): void {
    if (this._state === 'done' || !this.lexer) return;
    for (const b of tokenBytes) {
      this.lexer.push(b);
      if (this.lexer.closed) { this._state = 'done'; return; }
    }
  }

  /** A callee without parameters: the list can only close, so `)` is forced (whitespace loops are
   *  likely under greedy decoding when the model wanted an argument). */
  forced(): Uint8Array | undefined {
    const lexer = this.lexer;
    if (this._state !== 'constraining' || !lexer || this.maxArgs !== 0 || lexer.sawArgument || lexer.depth !== 0 || lexer.inString) return undefined;
    return CLOSE_PAREN;
  }
}

const CLOSE_PAREN = Uint8Array.of(0x29);
