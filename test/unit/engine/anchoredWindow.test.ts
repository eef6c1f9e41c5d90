import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anchoredWindow } from '../../../engine/completionEngine.js';

const doc = Array.from({ length: 400 }, (_, i) => `  const value${i} = compute(${i}, options.scale);\n`).join('');

describe('anchoredWindow', () => {
  it('cuts a long document to the window, at a line start and whole lines', () => {
    const at = 9000;
    const { prefix, suffix } = anchoredWindow(doc.slice(0, at), doc.slice(at), 0, 512, true);
    assert.ok(prefix.length <= 3 * 508 && prefix.length > 0.5 * 3 * 381, `${prefix.length} chars`);
    assert.ok(doc.slice(0, at).endsWith(prefix) && doc[at - prefix.length - 1] === '\n', 'the prefix starts at a line start');
    assert.ok(suffix.endsWith('\n') && doc.slice(at).startsWith(suffix));
  });

  it('keeps both ends while the user types at the cursor', () => {
    const at = 9000;
    const first = anchoredWindow(doc.slice(0, at), doc.slice(at), 0, 512, true);
    for (const typed of ['x', 'xy', 'xyz.', 'xyz.abc']) {
      const w = anchoredWindow(doc.slice(0, at) + typed, doc.slice(at), 0, 512, true);
      assert.equal(w.prefix, first.prefix + typed);
      assert.equal(w.suffix, first.suffix);
    }
  });

  it('cuts the same text whether it gets the whole document or a window of it (documentOffset known)', () => {
    const at = 9000;
    const whole = anchoredWindow(doc.slice(0, at), doc.slice(at), 0, 512, true);
    for (const from of [2000, 5000, 7500]) {
      const w = anchoredWindow(doc.slice(from, at), doc.slice(at, at + 3000), from, 512, true);
      assert.deepEqual(w, whole);
    }
  });

  it('leaves short documents whole, and left-to-right prompts their whole suffix-free budget', () => {
    assert.deepEqual(anchoredWindow('a.b', 'c', 0, 1024, true), { prefix: 'a.b', suffix: 'c' });
    const left = anchoredWindow(doc.slice(0, 9000), doc.slice(9000), 0, 512, false);
    assert.ok(left.prefix.length > 3 * 381, 'without FIM the prefix takes the whole window');
  });
});
