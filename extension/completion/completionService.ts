import { CompletionCache } from './completionCache.js';
import { Debouncer } from './debounce.js';
import { InflightGeneration } from './inflightGeneration.js';
import { completionFilters, isMidLine, isUseful, pipe } from './postprocess.js';
import { CompletionStats, type CompletionSource } from './stats.js';
import { silentLog, type CompletionEngine, type CompletionRequest, type CompletionSettings, type GenerateSummary, type Log } from './types.js';

export interface CompletionResult {
  /** Up to three alternatives, best first. */
  readonly texts: readonly string[];
  readonly source: CompletionSource;
}

export interface CompletionServiceOptions {
  log?: Log;
  stats?: CompletionStats;
  /** Called when a generation finished with more than its requests showed: re-trigger to show or extend it. */
  onExtended?: (documentKey: string) => void;
  /** Called when a generation starts and ends (the host measures its event loop meanwhile). */
  onGenerating?: (generating: boolean) => void;
  cacheSize?: number;
}

const MAX_ALTERNATIVES = 3;
/** Upper bound on waiting for a first chunk after the time budget (the engine's own maxTokens bounds the rest). */
const FIRST_TEXT_LIMIT_MS = 30_000;

/**
 * debounce → reuse (cache, in-flight) → generate → postprocess, for one editor. Owns at most one running
 * generation: a request that cannot reuse it aborts it.
 */
export class CompletionService {
  private readonly cache: CompletionCache;
  private readonly debouncer = new Debouncer();
  private current: InflightGeneration | undefined;
  /** Document whose suggestion is being re-requested because its generation grew after it was shown. */
  private extending: string | undefined;
  private readonly log: Log;
  readonly stats: CompletionStats;

  constructor(
    private readonly engine: CompletionEngine,
    private readonly settings: () => CompletionSettings,
    private readonly options: CompletionServiceOptions = {},
  ) {
    this.cache = new CompletionCache(options.cacheSize ?? 64);
    this.log = options.log ?? silentLog;
    this.stats = options.stats ?? new CompletionStats();
  }

  /** Ghost text for a request, or undefined (nothing useful, superseded, or cancelled). */
  async complete(req: CompletionRequest, signal: AbortSignal): Promise<CompletionResult | undefined> {
    const started = Date.now();
    this.stats.request();
    if (signal.aborted || /^[\w$]/.test(req.suffix)) return undefined; // mid-identifier: nothing sensible to add

    const served = (texts: string[], source: CompletionSource): CompletionResult | undefined => {
      const useful = dedupe(texts.filter((t) => isUseful(t, req.suffix)));
      if (useful.length === 0) {
        this.log.debug(`nothing useful to show (${source}): ${JSON.stringify(texts)}`);
        return undefined;
      }
      this.stats.shownAfter(source, Date.now() - started);
      return { texts: useful.slice(0, MAX_ALTERNATIVES), source };
    };

    // Our own re-trigger after a streamed generation finished wants the longer cached text, not alternatives.
    const explicit = req.explicit && this.extending !== req.documentKey;
    this.extending = undefined;
    const cached = this.cache.lookup(req.documentKey, req.prefix, req.suffix);
    if (cached && (!explicit || cached.length > 1)) return served(cached, 'cache');

    const running = this.current;
    if (running) {
      const typed = running.typedSince(req.documentKey, req.prefix, req.suffix);
      if (typed !== undefined && running.consistentWith(typed) && !explicit) {
        const text = await this.streamed(running, typed, signal);
        return text === undefined ? undefined : served([text], 'inflight');
      }
      this.log.debug('typing diverged from the running generation: aborting it');
      this.abortCurrent();
    }

    if (!(await this.debouncer.wait(this.settings().debounceMs, signal))) return undefined;

    if (!explicit) {
      const text = await this.streamed(this.start(req, 0), '', signal);
      return text === undefined ? undefined : served([text], 'engine');
    }

    // Asked for alternatives (manual trigger, next/previous): the greedy one (cached or new) plus sampled ones.
    const texts = cached ? [...cached] : [];
    if (texts.length === 0) {
      const first = this.start(req, 0);
      await first.waitUntil(() => false, Number.MAX_SAFE_INTEGER, signal);
      if (first.text) texts.push(first.text);
    }
    for (let seed = 1; texts.length < MAX_ALTERNATIVES && seed < MAX_ALTERNATIVES + 2 && !signal.aborted; seed++) {
      const alt = this.start(req, seed);
      await alt.waitUntil(() => false, Number.MAX_SAFE_INTEGER, signal);
      if (alt.text && !texts.includes(alt.text)) texts.push(alt.text);
    }
    if (texts.length > 0) this.cache.put({ documentKey: req.documentKey, prefix: req.prefix, suffix: req.suffix, texts });
    return signal.aborted ? undefined : served(texts, 'engine');
  }

  /** Drops cached completions and stops the running generation. */
  clear(): void {
    this.abortCurrent();
    this.cache.clear();
  }

  dispose(): void {
    this.abortCurrent();
  }

  private abortCurrent(): void {
    this.current?.abort();
    this.current = undefined;
  }

  /** Starts a generation (seed 0 = the configured temperature; later seeds sample for alternatives). */
  private start(req: CompletionRequest, seed: number): InflightGeneration {
    this.abortCurrent();
    const s = this.settings();
    const singleLine = isMidLine(req.suffix);
    const gen = new InflightGeneration(req.documentKey, req.prefix, req.suffix, async (signal, append) => {
      this.options.onGenerating?.(true);
      try {
        const stream = this.engine.generate(
          {
            languageId: req.languageId,
            filePath: req.filePath,
            workspaceRoot: req.workspaceRoot,
            prefix: req.prefix,
            suffix: req.suffix,
            maxTokens: s.maxTokens,
            temperature: seed === 0 ? s.temperature : Math.max(0.6, s.temperature),
            seed: seed === 0 ? undefined : seed,
            singleLine,
            monitor: s.monitor(req.languageId),
            pie: s.pie,
          },
          signal,
        );
        for await (const chunk of pipe(stream, completionFilters(req.prefix, req.suffix, singleLine))) append(chunk);
        const summary = await stream.summary;
        // A filter that ended the completion (block end) stops the engine: that is a stop, not an abort.
        return summary.stopReason === 'aborted' && !signal.aborted ? { ...summary, stopReason: 'stop' } : summary;
      } finally {
        this.options.onGenerating?.(false);
      }
    });
    this.current = gen;
    void gen.finished.then(() => this.finished(gen, seed));
    return gen;
  }

  private finished(gen: InflightGeneration, seed: number): void {
    if (gen.error !== undefined) this.log.error('generation failed', gen.error);
    const summary: GenerateSummary | undefined = gen.summary;
    if (summary) {
      this.stats.generation(summary);
      this.log.debug(`generation ${summary.stopReason}: ${summary.tokens} tokens, first ${summary.msFirstToken.toFixed(0)} ms, total ${summary.msTotal.toFixed(0)} ms${summary.piePath ? `, PIE ${summary.piePath}` : ''}`);
    }
    if (this.current === gen) this.current = undefined;
    if (seed !== 0 || gen.signal.aborted || gen.error !== undefined || !gen.text) return;
    this.cache.put({ documentKey: gen.documentKey, prefix: gen.prefix, suffix: gen.suffix, texts: [gen.text] });
    // More text than any request showed (a streamed part, or nothing: the request was cancelled while the
    // first completion in a project waited for its language server): ask the editor to request again.
    if (gen.text.length > gen.shownLength && isUseful(gen.text, gen.suffix) && this.options.onExtended) {
      this.extending = gen.documentKey;
      this.options.onExtended(gen.documentKey);
    }
  }

  /**
   * What a generation has ready for a request `typed` characters past its start: the whole text when it
   * ends within the time budget, else what streamed by then, cut after its last complete word (waiting on
   * for one: a half-streamed identifier is no use as a suggestion).
   */
  private async streamed(gen: InflightGeneration, typed: string, signal: AbortSignal): Promise<string | undefined> {
    const ready = (): string | undefined => {
      const rest = gen.remainder(typed);
      return rest === undefined || gen.done ? rest : completeWords(rest);
    };
    await gen.waitUntil(() => false, Date.now() + this.settings().timeBudgetMs, signal);
    if (ready() === undefined && gen.consistentWith(typed)) {
      await gen.waitUntil(() => ready() !== undefined || !gen.consistentWith(typed), Date.now() + FIRST_TEXT_LIMIT_MS, signal);
    }
    const text = signal.aborted ? undefined : ready();
    if (text !== undefined) gen.shownLength = Math.max(gen.shownLength, typed.length + text.length);
    return text;
  }
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
