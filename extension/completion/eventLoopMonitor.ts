import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { EventLoopDelay } from './stats.js';

const SAMPLE_MS = 10;

/**
 * Measures the extension host's event-loop delay: over the whole session (perf_hooks histogram), and
 * only while a generation runs, by a 10 ms timer that records how late it fires (a histogram enabled
 * and disabled around generations would count the idle gaps between them as delay).
 */
export class EventLoopMonitor {
  private readonly all: IntervalHistogram = monitorEventLoopDelay({ resolution: SAMPLE_MS });
  private readonly lags: number[] = [];
  private active = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.all.enable();
  }

  setGenerating(on: boolean): void {
    this.active = Math.max(0, this.active + (on ? 1 : -1));
    if (this.active > 0 && !this.timer) this.sample(performance.now());
    if (this.active === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private sample(scheduled: number): void {
    this.timer = setTimeout(() => {
      const now = performance.now();
      this.lags.push(Math.max(0, now - scheduled - SAMPLE_MS));
      if (this.lags.length > 10_000) this.lags.splice(0, this.lags.length - 10_000);
      this.sample(now);
    }, SAMPLE_MS);
  }

  snapshot(): { idle: EventLoopDelay; duringCompletions: EventLoopDelay } {
    const sorted = [...this.lags].sort((a, b) => a - b);
    const at = (p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0);
    const h = this.all;
    const ms = (ns: number): number => (Number.isFinite(ns) ? ns / 1e6 : 0);
    return {
      idle: h.count === 0 ? { p50: 0, p99: 0, max: 0, samples: 0 } : { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count },
      duringCompletions: { p50: at(50), p99: at(99), max: sorted.at(-1) ?? 0, samples: sorted.length },
    };
  }

  dispose(): void {
    this.all.disable();
    clearTimeout(this.timer);
  }
}
