// The logits processor that runs the monitors during one completion: it mirrors the generated text
// into the shadow document, detects triggers, starts the server query as soon as the trigger token is
// appended (overlapping the model's next forward pass), masks while a monitor constrains, and forces
// the rest of an identifier when only one is possible.
import type { LogitsProcessor, ProcessResult, StepContext, TextTokenizer } from '../model/types.js';
import { argmax, type MaskBuilder } from './identifierMask.js';
import type { LspClient, RequestOutcome } from './lspSession.js';
import { AnswerCache, ArgumentCountMonitor, CaseMonitor, DereferenceMonitor, NamedImportMonitor, NewMonitor, type Monitor } from './monitors.js';
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
  readonly stats: MonitorStatistics;
  readonly timeoutMs: number;
  readonly kinds: ReadonlySet<TriggerKind>;
  readonly signal?: AbortSignal;
  /** Keep statistics lists bounded. */
  readonly maxSamples?: number;
}

const IDENT_TAIL = /[\p{ID_Continue}$]+$/u;

export class MonitorProcessor implements LogitsProcessor {
  private readonly bytes: number[] = [];
  private text = '';
  private tokensSeen = 0;
  private monitor: Monitor | undefined;
  private analysis: Promise<void> | undefined;
  private analysisDeadline = 0;
  private waited = false;
  private readonly prefix: string;
  private readonly suffix: string;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private finished = false;

  constructor(private readonly deps: MonitorProcessorDeps) {
    const { shadow } = deps;
    this.prefix = shadow.base.slice(0, shadow.cursor);
    this.suffix = shadow.base.slice(shadow.cursor);
    // The cursor may already be at a trigger (`store.`) or inside an identifier after one (`store.zy`).
    const typed = IDENT_TAIL.exec(this.prefix)?.[0] ?? '';
    if (!this.tryTrigger(this.prefix, '') && typed) this.tryTrigger(this.prefix.slice(0, -typed.length), typed);
  }

  /** The monitor now running, if any (tests inspect its candidates). */
  get activeMonitor(): Monitor | undefined { return this.monitor; }
  get generatedText(): string { return this.text; }

  private tryTrigger(textBefore: string, typedIdentifier: string): boolean {
    const trigger = this.deps.detector.detect(this.deps.languageId, textBefore, typedIdentifier ? this.prefix.slice(textBefore.length) + this.suffix : this.suffix);
    if (!trigger || !this.deps.kinds.has(trigger.kind)) return false;
    const monitor = this.createMonitor(trigger, textBefore, typedIdentifier);
    if (!monitor.pre(trigger)) return false;
    this.deps.stats.triggers[trigger.kind]++;
    this.monitor = monitor;
    this.waited = false;
    const generated = textBefore.length >= this.prefix.length ? textBefore.slice(this.prefix.length) : '';
    this.deps.shadow.sync(generated + (trigger.queryInsert ?? ''));
    this.analysisDeadline = performance.now() + this.deps.timeoutMs;
    const { stats } = this.deps;
    const max = this.deps.maxSamples ?? 10_000;
    this.analysis = monitor.analyze({
      client: this.deps.client,
      shadow: this.deps.shadow,
      textBefore,
      timeoutMs: this.deps.timeoutMs,
      signal: this.deps.signal,
      cache: this.deps.cache,
      onQuery: (ms: number, outcome: RequestOutcome | 'cached') => {
        if (outcome === 'cached') { stats.cacheHits++; return; }
        stats.queries++;
        if (outcome === 'ok') { if (stats.serverMs.length < max) stats.serverMs.push(ms); }
        else if (outcome === 'timeout') stats.timeouts++;
        else if (outcome !== 'aborted') stats.failures++;
      },
    }).catch(() => undefined);
    return true;
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
    for (const b of tokenBytes) this.bytes.push(b);
    this.text = this.decoder.decode(Uint8Array.from(this.bytes)).replace(/\uFFFD+$/, '');
    if (this.monitor) {
      this.monitor.update(tokenBytes);
      if (this.monitor.state === 'done') this.monitor = undefined;
    }
    if (!this.monitor && tokenBytes.length > 0) this.tryTrigger(this.prefix + this.text, '');
  }

  process(logits: Float32Array, ctx: StepContext): void | ProcessResult | Promise<void | ProcessResult> {
    if (this.finished) return;
    // Catch up when the generator did not report tokens through onToken.
    for (let i = this.tokensSeen; i < ctx.generatedTokens.length; i++) this.onToken(ctx.generatedTokens[i]);
    if (ctx.signal.aborted) { this.finish(); return; }
    const monitor = this.monitor;
    if (!monitor) return; // the common step: synchronous, no promise
    if (monitor.state === 'analyzing' && !this.waited) {
      this.waited = true; // wait once per trigger; a late answer constrains the steps after it arrives
      const left = this.analysisDeadline - performance.now();
      if (left > 0) return this.waitThenConstrain(monitor, logits, left);
    }
    return this.constrain(monitor, logits);
  }

  private async waitThenConstrain(monitor: Monitor, logits: Float32Array, waitMs: number): Promise<void | ProcessResult> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.analysis, new Promise((r) => { timer = setTimeout(r, waitMs); })]);
    clearTimeout(timer);
    return this.constrain(monitor, logits);
  }

  private constrain(monitor: Monitor, logits: Float32Array): void | ProcessResult {
    if (this.finished) return;
    if (monitor.state !== 'constraining') {
      if (monitor.state === 'done' && this.monitor === monitor) this.monitor = undefined;
      return;
    }
    const { stats, mask } = this.deps;
    const t0 = performance.now();
    const forced = monitor.forced();
    if (forced) {
      const ids = this.tokensFor(forced);
      if (ids) {
        stats.fastForwards++;
        stats.forcedTokens += ids.length;
        stats.forwardPassesSaved += ids.length - 1;
        return { force: ids };
      }
    }
    const best = argmax(logits);
    const n = monitor.maskgen(mask, logits);
    if (n > 0) mask.apply(logits);
    if (n !== 0) {
      stats.maskedSteps++;
      if (!Number.isFinite(logits[best]) || (n > 0 && !mask.isAllowed(best))) stats.argmaxChanged++;
      if (stats.maskUs.length < (this.deps.maxSamples ?? 10_000)) stats.maskUs.push((performance.now() - t0) * 1000);
    }
    if ((monitor.state as string) === 'done' && this.monitor === monitor) this.monitor = undefined;
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

  /** Restores the user's text in the server's copy; called when the completion ends. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.monitor = undefined;
    this.deps.shadow.rollback();
  }
}
