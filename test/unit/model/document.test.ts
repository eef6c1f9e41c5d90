import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeDocument, maxDocumentBytes, readDocument, splitAt } from '../../../model/document.js';
import { ModelError } from '../../../model/errors.js';

const doc = 'const a = 1;\r\nfoo.bar(a);\n\tx.😀y\n';

describe('splitAt', () => {
  it('puts the cursor before the character at LINE:COL (1-based, CRLF-aware)', () => {
    const col = 'foo.bar(a);'.indexOf('bar') + 1;
    const s = splitAt(doc, 2, col);
    assert.ok(s.prefix.endsWith('\r\nfoo.'));
    assert.ok(s.suffix.startsWith('bar(a);'));
    assert.equal(s.linePrefix, 'foo.');
    assert.equal(s.prefix + s.suffix, doc);
  });

  it('accepts the end of a line and the empty last line, nothing past them', () => {
    assert.equal(splitAt(doc, 1, 'const a = 1;'.length + 1).suffix.slice(0, 2), '\r\n');
    assert.equal(splitAt(doc, 4, 1).suffix, '');
    assert.throws(() => splitAt(doc, 5, 1), (e: unknown) => e instanceof ModelError && /line 5 is past the end/.test(e.message));
    assert.throws(() => splitAt(doc, 1, 20), /column 20 is past the end of line 1/);
    assert.throws(() => splitAt(doc, 0, 1), /not a valid LINE:COL/);
  });

  it('counts columns in UTF-16 code units like VS Code and refuses the middle of a surrogate pair', () => {
    const line = '\tx.😀y';
    const afterEmoji = line.indexOf('y') + 1;
    assert.equal(splitAt(doc, 3, afterEmoji).linePrefix, '\tx.😀');
    assert.throws(() => splitAt(doc, 3, line.indexOf('😀') + 2), /surrogate/);
  });

  it('works on an empty document at 1:1 only', () => {
    assert.deepEqual(splitAt('', 1, 1), { prefix: '', suffix: '', linePrefix: '', offset: 0 });
    assert.throws(() => splitAt('', 1, 2), ModelError);
  });
});

describe('document bytes', () => {
  it('refuses non-UTF-8 and binary content with a clear error', () => {
    assert.throws(() => decodeDocument(Uint8Array.from([0x61, 0xff, 0x62]), 'x.ts'), /x\.ts: is not UTF-8/);
    assert.throws(() => decodeDocument(Uint8Array.from([0x61, 0x00]), 'x.ts'), /not UTF-8/);
    assert.equal(decodeDocument(Buffer.from('héllo', 'utf8')), 'héllo');
  });

  it('refuses huge files, missing files and folders', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-doc-'));
    try {
      const big = path.join(dir, 'big.ts');
      fs.writeFileSync(big, '');
      fs.truncateSync(big, maxDocumentBytes + 1);
      assert.throws(() => readDocument(big), /MB; documents up to 16 MB/);
      assert.throws(() => readDocument(path.join(dir, 'nope.ts')), /cannot be read/);
      assert.throws(() => readDocument(dir), /is not a file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
