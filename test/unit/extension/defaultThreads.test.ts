import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultThreads } from '../../../extension/engineWorker/codeModelWorker.js';

describe('defaultThreads', () => {
  it('uses both cores of a 2-core machine, leaves one core of larger ones to the editor, and stops at four', () => {
    assert.deepEqual([1, 2, 3, 4, 6, 16].map((c) => defaultThreads(c)), [1, 2, 2, 3, 4, 4]);
  });
});
