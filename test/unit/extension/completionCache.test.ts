import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompletionCache, LruMap, remainderAfterTyping } from '../../../extension/completion/completionCache.js';

describe('LruMap', () => {
  it('evicts the least recently used entry', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    assert.equal(lru.get('a'), 1); // a is now most recent
    lru.set('c', 3);
    assert.equal(lru.get('b'), undefined);
    assert.equal(lru.get('a'), 1);
    assert.equal(lru.get('c'), 3);
    assert.deepEqual([...lru.entries()].map(([k]) => k), ['c', 'a']);
  });
});

describe('CompletionCache', () => {
  const doc = 'file:///a.ts';
  const prefix = 'const acc = new Account();\nacc.';
  const suffix = '\n';

  it('serves the rest of a completion when the user typed its start', () => {
    const cache = new CompletionCache();
    cache.put({ documentKey: doc, prefix, suffix, texts: ['deposit(10);'] });
    assert.deepEqual(cache.lookup(doc, prefix, suffix), ['deposit(10);']);
    assert.deepEqual(cache.lookup(doc, prefix + 'dep', suffix), ['osit(10);']);
  });

  it('misses when typing diverged, the suffix changed, another document, or all was typed', () => {
    const cache = new CompletionCache();
    cache.put({ documentKey: doc, prefix, suffix, texts: ['deposit(10);'] });
    assert.equal(cache.lookup(doc, prefix + 'w', suffix), undefined);
    assert.equal(cache.lookup(doc, prefix, ')\n'), undefined);
    assert.equal(cache.lookup('file:///b.ts', prefix, suffix), undefined);
    assert.equal(cache.lookup(doc, prefix + 'deposit(10);', suffix), undefined);
  });

  it('keeps only alternatives consistent with the typing', () => {
    const cache = new CompletionCache();
    cache.put({ documentKey: doc, prefix, suffix, texts: ['deposit(1);', 'withdraw(2);', 'deposit(3);'] });
    assert.deepEqual(cache.lookup(doc, prefix + 'de', suffix), ['posit(1);', 'posit(3);']);
  });

  it('is bounded', () => {
    const cache = new CompletionCache(2);
    for (let i = 0; i < 5; i++) cache.put({ documentKey: doc, prefix: `${prefix}${i}`, suffix, texts: ['x'] });
    assert.equal(cache.size, 2);
  });

  it('remainderAfterTyping', () => {
    assert.equal(remainderAfterTyping('abc', 'a'), 'bc');
    assert.equal(remainderAfterTyping('abc', 'x'), undefined);
    assert.equal(remainderAfterTyping('ab  ', 'ab'), undefined);
  });
});
