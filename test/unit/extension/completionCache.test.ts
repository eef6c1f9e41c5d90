import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompletionCache, LruMap, remainderAfterTyping, typedBetween, type CursorWindow } from '../../../extension/completion/completionCache.js';

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

/** The window a host sends for a cursor at `offset` in `text` (before/after characters either side). */
function windowAt(text: string, offset: number, before = 8192, after = 2048): CursorWindow {
  return { offset, prefix: text.slice(Math.max(0, offset - before), offset), suffix: text.slice(offset, offset + after) };
}

describe('CompletionCache', () => {
  const doc = 'file:///a.ts';
  const prefix = 'const acc = new Account();\nacc.';
  const suffix = '\n';
  const at = (typed = '', s = suffix): CursorWindow => ({ offset: prefix.length + typed.length, prefix: prefix + typed, suffix: s });

  it('serves the rest of a completion when the user typed its start', () => {
    const cache = new CompletionCache();
    cache.put({ documentKey: doc, ...at(), texts: ['deposit(10);'] });
    assert.deepEqual(cache.lookup(doc, at()), ['deposit(10);']);
    assert.deepEqual(cache.lookup(doc, at('dep')), ['osit(10);']);
  });

  it('misses when typing diverged, the suffix changed, another document, or all was typed', () => {
    const cache = new CompletionCache();
    cache.put({ documentKey: doc, ...at(), texts: ['deposit(10);'] });
    assert.equal(cache.lookup(doc, at('w')), undefined);
    assert.equal(cache.lookup(doc, at('', ')\n')), undefined);
    assert.equal(cache.lookup('file:///b.ts', at()), undefined);
    assert.equal(cache.lookup(doc, at('deposit(10);')), undefined);
  });

  it('keeps only alternatives consistent with the typing', () => {
    const cache = new CompletionCache();
    cache.put({ documentKey: doc, ...at(), texts: ['deposit(1);', 'withdraw(2);', 'deposit(3);'] });
    assert.deepEqual(cache.lookup(doc, at('de')), ['posit(1);', 'posit(3);']);
  });

  it('is bounded in entries', () => {
    const cache = new CompletionCache(2);
    for (let i = 0; i < 5; i++) cache.put({ documentKey: doc, ...at(String(i)), texts: ['x'] });
    assert.equal(cache.size, 2);
  });

  it('serves a window that slid with the typing (the host sends bounded windows, not the document)', () => {
    const body = 'let x = 1;\n'.repeat(2000); // 22 k characters: the window starts past the document's start
    const text = `${body}acc.\n${body}`;
    const cursor = body.length + 4;
    const cache = new CompletionCache();
    cache.put({ documentKey: doc, ...windowAt(text, cursor), texts: ['deposit(10);'] });
    const typed = `${text.slice(0, cursor)}dep${text.slice(cursor)}`;
    assert.deepEqual(cache.lookup(doc, windowAt(typed, cursor + 3)), ['osit(10);']);
    const edited = `${text.slice(0, cursor - 4)}other.${text.slice(cursor)}`; // other text before the cursor
    assert.equal(cache.lookup(doc, windowAt(edited, cursor + 2)), undefined);
  });

  it('keeps neither the prefix nor the suffix: a 2 MB document costs the entry its texts only', () => {
    const huge = 'x'.repeat(2 * 1024 * 1024);
    const cache = new CompletionCache();
    for (let i = 0; i < 50; i++) cache.put({ documentKey: doc, offset: huge.length + i, prefix: huge + 'a'.repeat(i), suffix: huge, texts: ['deposit(10);'] });
    assert.equal(cache.size, 50);
    assert.ok(cache.bytes < 50 * 1024, `${cache.bytes} bytes`);
    assert.deepEqual(cache.lookup(doc, { offset: huge.length + 3, prefix: huge + 'aaa', suffix: huge }), ['deposit(10);']);
  });

  it('is bounded in bytes: big completions evict the oldest', () => {
    const cache = new CompletionCache({ entries: 100, bytes: 64 * 1024 });
    for (let i = 0; i < 20; i++) cache.put({ documentKey: doc, ...at(String(i)), texts: ['y'.repeat(4000)] });
    assert.ok(cache.bytes <= 64 * 1024, `${cache.bytes} bytes`);
    assert.ok(cache.size < 20 && cache.size > 0);
    assert.ok(cache.lookup(doc, at('19')), 'the newest stays');
    cache.clear();
    assert.equal(cache.bytes, 0);
  });

  it('remainderAfterTyping', () => {
    assert.equal(remainderAfterTyping('abc', 'a'), 'bc');
    assert.equal(remainderAfterTyping('abc', 'x'), undefined);
    assert.equal(remainderAfterTyping('ab  ', 'ab'), undefined);
  });

  it('typedBetween compares sliding windows by document offset', () => {
    const text = 'a'.repeat(100) + 'acc.' + '\n}';
    const from = windowAt(text, 104, 50, 10);
    const typedText = `${text.slice(0, 104)}de${text.slice(104)}`;
    assert.equal(typedBetween(from, windowAt(typedText, 106, 50, 10)), 'de');
    assert.equal(typedBetween(from, windowAt(text, 103, 50, 10)), undefined, 'the cursor moved back');
  });
});
