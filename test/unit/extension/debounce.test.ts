import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Debouncer } from '../../../extension/completion/debounce.js';

describe('Debouncer', () => {
  it('lets only the latest of a burst through', async () => {
    const d = new Debouncer();
    const signal = new AbortController().signal;
    const results = await Promise.all([d.wait(20, signal), d.wait(20, signal), d.wait(20, signal)]);
    assert.deepEqual(results, [false, false, true]);
  });

  it('returns false at once when the request is cancelled', async () => {
    const d = new Debouncer();
    const c = new AbortController();
    const p = d.wait(60_000, c.signal);
    c.abort();
    assert.equal(await p, false);
  });

  it('passes a lone request after its delay', async () => {
    assert.equal(await new Debouncer().wait(1, new AbortController().signal), true);
  });
});
