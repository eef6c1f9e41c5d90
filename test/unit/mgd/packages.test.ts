import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { collectSources, installRoot, parsePackageList } from '../../../bench/mgd/packages.js';

void describe('mgd package list', () => {
  void it('parses name@version lines, scoped names, comments and local folders', () => {
    const specs = parsePackageList('# dev list\n@trpc/server@11.25.2\n\najv@8.20.0  # trailing comment\n./fixture\n', '/base');
    assert.deepEqual(specs.map((s) => (s.kind === 'npm' ? `${s.name}|${s.version}|${s.line}` : `local|${s.dir}|${s.line}`)), [
      '@trpc/server|11.25.2|2',
      'ajv|8.20.0|4',
      'local|/base/fixture|5',
    ]);
  });

  void it('rejects a line without a version, naming the line', () => {
    assert.throws(() => parsePackageList('ajv@8.20.0\nreselect\n', '/'), /line 2/);
    assert.throws(() => parsePackageList('@scope/name\n', '/'), /line 1/);
  });

  void it('gives every npm package its own install folder', () => {
    const a = installRoot('/c', { kind: 'npm', name: '@trpc/server', version: '1.0.0', line: 1 });
    const b = installRoot('/c', { kind: 'npm', name: 'trpc-server', version: '1.0.0', line: 2 });
    assert.equal(path.dirname(a), '/c');
    assert.notEqual(a, b);
  });

  void it('collects non-declaration TypeScript sources, skipping node_modules and test files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mgd-src-'));
    try {
      for (const f of ['src/a.ts', 'src/b.tsx', 'src/c.d.ts', 'src/d.test.ts', 'src/h.test-d.ts', 'node_modules/x/e.ts', 'lib/f.mts', 'lib/g.js']) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), '');
      }
      assert.deepEqual(collectSources(dir).map((f) => path.relative(dir, f)), ['lib/f.mts', 'src/a.ts', 'src/b.tsx']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
