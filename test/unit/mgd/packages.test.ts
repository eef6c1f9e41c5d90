import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { collectSources, handWrittenJs, installRoot, parsePackageList } from '../../../bench/mgd/packages.js';

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
        fs.writeFileSync(path.join(dir, f), 'export const x = 1;\n');
      }
      assert.deepEqual(collectSources(dir).map((f) => path.relative(dir, f)), ['lib/f.mts', 'src/a.ts', 'src/b.tsx']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('with javascript, adds hand-written JavaScript: not build output, minified, compiled, Flow, a dot file or a TypeScript twin', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mgd-js-'));
    const code = 'export function add(a, b) {\n  return a + b;\n}\n';
    const files: Record<string, string> = {
      'src/a.ts': 'export const a = 1;\n',
      'lib/a.js': code, // compiled twin of src/a.ts
      'src/tool.js': code,
      'src/util.mjs': code,
      'src/view.jsx': code,
      'src/tool.test.js': code,
      'dist/bundle.js': code,
      'build/out.js': code,
      'esm/index.js': code,
      'src/lib.min.js': code,
      'src/packed.js': `export const t = [${'1,'.repeat(600)}];\n`,
      'src/mapped.js': `${code}//# sourceMappingURL=mapped.js.map\n`,
      'src/cjs.js': `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n${code}`,
      'src/typed.js': `// @flow\n${code}`,
      'node_modules/dep/index.js': code,
      '.runkit_example.js': code,
      '.github/scripts/release.js': code,
    };
    try {
      for (const [f, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), text);
      }
      assert.deepEqual(collectSources(dir, { javascript: true }).map((f) => path.relative(dir, f)), ['src/a.ts', 'src/tool.js', 'src/util.mjs', 'src/view.jsx']);
      assert.deepEqual(collectSources(dir).map((f) => path.relative(dir, f)), ['src/a.ts']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('tells minified JavaScript from hand-written', () => {
    assert.equal(handWrittenJs('const a = 1;\nfunction f(x) {\n  return x + a;\n}\n'), true);
    assert.equal(handWrittenJs(`${'var a=1,b=2;function f(c){return c+a+b}'.repeat(8)}\n`), false, 'mean line too long');
    assert.equal(handWrittenJs(''), false);
  });
});
