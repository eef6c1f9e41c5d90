// Decoding ahead of a pending processor answer (GenerationOptions.speculate): while a monitor waits on
// its language server, the loop decodes greedily without processors, then replays the processors over
// those tokens and keeps what they would have chosen. The output, the processors' calls and the kept
// cache must be exactly those of waiting, whether the answer allows the model's choices, rules one out
// (a rollback), or forces tokens. The processors here hold their answer back on a timer, as a server
// does. Off by default (slower on a 2-core machine: the passes delay the server); bench:monitor measures it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import { generateAll } from '../../../model/generate.js';
import type { LogitsProcessor, ProcessResult, StepContext } from '../../../model/types.js';
import { maxAbsDiff, needsModel, testModelDir } from './testModel.js';

const prefix = 'export function clamp(value: number, min: number, max: number): number {\n  if (value < min) ';
const suffix = '\n  return value;\n}\n';

const argmax = (x: Float32Array) => {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
};

/**
 * Answers at the steps in `slow` after `delayMs`, applying `answer` to that step's logits then; every
 * call is recorded (step, the token appended) so that two runs can be compared call for call.
 */
function delayed(slow: ReadonlySet<number>, delayMs: number, answer: (logits: Float32Array, ctx: StepContext) => void | ProcessResult): LogitsProcessor & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    process(logits, ctx) {
      calls.push(`process ${ctx.step} after ${ctx.generatedTokens.length}`);
      if (!slow.has(ctx.step)) return answer(logits, ctx);
      return new Promise((resolve) => setTimeout(() => resolve(answer(logits, ctx)), delayMs));
    },
    onToken(id, ctx) {
      calls.push(`token ${id} at ${ctx.step}`);
    },
  };
}

describe('decoding ahead of a pending processor answer', { skip: needsModel }, () => {
  let model: CodeModel;
  before(async () => {
    model = await CodeModel.load(testModelDir);
  });
  after(() => model?.dispose());

  const run = async (make: () => LogitsProcessor & { calls: string[] }, extra: { maxTokens?: number; keepCache?: boolean } = {}) => {
    const both = [];
    for (const speculate of [false, true]) {
      const p = make();
      const r = await generateAll(model.session, model.tokenizer, model.buildPrompt(prefix, suffix), { maxTokens: extra.maxTokens ?? 12, stop: [], processors: [p], speculate, keepCache: extra.keepCache });
      both.push({ r, calls: p.calls });
    }
    const [waited, ahead] = both;
    assert.deepEqual(ahead.r.tokens, waited.r.tokens, 'the same tokens as waiting for the answer');
    assert.equal(ahead.r.text, waited.r.text);
    assert.deepEqual(ahead.calls, waited.calls, 'the processor saw the same calls in the same order');
    assert.equal(waited.r.speculation, undefined);
    return { waited: waited.r, ahead: ahead.r };
  };

  it('keeps the tokens decoded meanwhile when the answer allows them', async () => {
    const { ahead } = await run(() => delayed(new Set([1]), 120, () => {}));
    assert.ok(ahead.speculation && ahead.speculation.decoded >= 2, `decoded ahead while waiting: ${JSON.stringify(ahead.speculation)}`);
    assert.equal(ahead.speculation.rollbacks, 0);
    assert.equal(ahead.speculation.kept, Math.min(ahead.speculation.decoded, ahead.tokens.length - 1));
  });

  it('goes back to the step where the answer rules out the model\'s choice', async () => {
    // At step 3 the answer removes the model's first choice: everything decoded from there is redone.
    const { waited, ahead } = await run(() => delayed(new Set([1, 3]), 120, (logits, ctx) => {
      if (ctx.step === 3) logits[argmax(logits)] = -Infinity;
    }));
    const plain = await generateAll(model.session, model.tokenizer, model.buildPrompt(prefix, suffix), { maxTokens: 12, stop: [] });
    assert.notDeepEqual(waited.tokens, plain.tokens, 'the answer changed the output');
    assert.ok(ahead.speculation && ahead.speculation.rollbacks >= 1, JSON.stringify(ahead.speculation));
  });

  it('a forced answer matching the tokens decoded ahead keeps them; one that does not is fed instead', async () => {
    const plain = await generateAll(model.session, model.tokenizer, model.buildPrompt(prefix, suffix), { maxTokens: 12, stop: [] });
    // The model's own next three tokens from step 2, forced: decoded ahead already.
    const same = await run(() => delayed(new Set([2]), 150, (_l, ctx) => (ctx.step === 2 ? { force: plain.tokens.slice(2, 5) } : undefined)));
    assert.ok(same.ahead.speculation && same.ahead.speculation.kept >= 3, JSON.stringify(same.ahead.speculation));
    // Tokens the model would not write, forced at step 2.
    const other = model.tokenizer.encode(' maxValue');
    const { waited } = await run(() => delayed(new Set([2]), 150, (_l, ctx) => (ctx.step === 2 ? { force: other } : undefined)));
    assert.deepEqual(waited.tokens.slice(2, 2 + other.length), other);
  });

  it('the kept cache is the one waiting leaves, row for row', async () => {
    for (const maxTokens of [6, 12]) {
      const { waited, ahead } = await run(() => delayed(new Set([1, 4]), 100, () => {}), { maxTokens, keepCache: true });
      try {
        assert.ok(waited.cache && ahead.cache);
        assert.equal(ahead.cache.length, waited.cache.length, 'no rows of tokens decoded ahead and not appended');
        for (let l = 0; l < model.config.numLayers; l++) {
          assert.ok(maxAbsDiff(ahead.cache.keys(l), waited.cache.keys(l)) <= 1e-4, `layer ${l} keys`);
          assert.ok(maxAbsDiff(ahead.cache.values(l), waited.cache.values(l)) <= 1e-4, `layer ${l} values`);
        }
      } finally {
        waited.cache?.dispose();
        ahead.cache?.dispose();
      }
    }
  });

  it('is off for sampling (temperature > 0) and stops with the signal', async () => {
    const p = delayed(new Set([1]), 100, () => {});
    const sampled = await generateAll(model.session, model.tokenizer, model.buildPrompt(prefix, suffix), { maxTokens: 6, stop: [], processors: [p], temperature: 0.8, seed: 7, speculate: true });
    assert.equal(sampled.speculation, undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 40);
    const aborted = await generateAll(model.session, model.tokenizer, model.buildPrompt(prefix, suffix), { maxTokens: 12, stop: [], processors: [delayed(new Set([1]), 150, () => {})], signal: controller.signal, speculate: true });
    assert.equal(aborted.stopReason, 'aborted');
    assert.ok(aborted.tokens.length <= 1, 'nothing decoded ahead is appended after the abort');
  });
});
