import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompletionStats, formatStats } from '../../../extension/completion/stats.js';
import type { GenerateSummary } from '../../../extension/completion/types.js';

const summary = (over: Partial<GenerateSummary>): GenerateSummary => ({ stopReason: 'eos', tokens: 4, promptTokens: 100, msFirstToken: 10, msTotal: 40, ...over });
const loop = { p50: 1, p99: 2, max: 3, samples: 10 };

describe('CompletionStats', () => {
  it('counts PIE paths, the prompt tokens PIE encoded and token-healed prompts', () => {
    const stats = new CompletionStats();
    stats.generation(summary({ piePath: 'full', pieEncodedTokens: 99, healed: 'inv' }));
    stats.generation(summary({ piePath: 'prefix', pieEncodedTokens: 2 }));
    stats.generation(summary({ piePath: 'reuse', pieEncodedTokens: 0, healed: ' ' }));
    stats.generation(summary({}));
    const s = stats.snapshot();
    assert.deepEqual(s.piePaths, { full: 1, prefix: 1, reuse: 1 });
    assert.equal(s.pieEncodedTokens, 101);
    assert.equal(s.healed, 2);
    const report = formatStats(s, { idle: loop, duringCompletions: loop }, 'default');
    assert.match(report, /\| PIE cache paths \| full: 1, prefix: 1, reuse: 1 \(101 prompt tokens encoded\) \|/);
    assert.match(report, /\| Token-healed prompts \| 2 \|/);
  });

  it('reports keystroke to ghost text, queue and prompt times and monitor outcomes, not only the engine\'s first token', () => {
    const stats = new CompletionStats();
    stats.shownAfter('engine', 30, 180);
    stats.shownAfter('cache', 1, 90);
    stats.shownAfter('inflight', 5); // no keystroke time: not counted in it
    stats.generation(summary({ msQueue: 120, msPrompt: 35, monitor: { triggers: 3, constrained: 2, timeout: 1, noAnswer: 0, unconstrainedAny: 0, error: 0 } }));
    const s = stats.snapshot();
    assert.deepEqual(s.keystrokeToShown, { p50: 180, p90: 180, samples: 2 });
    const report = formatStats(s, { idle: loop, duringCompletions: loop }, 'default');
    assert.match(report, /\| Keystroke to ghost text p50 \/ p90 \| 180\.0 ms \/ 180\.0 ms \(2 suggestions\) \|/);
    assert.match(report, /\| Queue \(behind other work\) p50 \/ p90 \| 120\.0 ms/);
    assert.match(report, /\| Prompt \(PIE \/ prefill\) p50 \/ p90 \| 35\.0 ms/);
    assert.match(report, /constrained 2, timeout 1/);
  });
});
