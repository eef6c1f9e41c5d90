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
});
