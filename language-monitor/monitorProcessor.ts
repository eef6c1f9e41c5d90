// The logits processor that runs the monitors during one completion: it mirrors the generated text
// into the shadow document, detects triggers, starts the server query as soon as the trigger token is
// appended (overlapping the model's next forward pass), masks while monitors constrain, and forces the
// rest of an identifier when only one is possible.
//
// Monitors nest (a stack, as the joint monitors of monitor-guided decoding): a dereference inside an
// argument list (`save(store.`) runs while the argument-count monitor of `save(` stays active. Every
// active monitor sees every token (update) and constrains every step (their masks intersect); the
// innermost one may force its identifier's rest.
import { setMaxListeners } from 'node:events';
import type { LogitsProcessor, ProcessResult, StepContext, TextTokenizer } from '../model/types.js';
import { argmax, type MaskBuilder } from './identifierMask.js';
import type { RequestOutcome } from './lspSession.js';
import { ioTurn, type LspClient } from './lspSession.js';
import { AnswerCache, ArgumentCountMonitor, CaseMonitor, DereferenceMonitor, MergedDotMonitor, NamedImportMonitor, NewMonitor, type Monitor } from './monitors.js';
import type { ShadowDocument } from './shadowDocument.js';
import type { TokenIndex } from './tokenIndex.js';
import type { Trigger, TriggerDetector, TriggerKind } from './triggers.js';

export interface MonitorStatistics {
  /** Trigger points seen, by kind. */
  triggers: Record<TriggerKind, number>;
  /** Server queries sent (cache hits not included) and their outcomes. */
  queries: number;
  cacheHits: number;
  timeouts: number;
  failures: number;
  /** Milliseconds of each server query that answered. */
  serverMs: number[];
  /** Steps where a mask was applied, and how often it changed the argmax. */
  maskedSteps: number;
  argmaxChanged: number;
  /** Microseconds spent computing + applying each mask. */
  maskUs: number[];
  fastForwards: number;
  forcedTokens: number;
  /** Forward passes saved by forcing (n forced tokens share one pass). */
  forwardPassesSaved: number;
}

export function emptyStatistics(): MonitorStatistics {
  return {
    triggers: { dereference: 0, new: 0, case: 0, namedImport: 0, arguments: 0 },
    queries: 0, cacheHits: 0, timeouts: 0, failures: 0, serverMs: [],
    maskedSteps: 0, argmaxChanged: 0, maskUs: [], fastForwards: 0, forcedTokens: 0, forwardPassesSaved: 0,
  };
}

export type TriggerOutcome = 'constrained' | 'timeout' | 'no-answer' | 'unconstrained-any' | 'error';

/** One trigger of one completion (the engine's TriggerReport). */
export interface TriggerReport {
  readonly kind: TriggerKind;
  /** Legal identifiers the answer gave (for `arguments`: the most arguments accepted); 0 without one. */
  readonly candidates: number;
  /** The server's answer time (read time, see LspSession.request); 0 from the cache; null when none came. */
  readonly ms: number | null;
  readonly outcome: TriggerOutcome;
}

/** What one completion's monitoring did (the engine's MonitorReport). */
export interface MonitorReport {
  readonly triggers: readonly TriggerReport[];
  readonly maskedSteps: number;
  /** Steps where the mask changed the model's first choice. */
  readonly changed: number;
  readonly forcedTokens: number;
}

export interface MonitorProcessorDeps {
  readonly client: LspClient;
  readonly shadow: ShadowDocument;
  readonly detector: TriggerDetector;
  readonly index: TokenIndex;
  readonly mask: MaskBuilder;
  readonly identByte: Uint8Array;
  readonly tokenizer: TextTokenizer;
  readonly languageId: string;
  readonly cache: AnswerCache;
  /** Part of every cache key: changes when another document of the project was edited. */
  readonly cacheSalt?: string;
  readonly stats: MonitorStatistics;
  readonly timeoutMs: number;
  readonly kinds: ReadonlySet<TriggerKind>;
  readonly signal?: AbortSignal;
  /** Keep statistics lists bounded. */
  readonly maxSamples?: number;
}

const IDENT_TAIL = /[\p{ID_Continue}$]+$/u;
/** A token's text from its last `.` on, when the rest is (the start of) a name: `.get`, `.#count`. */
const MERGED_DOT_TAIL = /\.(#?[\p{ID_Continue}$]+)$/u;
/** Where a `.` could start a dereference: after a name or a closing bracket. */
const RECEIVER_END = /[\p{ID_Continue}$)\]]$/u;
/** Vocabularies with at least this many `.name` tokens get the pre-dot monitor (a few `._` do not). */
const MIN_MERGED_DOT_TOKENS = 8;
const DOT = 0x2e;

/** How many tokens start with `.` followed by a name byte (cached per vocabulary). */
const mergedDotCounts = new WeakMap<TokenIndex, number>();
function mergedDotTokens(index: TokenIndex, identByte: Uint8Array): number {
  let n = mergedDotCounts.get(index);
  if (n === undefined) {
    n = 0;
    for (const b of index.bytes) if (b.length > 1 && b[0] === DOT && identByte[b[1]] === 1) n++;
    mergedDotCounts.set(index, n);
  }
  return n;
}

interface Active {
  readonly monitor: Monitor;
  readonly trigger: Trigger;
  analysis: Promise<void>;
  readonly deadline: number;
  waited: boolean;
  /** A pre-dot monitor (MergedDotMonitor): not a trigger of its own in the report. */
  readonly speculative: boolean;
  readonly report: { kind: TriggerKind; candidates: number; ms: number | null; outcome: TriggerOutcome; settled: boolean; deadline: number; failure?: 'timeout' | 'error' };
}

/** A trigger whose answer has not come: a timeout once its bound passed, else no answer (yet). */
function pendingOutcome(r: Active['report'], now: number): TriggerOutcome {
  return r.failure ?? (now >= r.deadline ? 'timeout' : 'no-answer');
}

export class MonitorProcessor implements LogitsProcessor {
  private readonly bytes: number[] = [];
  private text = '';
  private tokensSeen = 0;
  private stack: Active[] = [];
  /** The `(` of every argument list monitored in this completion. */
  private readonly lists = new Set<number>();
  private readonly reports: Active['report'][] = [];
  private readonly prefix: string;
  private readonly suffix: string;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly mergedDot: boolean;
  /** Aborts this completion's requests when it ends or the caller's signal aborts. */
  private readonly requests = new AbortController();
  private readonly onCallerAbort = () => this.requests.abort();
  private finished = false;
  private maskedSteps = 0;
  private changed = 0;
  private forcedTokens = 0;

  constructor(private readonly deps: MonitorProcessorDeps) {
    const { shadow } = deps;
    this.prefix = shadow.base.slice(0, shadow.cursor);
    this.suffix = shadow.base.slice(shadow.cursor);
    this.mergedDot = deps.kinds.has('dereference') && mergedDotTokens(deps.index, deps.identByte) >= MIN_MERGED_DOT_TOKENS;
    setMaxListeners(0, this.requests.signal); // `new` resolves up to 64 items at once, each listening
    if (deps.signal?.aborted) this.requests.abort();
    else deps.signal?.addEventListener('abort', this.onCallerAbort, { once: true });
    // The cursor may be inside an argument list the document opened (`save(store.|`): its arity holds
    // for what follows the inner trigger. Started first, so it is the outer monitor of the stack.
    if (deps.kinds.has('arguments')) this.tryEnclosingArguments();
    // The cursor may already be at a trigger (`store.`) or inside an identifier after one (`store.zy`).
    const typed = IDENT_TAIL.exec(this.prefix)?.[0] ?? '';
    if (!this.tryTrigger(this.prefix, '') && !(typed && this.tryTrigger(this.prefix.slice(0, -typed.length), typed))) {
      // Or right before a `.` the model may write merged with a name (`.get`; token healing cuts
      // `store.inv` back to `store` + `.inv`): ask now, while the prompt is encoded.
      this.tryMergedDot(this.prefix);
    }
  }

  /** The innermost monitor now running, if any (tests inspect its candidates). */
  get activeMonitor(): Monitor | undefined {
    for (let i = this.stack.length - 1; i >= 0; i--) if (!this.stack[i].speculative) return this.stack[i].monitor;
    return undefined;
  }
  /** Every monitor running, outermost first. */
  get activeMonitors(): readonly Monitor[] { return this.stack.map((a) => a.monitor); }
  get generatedText(): string { return this.text; }

  /** This completion's triggers and what the monitors did to its steps. */
  report(): MonitorReport {
    const now = performance.now();
    return {
      triggers: this.reports.map((r) => ({ kind: r.kind, candidates: r.candidates, ms: r.ms, outcome: r.settled ? r.outcome : pendingOutcome(r, now) })),
      maskedSteps: this.maskedSteps,
      changed: this.changed,
      forcedTokens: this.forcedTokens,
    };
  }

  private tryTrigger(textBefore: string, typedIdentifier: string, suffix?: string): boolean {
    const after = suffix ?? (typedIdentifier ? this.prefix.slice(textBefore.length) + this.suffix : this.suffix);
    const trigger = this.deps.detector.detect(this.deps.languageId, textBefore, after);
    if (!trigger || !this.deps.kinds.has(trigger.kind)) return false;
    // A comma in an argument list already monitored is that list's, not a new one (also once its
    // monitor ended: a callee that takes any number of arguments is asked once).
    if (trigger.kind === 'arguments' && this.lists.has(trigger.openParen ?? -1)) return false;
    const monitor = this.createMonitor(trigger, textBefore, typedIdentifier);
    if (!monitor.pre(trigger)) return false;
    this.start(monitor, trigger, textBefore, trigger.queryInsert ?? '', false);
    return true;
  }

  private tryEnclosingArguments(): void {
    const trigger = this.deps.detector.enclosingArguments(this.deps.languageId, this.prefix);
    if (!trigger) return;
    const monitor = new ArgumentCountMonitor(this.deps.index, this.prefix.slice(trigger.offset));
    if (!monitor.pre(trigger) || monitor.state === 'done') return;
    this.start(monitor, trigger, this.prefix.slice(0, trigger.offset), '', false);
  }

  /** Before a possible `.`: a pre-dot monitor for the tokens that merge the dot with a name. */
  private tryMergedDot(textBefore: string): boolean {
    if (!this.mergedDot || !RECEIVER_END.test(textBefore)) return false;
    const trigger = this.deps.detector.detect(this.deps.languageId, textBefore + '.', '');
    if (trigger?.kind !== 'dereference') return false;
    const monitor = new MergedDotMonitor(this.deps.identByte, this.deps.index);
    if (!monitor.pre(trigger)) return false;
    this.start(monitor, trigger, textBefore + '.', '.', true);
    return true;
  }

  private start(monitor: Monitor, trigger: Trigger, textBefore: string, queryInsert: string, speculative: boolean): void {
    if (trigger.kind === 'arguments') this.lists.add(trigger.openParen ?? -1);
    const { stats } = this.deps;
    if (!speculative) stats.triggers[trigger.kind]++;
    const deadline = performance.now() + this.deps.timeoutMs;
    const report: Active['report'] = { kind: trigger.kind, candidates: 0, ms: null, outcome: 'no-answer', settled: false, deadline };
    if (!speculative) this.reports.push(report);
    const before = speculative ? textBefore.slice(0, -1) : textBefore;
    const generated = before.length >= this.prefix.length ? before.slice(this.prefix.length) : '';
    this.deps.shadow.sync(generated + queryInsert);
    const max = this.deps.maxSamples ?? 10_000;
    const active: Active = { monitor, trigger, analysis: Promise.resolve(), deadline, waited: false, speculative, report };
    this.stack.push(active);
    active.analysis = monitor.analyze({
      client: this.deps.client,
      shadow: this.deps.shadow,
      textBefore,
      timeoutMs: this.deps.timeoutMs,
      deadline,
      signal: this.requests.signal,
      cache: this.deps.cache,
      cacheSalt: this.deps.cacheSalt ?? '',
      onQuery: (ms: number, outcome: RequestOutcome | 'cached') => {
        if (outcome === 'cached') { stats.cacheHits++; report.ms ??= 0; return; }
        stats.queries++;
        if (outcome === 'ok') { report.ms ??= ms; if (stats.serverMs.length < max) stats.serverMs.push(ms); }
        else if (outcome === 'timeout') { stats.timeouts++; report.failure ??= 'timeout'; }
        else if (outcome === 'error' || outcome === 'garbage') { stats.failures++; report.failure ??= 'error'; }
      },
    }).catch(() => { report.failure ??= 'error'; }).finally(() => this.settle(active));
  }

  /** Records how a trigger's analysis ended. */
  private settle(active: Active): void {
    const { monitor, report } = active;
    if (report.settled) return; // the completion ended first (finish took its outcome then)
    report.settled = true;
    if (monitor.state === 'constraining' || (monitor.state === 'done' && monitor.candidateCount > 0)) {
      report.outcome = 'constrained';
      report.candidates = monitor.candidateCount;
    } else if (monitor.outcome === 'unconstrained-any') report.outcome = 'unconstrained-any';
    else report.outcome = report.failure ?? 'no-answer';
    // Argument lists are reported only when the answer constrains (or fails), not when the callee takes
    // any number of arguments (`console.log(x.|`: the server answered, nothing was there to check).
    if (report.kind === 'arguments' && report.outcome === 'no-answer') {
      const i = this.reports.indexOf(report);
      if (i >= 0) { this.reports.splice(i, 1); this.deps.stats.triggers[report.kind]--; }
    }
  }

  private createMonitor(trigger: Trigger, textBefore: string, typed: string): Monitor {
    const { identByte, index } = this.deps;
    switch (trigger.kind) {
      case 'dereference': return new DereferenceMonitor(identByte, typed);
      case 'new': return new NewMonitor(identByte, typed);
      case 'namedImport': return new NamedImportMonitor(identByte, typed);
      case 'arguments': return new ArgumentCountMonitor(index, textBefore.slice((trigger.openParen ?? trigger.offset - 1) + 1, trigger.offset));
      case 'case': return new CaseMonitor(identByte, typed);
    }
  }

  onToken(tokenId: number): void {
    if (this.finished) return;
    this.tokensSeen++;
    const tokenBytes = this.deps.index.bytes[tokenId] ?? new Uint8Array(0);
    const before = this.text;
    for (const b of tokenBytes) this.bytes.push(b);
    this.text = this.decoder.decode(Uint8Array.from(this.bytes)).replace(/\uFFFD+$/, '');
    for (const a of this.stack) a.monitor.update(tokenBytes);
    this.stack = this.stack.filter((a) => a.monitor.state !== 'done');
    if (tokenBytes.length === 0) return;
    const full = this.prefix + this.text;
    if (this.tryTrigger(full, '', this.suffix)) return;
    // A token that merges the dot with a name (`.get`) starts a dereference inside itself: monitored
    // exactly as `.` followed by `get`.
    const added = this.text.slice(before.length);
    const merged = MERGED_DOT_TAIL.exec(added);
    if (merged && this.text.startsWith(before)) {
      const typed = merged[1];
      this.tryTrigger(full.slice(0, full.length - typed.length), typed, typed + this.suffix);
    }
  }

  process(logits: Float32Array, ctx: StepContext): void | ProcessResult | Promise<void | ProcessResult> {
    if (this.finished) return;
    // Catch up when the generator did not report tokens through onToken.
    for (let i = this.tokensSeen; i < ctx.generatedTokens.length; i++) this.onToken(ctx.generatedTokens[i]);
    if (ctx.signal.aborted) { this.finish(); return; }
    const dotWanted = this.mergedDot && this.wantsMergedDot(logits);
    if (dotWanted && !this.stack.some((a) => a.speculative)) this.tryMergedDot(this.prefix + this.text);
    if (this.stack.length === 0) return; // the common step: synchronous, no promise
    // Wait once per trigger for its answer (a late answer constrains the steps after it arrives). A
    // pre-dot monitor is waited for only when the model's first choice is a `.name` token: otherwise its
    // answer cannot change a greedy choice, and waiting at every name would cost every step.
    const waiting = this.stack.filter((a) => a.monitor.state === 'analyzing' && !a.waited && (!a.speculative || dotWanted));
    if (waiting.length > 0) return this.waitThenConstrain(waiting, logits);
    return this.constrain(logits);
  }

  private wantsMergedDot(logits: Float32Array): boolean {
    const b = this.deps.index.bytes[argmax(logits)];
    return b !== undefined && b.length > 1 && b[0] === DOT && this.deps.identByte[b[1]] === 1;
  }

  private async waitThenConstrain(waiting: Active[], logits: Float32Array): Promise<void | ProcessResult> {
    for (const a of waiting) a.waited = true;
    await Promise.all(waiting.map((a) => this.wait(a)));
    return this.constrain(logits);
  }

  /**
   * Waits for one analysis. Its requests end by themselves at the trigger's deadline, judged when the
   * reply was read (LspSession.request), so a reply that reached the pipe while a forward pass blocked
   * the thread is used however long the block was. The timer here is only a backstop for a client that
   * does not end its requests; it too gives the loop an I/O turn before giving up.
   */
  private async wait(a: Active): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const backstop = new Promise<void>((resolve) => {
      timer = setTimeout(() => { void ioTurn().then(resolve); }, Math.max(0, a.deadline + this.deps.timeoutMs - performance.now()));
    });
    try {
      await Promise.race([a.analysis, backstop]);
    } finally {
      clearTimeout(timer);
    }
  }

  private constrain(logits: Float32Array): void | ProcessResult {
    if (this.finished) return;
    this.stack = this.stack.filter((a) => a.monitor.state !== 'done');
    const constraining = this.stack.filter((a) => a.monitor.state === 'constraining');
    if (constraining.length === 0) return;
    const { stats, mask } = this.deps;
    const t0 = performance.now();
    const innermost = this.stack[this.stack.length - 1];
    const forced = innermost.monitor.state === 'constraining' ? innermost.monitor.forced() : undefined;
    if (forced) {
      const ids = this.tokensFor(forced);
      if (ids) {
        stats.fastForwards++;
        stats.forcedTokens += ids.length;
        stats.forwardPassesSaved += ids.length - 1;
        this.forcedTokens += ids.length;
        return { force: ids };
      }
    }
    const best = argmax(logits);
    let masked = false;
    for (const a of constraining) {
      const n = a.monitor.maskgen(mask, logits);
      if (n > 0) mask.apply(logits);
      if (n !== 0) masked = true;
    }
    if (masked) {
      stats.maskedSteps++;
      this.maskedSteps++;
      if (!Number.isFinite(logits[best])) { stats.argmaxChanged++; this.changed++; }
      if (stats.maskUs.length < (this.deps.maxSamples ?? 10_000)) stats.maskUs.push((performance.now() - t0) * 1000);
    }
    this.stack = this.stack.filter((a) => a.monitor.state !== 'done');
  }

  /** Token ids spelling exactly these bytes, or undefined when the tokenizer cannot (then no forcing). */
  private tokensFor(bytes: Uint8Array): number[] | undefined {
    let text: string;
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { return undefined; }
    const { tokenizer, index } = this.deps;
    const ids = tokenizer.encode(text).filter((id) => !tokenizer.specialIds.has(id));
    const spelled = Buffer.concat(ids.map((id) => index.bytes[id]));
    return ids.length > 0 && Buffer.compare(spelled, Buffer.from(bytes)) === 0 ? ids : undefined;
  }

  /** Ends the completion: stops its requests and restores the user's text in the server's copy. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stack = [];
    this.deps.signal?.removeEventListener('abort', this.onCallerAbort);
    // Triggers still waiting keep the outcome they have now, not the abort's.
    const now = performance.now();
    for (const r of this.reports) if (!r.settled) { r.outcome = pendingOutcome(r, now); r.settled = true; }
    this.requests.abort(); // cancels what is still in flight ($/cancelRequest)
    this.deps.shadow.rollback();
  }
}
