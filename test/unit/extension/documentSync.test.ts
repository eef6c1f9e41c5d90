import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DocumentSync, windowRange, WINDOW_AFTER_CHARS, WINDOW_BEFORE_CHARS, type EditorDocument } from '../../../extension/completion/documentSync.js';
import type { DocumentEvent } from '../../../extension/engineWorker/protocol.js';

/** A document as the host adapts it; `reads` counts whole-text reads. */
function doc(over: Partial<EditorDocument> & { text?: string } = {}): EditorDocument & { reads: number } {
  const d = {
    key: 'file:///w/main.ts', filePath: '/w/main.ts', languageId: 'typescript', version: 1, workspaceRoot: '/w', reads: 0,
    getText: () => {
      d.reads++;
      return over.text ?? 'const acc = new Account();\n';
    },
    ...over,
  };
  return d;
}

describe('DocumentSync', () => {
  const setup = (languages = ['typescript']) => {
    const events: DocumentEvent[] = [];
    const sync = new DocumentSync((e) => events.push(e), () => languages, () => 1000);
    return { events, sync };
  };

  it('opens documents of the configured languages once with their text, then sends only their changes', () => {
    const { events, sync } = setup();
    const d = doc();
    sync.opened(d);
    sync.changed({ ...d, version: 2 }, [{ rangeOffset: 27, rangeLength: 0, text: 'acc.' }]);
    sync.changed({ ...d, version: 3 }, [{ rangeOffset: 27, rangeLength: 4, text: 'a' }, { rangeOffset: 0, rangeLength: 5, text: 'let' }]);
    assert.deepEqual(events, [
      { kind: 'open', filePath: '/w/main.ts', languageId: 'typescript', version: 1, text: 'const acc = new Account();\n', workspaceRoot: '/w' },
      { kind: 'change', filePath: '/w/main.ts', version: 2, changes: [{ offset: 27, length: 0, text: 'acc.' }] },
      { kind: 'change', filePath: '/w/main.ts', version: 3, changes: [{ offset: 27, length: 4, text: 'a' }, { offset: 0, length: 5, text: 'let' }] },
    ]);
    assert.equal(d.reads, 1, 'the whole text is read once, at open');
    assert.ok(sync.mirrors({ key: d.key, version: 3 }));
    assert.ok(!sync.mirrors({ key: d.key, version: 2 }));
    assert.equal(sync.lastChange(d.key), 1000);
  });

  it('ignores other languages, documents without a path and changes that change nothing', () => {
    const { events, sync } = setup();
    sync.opened(doc({ key: 'file:///w/a.py', filePath: '/w/a.py', languageId: 'python' }));
    sync.opened(doc({ key: 'untitled:Untitled-1', filePath: undefined }));
    sync.changed(doc({ key: 'file:///w/a.py', filePath: '/w/a.py', languageId: 'python' }), [{ rangeOffset: 0, rangeLength: 0, text: 'x' }]);
    const d = doc();
    sync.opened(d);
    sync.changed({ ...d, version: 2 }, []);
    assert.deepEqual(events.map((e) => e.kind), ['open']);
  });

  it('closes what it opened, once', () => {
    const { events, sync } = setup();
    const d = doc();
    sync.opened(d);
    sync.closed(d);
    sync.closed(d);
    sync.closed(doc({ key: 'file:///w/other.ts', filePath: '/w/other.ts' }));
    assert.deepEqual(events, [events[0], { kind: 'close', filePath: '/w/main.ts' }]);
    assert.equal(sync.size, 0);
  });

  it('follows the languages setting, and reopens everything when the engine lost its mirror', () => {
    const languages = ['typescript'];
    const { events, sync } = setup(languages);
    const ts = doc();
    const py = doc({ key: 'file:///w/a.py', filePath: '/w/a.py', languageId: 'python' });
    sync.opened(ts);
    sync.opened(py);
    languages.splice(0, 1, 'python');
    sync.reconcile([ts, py]);
    assert.deepEqual(events.slice(1).map((e) => `${e.kind} ${e.filePath}`), ['close /w/main.ts', 'open /w/a.py']);
    sync.reopenAll([ts, py]);
    assert.deepEqual(events.slice(3).map((e) => `${e.kind} ${e.filePath}`), ['open /w/a.py']);
  });

  it('does not mirror documents larger than the engine accepts', () => {
    const { events, sync } = setup();
    sync.opened(doc({ text: 'x'.repeat(5 * 1024 * 1024) }));
    assert.deepEqual(events, []);
  });
});

describe('windowRange', () => {
  it('bounds the text a request carries around the cursor', () => {
    assert.deepEqual(windowRange(1_000_000, 2_000_000), { start: 1_000_000 - WINDOW_BEFORE_CHARS, end: 1_000_000 + WINDOW_AFTER_CHARS });
    assert.deepEqual(windowRange(10, 50), { start: 0, end: 50 });
    assert.deepEqual(windowRange(80, 50), { start: 0, end: 50 });
  });
});
