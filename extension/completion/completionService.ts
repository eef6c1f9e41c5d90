import { CompletionCache, type CompletionCacheLimits, type CursorWindow } from './completionCache.js';
import { Debouncer } from './debounce.js';
import { InflightGeneration } from './inflightGeneration.js';
import { completionFilters, isMidLine, isUseful, pipe } from './postprocess.js';
import { CompletionStats, type CompletionSource } from './stats.js';
import { silentLog, type CompletionEngine, type CompletionRequest, type CompletionSettings, type GenerateRequest, type GenerateSummary, type Log } from './types.js';

export interface CompletionResult {
  /** Up to three alternatives, best first. */
  readonly texts: readonly string[];
  readonly source: CompletionSource;
}

export interface CompletionServiceOptions {
  log?: Log;
  stats?: CompletionStats;
  /**
   * Called when more than was shown at (document, cursor offset) is ready: a streamed generation finished,
   * or a manual trigger's alternatives arrived. The host re-triggers when the cursor is still there and
   * returns whether it did.
   */
  onExtended?: (documentKey: string, offset: number) => boolean;
  /** Called when a generation starts and ends (the host measures its event loop meanwhile). */
  onGenerating?: (generating: boolean) => void;
  /** A generation failed: called once per distinct failure, again only after a generation succeeded. */
  onFailure?: (message: string, error: unknown) => void;
  /** False while the engine has no model: requests are then answered from the cache only, nothing is generated. */
  ready?: () => boolean;
  cache?: CompletionCacheLimits;
  /**
   * How long a generation whose every waiting request VS Code cancelled waits for a next request to take
   * it over (the user typed what it predicted) before it is aborted (ms, default 50).
   */
  cancelGraceMs?: number;
  /** How long a generation started at a keystroke (`speculate`) waits for the editor's request before it is aborted (ms, default 400). */
  speculationWaitMs?: number;
}

const MAX_ALTERNATIVES = 3;
/** Upper bound on waiting for a first chunk after the time budget (the engine's own maxTokens bounds the rest). */
const FIRST_TEXT_LIMIT_MS = 30_000;
/** How long a partly shown first line is watched for its end (then the generation's own end extends it). */
const FIRST_LINE_EXTEND_MS = 10_000;

interface Alternatives {
  readonly documentKey: string;
  readonly offset: number;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/**
 * debounce → reuse (cache, in-flight) → generate → postprocess, for one editor. Owns at most one running
 * generation: a request that cannot reuse it aborts it, and so does the editor cancelling every request
 * that waited on it.
 */
export class CompletionService {
  private readonly cache: CompletionCache;
  private readonly debouncer = new Debouncer();
  private current: InflightGeneration | undefined;
  /** Sampled alternatives being generated for a manual trigger (after its first suggestion was shown). */
  private alternatives: Alternatives | undefined;
  /** Document whose suggestion is being re-requested because more text arrived after it was shown. */
  private extending: string | undefined;
  /** A re-ask the user overtook by dismissing: the request it brings shows nothing. */
  private dismissedReask: string | undefined;
  private lastFailure: string | undefined;
  private readonly log: Log;
  readonly stats: CompletionStats;

  constructor(
    private readonly engine: CompletionEngine,
    private readonly settings: () => CompletionSettings,
    private readonly options: CompletionServiceOptions = {},
  ) {
    this.cache = new CompletionCache(options.cache);
    this.log = options.log ?? silentLog;
    this.stats = options.stats ?? new CompletionStats();
  }

  /** Ghost text for a request, or undefined (nothing useful, superseded, or cancelled). */
  complete(req: CompletionRequest, signal: AbortSignal): Promise<CompletionResult | undefined> {
    const started = Date.now();
    const answered = this.answer(req, signal, started);
    // Logged beside the answer, not in its path (the caller resumes exactly when the answer is ready).
    void answered.then((result) => this.log.debug(`request at ${cursorWindow(req).offset}${req.explicit ? ' (explicit)' : ''}: ${result ? `${result.source}, ${result.texts[0].length} characters` : 'nothing'} after ${Date.now() - started} ms`), () => undefined);
    return answered;
  }

  private async answer(req: CompletionRequest, signal: AbortSignal, started: number): Promise<CompletionResult | undefined> {
    const at = cursorWindow(req);
    this.stats.request();
    // Our own re-trigger after more text arrived wants that text, not a new round of alternatives. One
    // the user overtook (Escape, typing, moving: `dismissed`) shows nothing.
    const retrigger = req.explicit && this.extending === req.documentKey;
    const reaskDismissed = req.explicit && this.dismissedReask === req.documentKey;
    const explicit = req.explicit && !retrigger && !reaskDismissed;
    this.extending = undefined;
    this.dismissedReask = undefined;
    if (reaskDismissed) return undefined;
    if (signal.aborted || /^[\w$]/.test(req.suffix)) return undefined; // mid-identifier: nothing sensible to add

    const served = (texts: string[], source: CompletionSource): CompletionResult | undefined => {
      const useful = dedupe(texts.filter((t) => isUseful(t, req.suffix)));
      if (useful.length === 0) {
        this.log.debug(`nothing useful to show (${source}): ${JSON.stringify(texts)}`);
        return undefined;
      }
      const now = Date.now();
      if (retrigger) this.log.debug(`re-asked: ${source}, ${useful[0].length} characters: ${JSON.stringify(useful[0].slice(0, 80))}`);
      // Our own re-trigger answers no keystroke: it would count a near-zero wait.
      this.stats.shownAfter(source, now - started, req.requestedAt !== undefined && !retrigger ? now - req.requestedAt : undefined);
      return { texts: useful.slice(0, MAX_ALTERNATIVES), source };
    };

    // Alternatives sampled for a point the user has left are of no use any more.
    const alt = this.alternatives;
    if (alt && (alt.documentKey !== req.documentKey || alt.offset !== at.offset)) this.stopAlternatives();

    const cached = this.cache.lookup(req.documentKey, at);
    if (cached && (!explicit || cached.length > 1)) return served(cached, 'cache');
    if (cached) {
      // Manual trigger at a cached greedy completion: show it now, sample the others after.
      this.sampleAlternatives(req, at, Promise.resolve(cached[0]));
      return served(cached, 'cache');
    }

    const running = this.current;
    if (running) {
      const typed = this.joinable(running, req.documentKey, at);
      if (typed !== undefined) {
        const text = await this.streamed(running, typed, at.offset, signal, retrigger ? undefined : req.requestedAt);
        if (text === undefined) return undefined;
        if (explicit) this.sampleAlternatives(req, at, this.finalText(running, typed));
        return served([text], 'inflight');
      }
      // A re-ask for a place the generation is not at any more changes nothing.
      if (retrigger) return undefined;
      this.log.debug('typing diverged from the running generation: aborting it');
      this.abortCurrent();
    }

    // A re-ask is for text that exists (in the cache or the running generation): never a new generation.
    if (retrigger) return undefined;
    if (this.options.ready && !this.options.ready()) return undefined;
    if (!(await this.debouncer.wait(this.settings().debounceMs, signal))) return undefined;

    // A manual trigger shows the greedy suggestion as soon as it streams, like typing does; the sampled
    // alternatives follow once it has finished (the engine runs one generation at a time).
    const gen = this.start(req, at, 0);
    const text = await this.streamed(gen, '', at.offset, signal, retrigger ? undefined : req.requestedAt);
    if (text === undefined) return undefined;
    if (explicit) this.sampleAlternatives(req, at, this.finalText(gen, ''));
    return served([text], 'engine');
  }

  /**
   * The user dismissed the suggestion (Escape): stop growing it. Its generation and any alternatives are
   * aborted, so nothing re-shows it; the cache keeps what was complete for a later request here.
   */
  dismiss(): void {
    this.abortCurrent();
    // A re-ask already on its way (hide, then trigger) must not bring the suggestion back.
    if (this.extending !== undefined) this.dismissedReask = this.extending;
    this.extending = undefined;
  }

  /**
   * The user moved to a new place (another file, a cursor jump) and paused: have the engine encode the
   * prompt a completion there would have, so that the keystroke that follows costs a few tokens instead of
   * the whole window. Nothing is generated; a running generation is left alone.
   */
  warm(req: CompletionRequest): void {
    if (this.current && !this.current.done) return;
    if (this.options.ready && !this.options.ready()) return;
    // Before an identifier too: Go to Line lands there, and the user selects what follows and types over it.
    this.log.debug(`warming the prompt at ${cursorWindow(req).offset}`);
    this.engine.warm?.(this.generateRequest(req, 0));
  }

  /**
   * The user just typed a character at `req`. VS Code asks for a suggestion only after its own debounce
   * (50 ms in VS Code 1.139) and a round trip to the extension host: start the generation now, and the
   * request that follows joins it like any request that typed into a running generation. Nothing starts
   * when the cache or the running generation already covers the place, while the engine has no model, or
   * when the user set a debounce of their own (they asked for fewer generations); a speculation no
   * request takes over within `speculationWaitMs` is aborted.
   */
  speculate(req: CompletionRequest): void {
    if (this.settings().debounceMs > 0) return;
    if (this.options.ready && !this.options.ready()) return;
    if (/^[\w$]/.test(req.suffix)) return;
    const at = cursorWindow(req);
    if (this.cache.lookup(req.documentKey, at)) return;
    if (this.current && this.joinable(this.current, req.documentKey, at) !== undefined) {
      // The request for this place comes after the previous place's request was cancelled: keep the
      // generation for it (abandonIfUnwanted), or the wait for a new one starts from nothing.
      this.current.awaitedUntil = Date.now() + (this.options.speculationWaitMs ?? 400);
      this.log.debug(`keystroke at ${at.offset}: the running generation predicted it`);
      return;
    }
    this.stopAlternatives();
    this.log.debug(`keystroke at ${at.offset}: starting the generation before the editor asks`);
    const gen = this.start(req, at, 0);
    this.stats.speculated();
    setTimeout(() => {
      if (this.current !== gen || gen.done || gen.waiters > 0 || gen.shownAt !== undefined) return;
      this.log.debug('no request took over the keystroke\'s generation: aborting it');
      this.abortCurrent();
    }, this.options.speculationWaitMs ?? 400);
  }

  /** What the user typed since `gen` started, when a request at `at` can take it over (greedy, and typing agrees with it). */
  private joinable(gen: InflightGeneration, documentKey: string, at: CursorWindow): string | undefined {
    const typed = gen.seed === 0 ? gen.typedSince(documentKey, at) : undefined;
    return typed !== undefined && gen.consistentWith(typed) ? typed : undefined;
  }

  /** Drops cached completions and stops the running generation. */
  clear(): void {
    this.abortCurrent();
    this.cache.clear();
  }

  /** Settles when the running generation and any alternatives being sampled have ended. */
  async idle(): Promise<void> {
    for (;;) {
      const waits = [this.current?.finished, this.alternatives?.done].filter((p) => p !== undefined);
      if (waits.length === 0) return;
      await Promise.all(waits);
    }
  }

  dispose(): void {
    this.abortCurrent();
  }

  private abortCurrent(): void {
    this.stopAlternatives();
    this.current?.abort();
    this.current = undefined;
  }

  private stopAlternatives(): void {
    this.alternatives?.controller.abort();
    this.alternatives = undefined;
  }

  /** The generation's whole text `typed` characters past its start, once it ended (undefined when aborted or failed). */
  private async finalText(gen: InflightGeneration, typed: string): Promise<string | undefined> {
    await gen.finished;
    return gen.signal.aborted || gen.error !== undefined ? undefined : gen.remainder(typed);
  }

  /**
   * After a manual trigger's first suggestion: samples up to two more, one generation at a time, then
   * caches all of them at the cursor and asks the host to show them (stopped when the user moves on).
   */
  private sampleAlternatives(req: CompletionRequest, at: CursorWindow, first: Promise<string | undefined>): void {
    this.stopAlternatives();
    const controller = new AbortController();
    const run = async (): Promise<void> => {
      const best = await first;
      if (best === undefined || controller.signal.aborted) return;
      const texts = [best];
      for (let seed = 1; texts.length < MAX_ALTERNATIVES && seed < MAX_ALTERNATIVES + 2; seed++) {
        if (controller.signal.aborted) return;
        const gen = this.start(req, at, seed);
        const stop = (): void => gen.abort();
        controller.signal.addEventListener('abort', stop, { once: true });
        await gen.finished;
        controller.signal.removeEventListener('abort', stop);
        if (gen.signal.aborted) return;
        if (gen.text && !texts.includes(gen.text)) texts.push(gen.text);
      }
      if (controller.signal.aborted || texts.length < 2) return;
      this.cache.put({ documentKey: req.documentKey, ...at, texts });
      this.extend(req.documentKey, at.offset);
    };
    const done = run()
      .catch((e: unknown) => this.log.error('sampling alternatives failed', e))
      .finally(() => {
        if (this.alternatives?.controller === controller) this.alternatives = undefined;
      });
    this.alternatives = { documentKey: req.documentKey, offset: at.offset, controller, done };
  }

  private extend(documentKey: string, offset: number): void {
    const asked = this.options.onExtended?.(documentKey, offset) === true;
    this.log.debug(asked ? `more text is ready at ${offset}: asked the editor again` : `more text is ready at ${offset}, but the cursor left it`);
    if (asked) this.extending = documentKey;
  }

  /** Starts a generation (seed 0 = the configured temperature; later seeds sample for alternatives). */
  private start(req: CompletionRequest, at: CursorWindow, seed: number): InflightGeneration {
    this.current?.abort();
    const singleLine = isMidLine(req.suffix);
    const gen = new InflightGeneration(req.documentKey, at, async (signal, append) => {
      this.options.onGenerating?.(true);
      try {
        const stream = this.engine.generate(this.generateRequest(req, seed), signal);
        for await (const chunk of pipe(stream, completionFilters(req.prefix, req.suffix, singleLine))) append(chunk);
        const summary = await stream.summary;
        // A filter that ended the completion (block end) stops the engine: that is a stop, not an abort.
        return summary.stopReason === 'aborted' && !signal.aborted ? { ...summary, stopReason: 'stop' } : summary;
      } finally {
        this.options.onGenerating?.(false);
      }
    });
    gen.seed = seed;
    this.current = gen;
    void gen.finished.then(() => this.finished(gen, seed));
    return gen;
  }

  /** What the engine is asked for a request (seed 0 = the configured temperature; later seeds sample). */
  private generateRequest(req: CompletionRequest, seed: number): GenerateRequest {
    const s = this.settings();
    return {
      languageId: req.languageId,
      filePath: req.filePath,
      workspaceRoot: req.workspaceRoot,
      prefix: req.prefix,
      suffix: req.suffix,
      maxTokens: s.maxTokens,
      temperature: seed === 0 ? s.temperature : Math.max(0.6, s.temperature),
      seed: seed === 0 ? undefined : seed,
      singleLine: isMidLine(req.suffix),
      monitor: s.monitor(req.languageId),
      pie: s.pie,
      ...(s.context && s.context.budgetTokens > 0 ? { context: s.context } : {}),
      documentOffset: req.documentOffset,
      documentVersion: req.documentVersion,
      requestedAt: req.requestedAt,
    };
  }

  private finished(gen: InflightGeneration, seed: number): void {
    if (gen.error !== undefined) this.failed(gen.error);
    else this.lastFailure = undefined;
    const summary: GenerateSummary | undefined = gen.summary;
    if (summary) {
      this.stats.generation(summary);
      this.log.debug(`generation ${summary.stopReason}: ${summary.tokens} tokens, first ${summary.msFirstToken.toFixed(0)} ms, total ${summary.msTotal.toFixed(0)} ms${summary.msQueue !== undefined ? `, queued ${summary.msQueue.toFixed(0)} ms` : ''}${summary.msPrompt !== undefined ? `, prompt ${summary.msPrompt.toFixed(0)} ms` : ''}${summary.piePath ? `, PIE ${summary.piePath}${summary.pieEncodedTokens !== undefined ? ` (${summary.pieEncodedTokens} encoded)` : ''}` : ''}${summary.monitor ? `, monitor ${summary.monitor.constrained}/${summary.monitor.triggers} constrained, ${summary.monitor.timeout} timed out` : ''}`);
    }
    if (this.current === gen) this.current = undefined;
    if (seed !== 0 || gen.signal.aborted || gen.error !== undefined || !gen.text) return;
    this.cache.put({ documentKey: gen.documentKey, ...gen.at, texts: [gen.text] });
    // More text than a request showed: ask the editor to request again. Only text a live request showed
    // grows; a generation nobody is shown (its requests were cancelled) never comes back by itself.
    // Not while a re-ask is on its way: it arrives after this and is served the whole text from the cache.
    if (gen.shownAt !== undefined && gen.shownLength > 0 && gen.text.length > gen.shownLength && isUseful(gen.text, gen.at.suffix) && this.extending !== gen.documentKey) {
      this.extend(gen.documentKey, gen.shownAt);
    }
  }

  private failed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (message === this.lastFailure) {
      this.log.debug(`generation failed again: ${message}`);
      return;
    }
    this.lastFailure = message;
    this.log.error('generation failed', error);
    this.options.onFailure?.(message, error);
  }

  /**
   * What a generation has ready for a request `typed` characters past its start: the whole text when it
   * ends within the time budget, its first line as soon as that is complete, else what streamed by then, cut after its last complete word (waiting on
   * for one: a half-streamed identifier is no use as a suggestion). The budget counts from the keystroke
   * (`keystrokeAt`, when the request answers one): VS Code calls the provider 50 ms after it, and the
   * generation started then, so the user's wait is what the budget bounds. When the editor cancels the
   * request and no other request waits on the generation, the generation is aborted.
   */
  private async streamed(gen: InflightGeneration, typed: string, offset: number, signal: AbortSignal, keystrokeAt?: number): Promise<string | undefined> {
    const ready = (): string | undefined => {
      const rest = gen.remainder(typed);
      return rest === undefined || gen.done ? rest : completeWords(rest);
    };
    gen.waiters++;
    gen.joins++;
    try {
      // A whole first line is worth showing at once (the rest extends it when it arrives); a partial one
      // waits for the time budget.
      // From the keystroke when the generation started at it (or earlier: typing what it predicted);
      // from the generation's start when it started later (no speculation at that keystroke: Enter, a
      // paste, a debounce), so that the budget is never spent before the model had a chance.
      const since = keystrokeAt === undefined ? Date.now() : Math.max(keystrokeAt, Math.min(gen.startedAt, Date.now()));
      const budgetEnds = Math.max(Date.now(), since + this.settings().timeBudgetMs);
      await gen.waitUntil(() => firstLineReady(gen.remainder(typed)), budgetEnds, signal);
      if (ready() === undefined && gen.consistentWith(typed)) {
        await gen.waitUntil(() => ready() !== undefined || !gen.consistentWith(typed), Date.now() + FIRST_TEXT_LIMIT_MS, signal);
      }
      const text = signal.aborted ? undefined : ready();
      if (text === undefined) {
        // Why a request answered nothing (the editor's own cancellation is the common case: a keystroke).
        this.log.debug(`no suggestion at ${offset}: ${signal.aborted ? 'the editor cancelled the request' : gen.consistentWith(typed) ? 'the generation ended with nothing after what was typed' : 'typing diverged from the generation'}`);
      }
      if (text !== undefined) {
        gen.shownLength = Math.max(gen.shownLength, typed.length + text.length);
        gen.shownAt = offset;
        if (!gen.done && !firstLineReady(text)) this.extendAtFirstLine(gen, typed, offset);
      }
      return text;
    } finally {
      gen.waiters--;
      if (signal.aborted) this.abandonIfUnwanted(gen);
    }
  }

  /**
   * Part of a first line was shown (the budget ran out first): ask the editor again as soon as the line
   * is complete, not only when the whole generation ends (a multi-line one can run for a second more).
   * Not for a generation that was aborted (dismissed, typed past) or replaced, nor a place the user left.
   */
  private extendAtFirstLine(gen: InflightGeneration, typed: string, offset: number): void {
    void gen.waitUntil(() => firstLineReady(gen.remainder(typed)), Date.now() + FIRST_LINE_EXTEND_MS, gen.signal).then(() => {
      if (gen.signal.aborted || this.current !== gen || gen.shownAt !== offset || gen.done) return;
      const rest = gen.remainder(typed);
      if (rest !== undefined && firstLineReady(rest) && typed.length + rest.length > gen.shownLength) this.extend(gen.documentKey, offset);
    });
  }

  /** The host did not ask the editor again after all (the cursor left before it could). */
  reaskDropped(): void {
    this.extending = undefined;
  }

  /**
   * The host did not hand a result for (`documentKey`, `offset`) to the editor: the running generation
   * was not shown there after all, so nothing re-asks for it.
   */
  dropped(why: string, documentKey: string, offset: number): void {
    this.log.debug(`a suggestion was not shown: ${why}`);
    const gen = this.current;
    if (gen && gen.documentKey === documentKey && gen.shownAt === offset) gen.shownAt = undefined;
  }

  /**
   * The editor cancelled a request: unless another request takes the generation over shortly, stop it.
   * "Shortly" is the grace, or longer when a keystroke since typed what the generation predicted
   * (`awaitedUntil`): VS Code cancels the old place's request at the keystroke and asks for the new place
   * only after its debounce, which a loaded machine stretches past the grace.
   */
  private abandonIfUnwanted(gen: InflightGeneration): void {
    const joins = gen.joins;
    const check = (): void => {
      if (gen.waiters > 0 || gen.done || this.current !== gen || gen.joins !== joins) return;
      const awaited = gen.awaitedUntil - Date.now();
      if (awaited > 0) {
        setTimeout(check, awaited);
        return;
      }
      this.log.debug(`the editor cancelled the request: aborting its generation (started at ${gen.at.offset})`);
      this.abortCurrent();
    };
    setTimeout(check, this.options.cancelGraceMs ?? 50);
  }
}

function cursorWindow(req: CompletionRequest): CursorWindow {
  return { offset: req.documentOffset ?? req.prefix.length, prefix: req.prefix, suffix: req.suffix };
}

/** Whether `text` holds a complete first line with code on it (a line break after something to show). */
export function firstLineReady(text: string | undefined): boolean {
  if (text === undefined) return false;
  const nl = text.indexOf('\n');
  return nl > 0 && /\S/.test(text.slice(0, nl));
}

/** `text` up to and including its last non-identifier character (undefined when that leaves nothing useful). */
export function completeWords(text: string): string | undefined {
  const m = /^[\s\S]*[^\w$]/.exec(text);
  const cut = m?.[0].trimEnd();
  return cut && /[\w$]/.test(cut) ? cut : undefined;
}

function dedupe(texts: string[]): string[] {
  return [...new Set(texts)];
}
