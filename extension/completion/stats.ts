import type { GenerateSummary } from './types.js';

export type CompletionSource = 'cache' | 'inflight' | 'engine';

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Event-loop delay as the host measures it (perf_hooks histogram, milliseconds). */
export interface EventLoopDelay {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly samples: number;
}

export interface StatsSnapshot {
  requests: number;
  served: Record<CompletionSource, number>;
  generations: number;
  /** Generations started at a keystroke, before the editor asked (CompletionService.speculate). */
  speculated: number;
  /** Request arrival to suggestion returned, ms. */
  shownLatency: { p50: number; p90: number };
  /** Keystroke (the request's requestedAt) to its suggestion handed to the editor, ms: what the user waits for. */
  keystrokeToShown: { p50: number; p90: number; samples: number };
  /** Generation request's keystroke to the worker starting it (time behind other work), ms. */
  queueMs: { p50: number; p90: number };
  /** Worker start to the prompt's KV cache being ready (PIE / prefill), ms. */
  promptMs: { p50: number; p90: number };
  firstTokenMs: { p50: number; p90: number };
  tokensPerSecond: number;
  piePaths: Record<string, number>;
  /** Prompt tokens PIE's cache ran the model on, summed over generations that used it. */
  pieEncodedTokens: number;
  /** Generations whose prompt was token-healed (a trailing partial token re-typed by the model). */
  healed: number;
  monitorTriggers: number;
  monitorChanges: number;
  /** Generations whose output the monitor changed at least once. */
  monitorChangedOutputs: number;
  /** Monitor triggers by outcome (summed over generations that report them). */
  monitorOutcomes: { constrained: number; timeout: number; noAnswer: number; unconstrainedAny: number; error: number };
  stopReasons: Record<string, number>;
  /** Project context: generations that had some, its tokens on average, chunks by source. */
  context: { generations: number; meanTokens: number; chunksBySource: Record<string, number> };
}

/** Counters for Show Statistics; bounded memory (recent latencies only). */
export class CompletionStats {
  private requests = 0;
  private readonly served: Record<CompletionSource, number> = { cache: 0, inflight: 0, engine: 0 };
  private readonly shown: number[] = [];
  private readonly keystroke: number[] = [];
  private readonly queue: number[] = [];
  private readonly prompt: number[] = [];
  private readonly firstToken: number[] = [];
  private readonly outcomes = { constrained: 0, timeout: 0, noAnswer: 0, unconstrainedAny: 0, error: 0 };
  private tokens = 0;
  private generatingMs = 0;
  private generations = 0;
  private speculatedCount = 0;
  private readonly piePaths: Record<string, number> = {};
  private readonly stopReasons: Record<string, number> = {};
  private pieEncodedTokens = 0;
  private healed = 0;
  private monitorTriggers = 0;
  private monitorChanges = 0;
  private monitorChangedOutputs = 0;
  private contextGenerations = 0;
  private contextTokens = 0;
  private readonly contextChunks: Record<string, number> = {};

  request(): void {
    this.requests++;
  }

  speculated(): void {
    this.speculatedCount++;
  }

  /** A suggestion was handed to the editor `ms` after its request arrived and `keystrokeMs` after the keystroke. */
  shownAfter(source: CompletionSource, ms: number, keystrokeMs?: number): void {
    this.served[source]++;
    push(this.shown, ms);
    if (keystrokeMs !== undefined) push(this.keystroke, Math.max(0, keystrokeMs));
  }

  generation(s: GenerateSummary): void {
    this.generations++;
    this.stopReasons[s.stopReason] = (this.stopReasons[s.stopReason] ?? 0) + 1;
    if (s.tokens > 0) {
      push(this.firstToken, s.msFirstToken);
      this.tokens += s.tokens;
      this.generatingMs += s.msTotal;
    }
    if (s.msQueue !== undefined) push(this.queue, s.msQueue);
    if (s.msPrompt !== undefined && s.stopReason !== 'aborted') push(this.prompt, s.msPrompt);
    if (s.monitor) for (const k of Object.keys(this.outcomes) as (keyof typeof this.outcomes)[]) this.outcomes[k] += s.monitor[k];
    if (s.piePath) this.piePaths[s.piePath] = (this.piePaths[s.piePath] ?? 0) + 1;
    this.pieEncodedTokens += s.pieEncodedTokens ?? 0;
    if (s.healed) this.healed++;
    this.monitorTriggers += s.monitorTriggers ?? 0;
    this.monitorChanges += s.monitorChanges ?? 0;
    if ((s.monitorChanges ?? 0) > 0) this.monitorChangedOutputs++;
    if (s.context && s.context.tokens > 0) {
      this.contextGenerations++;
      this.contextTokens += s.context.tokens;
      for (const [k, v] of Object.entries(s.context.bySource)) this.contextChunks[k] = (this.contextChunks[k] ?? 0) + v;
    }
  }

  snapshot(): StatsSnapshot {
    const shown = [...this.shown].sort((a, b) => a - b);
    const first = [...this.firstToken].sort((a, b) => a - b);
    const keystroke = sorted(this.keystroke);
    const queue = sorted(this.queue);
    const prompt = sorted(this.prompt);
    return {
      requests: this.requests,
      served: { ...this.served },
      generations: this.generations,
      speculated: this.speculatedCount,
      shownLatency: { p50: percentile(shown, 50), p90: percentile(shown, 90) },
      keystrokeToShown: { p50: percentile(keystroke, 50), p90: percentile(keystroke, 90), samples: keystroke.length },
      queueMs: { p50: percentile(queue, 50), p90: percentile(queue, 90) },
      promptMs: { p50: percentile(prompt, 50), p90: percentile(prompt, 90) },
      firstTokenMs: { p50: percentile(first, 50), p90: percentile(first, 90) },
      tokensPerSecond: this.generatingMs > 0 ? (this.tokens * 1000) / this.generatingMs : 0,
      piePaths: { ...this.piePaths },
      pieEncodedTokens: this.pieEncodedTokens,
      healed: this.healed,
      monitorTriggers: this.monitorTriggers,
      monitorChanges: this.monitorChanges,
      monitorChangedOutputs: this.monitorChangedOutputs,
      monitorOutcomes: { ...this.outcomes },
      stopReasons: { ...this.stopReasons },
      context: { generations: this.contextGenerations, meanTokens: this.contextGenerations > 0 ? this.contextTokens / this.contextGenerations : 0, chunksBySource: { ...this.contextChunks } },
    };
  }
}

const sorted = (list: readonly number[]): number[] => [...list].sort((a, b) => a - b);

function push(list: number[], v: number): void {
  list.push(v);
  if (list.length > 500) list.shift();
}

/** Markdown report for Show Statistics. */
export function formatStats(s: StatsSnapshot, loop: { idle: EventLoopDelay; duringCompletions: EventLoopDelay }, model: string): string {
  const ms = (n: number): string => `${n.toFixed(1)} ms`;
  const kv = (r: Record<string, number>): string => Object.entries(r).map(([k, v]) => `${k}: ${v}`).join(', ') || '—';
  return [
    `# TypeGuide statistics`,
    ``,
    `| | |`,
    `|---|---|`,
    `| Model | ${model} |`,
    `| Requests | ${s.requests} |`,
    `| Served from | cache ${s.served.cache}, in-flight ${s.served.inflight}, new generation ${s.served.engine} |`,
    `| Keystroke to ghost text p50 / p90 | ${s.keystrokeToShown.samples > 0 ? `${ms(s.keystrokeToShown.p50)} / ${ms(s.keystrokeToShown.p90)} (${s.keystrokeToShown.samples} suggestions)` : '—'} |`,
    `| Request to suggestion p50 / p90 | ${ms(s.shownLatency.p50)} / ${ms(s.shownLatency.p90)} |`,
    `| Queue (behind other work) p50 / p90 | ${ms(s.queueMs.p50)} / ${ms(s.queueMs.p90)} |`,
    `| Prompt (PIE / prefill) p50 / p90 | ${ms(s.promptMs.p50)} / ${ms(s.promptMs.p90)} |`,
    `| Engine first token p50 / p90 | ${ms(s.firstTokenMs.p50)} / ${ms(s.firstTokenMs.p90)} |`,
    `| Generations | ${s.generations} (${kv(s.stopReasons)}); started at the keystroke: ${s.speculated} |`,
    `| Tokens/s | ${s.tokensPerSecond.toFixed(1)} |`,
    `| PIE cache paths | ${kv(s.piePaths)} (${s.pieEncodedTokens} prompt tokens encoded) |`,
    `| Token-healed prompts | ${s.healed} |`,
    `| Project context | ${s.context.generations > 0 ? `${s.context.generations} generations, ${s.context.meanTokens.toFixed(0)} tokens on average; chunks: ${kv(s.context.chunksBySource)}` : '—'} |`,
    `| Monitor triggers / changed tokens / changed outputs | ${s.monitorTriggers} / ${s.monitorChanges} / ${s.monitorChangedOutputs} |`,
    `| Monitor outcomes | constrained ${s.monitorOutcomes.constrained}, timeout ${s.monitorOutcomes.timeout}, no answer ${s.monitorOutcomes.noAnswer}, any receiver ${s.monitorOutcomes.unconstrainedAny}, error ${s.monitorOutcomes.error} |`,
    `| Extension host event-loop delay, all (p50 / p99 / max) | ${ms(loop.idle.p50)} / ${ms(loop.idle.p99)} / ${ms(loop.idle.max)} |`,
    `| … while generating (p50 / p99 / max, samples) | ${ms(loop.duringCompletions.p50)} / ${ms(loop.duringCompletions.p99)} / ${ms(loop.duringCompletions.max)} (${loop.duringCompletions.samples}) |`,
    ``,
  ].join('\n');
}
