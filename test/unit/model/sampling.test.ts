import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argmax, sampleToken, seededRandom } from '../../../model/sampling.js';

describe('sampling', () => {
  it('argmax returns the first maximum, or -1 when everything is masked', () => {
    assert.equal(argmax(Float32Array.from([1, 3, 3, -1])), 1);
    assert.equal(argmax(Float32Array.from([-Infinity, -Infinity])), -1);
  });

  it('temperature 0 is greedy', () => {
    const logits = Float32Array.from([0.1, 2, 1.9]);
    assert.equal(sampleToken(logits, 0, 1, seededRandom(1)), 1);
  });

  it('the same seed gives the same samples, a different seed differs somewhere', () => {
    const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const draw = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 40 }, () => sampleToken(logits, 1, 1, r));
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });

  it('top-p keeps only the smallest set reaching p', () => {
    // probabilities ≈ 0.6, 0.3, 0.1: p = 0.5 keeps only the first, p = 0.85 the first two.
    const logits = Float32Array.from([Math.log(0.6), Math.log(0.3), Math.log(0.1)]);
    const r = seededRandom(3);
    const seen = (p: number) => new Set(Array.from({ length: 300 }, () => sampleToken(logits, 1, p, r)));
    assert.deepEqual([...seen(0.5)], [0]);
    assert.deepEqual([...seen(0.85)].sort(), [0, 1]);
    assert.deepEqual([...seen(1)].sort(), [0, 1, 2]);
  });

  it('samples follow the softmax distribution', () => {
    const logits = Float32Array.from([Math.log(0.75), Math.log(0.25)]);
    const r = seededRandom(11);
    let zeros = 0;
    for (let i = 0; i < 4000; i++) if (sampleToken(logits, 1, 1, r) === 0) zeros++;
    assert.ok(Math.abs(zeros / 4000 - 0.75) < 0.03, `share of token 0: ${zeros / 4000}`);
  });

  it('masked tokens are never sampled', () => {
    const logits = Float32Array.from([5, -Infinity, 4, -Infinity]);
    const r = seededRandom(5);
    for (let i = 0; i < 200; i++) assert.ok([0, 2].includes(sampleToken(logits, 2, 1, r)));
  });
});
