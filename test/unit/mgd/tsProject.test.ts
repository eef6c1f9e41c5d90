import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import ts from 'typescript';
import { DEFAULT_COMPILER_OPTIONS, packageCompilerOptions, TsProject } from '../../../bench/mgd/tsProject.js';

void describe('mgd checker options: the package\'s tsconfig.json or the defaults', () => {
  let dir: string;
  const write = (rel: string, text: string): string => {
    const f = path.join(dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, text);
    return f;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mgd-tsconfig-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  void it('uses the defaults without a tsconfig.json', () => {
    const files = [write('src/a.ts', 'export const a = 1;\n')];
    const r = packageCompilerOptions(dir, files);
    assert.equal(r.source, 'default');
    assert.equal(r.options.strict, DEFAULT_COMPILER_OPTIONS.strict);
    assert.equal(r.options.allowJs, false);
  });

  void it('uses the package\'s options, with skipLibCheck and noEmit forced, emit options dropped, checkJs with JavaScript', () => {
    write('tsconfig.json', JSON.stringify({ compilerOptions: { strict: false, exactOptionalPropertyTypes: true, skipLibCheck: false, noEmit: false, emitDeclarationOnly: true, outDir: 'dist' }, include: ['src'] }));
    const files = [write('src/a.ts', 'export const a = 1;\n'), write('src/b.js', 'export const b = 2;\n')];
    const r = packageCompilerOptions(dir, files);
    assert.deepEqual({ source: r.source, file: r.file }, { source: 'tsconfig', file: 'tsconfig.json' });
    assert.deepEqual([r.options.strict, r.options.exactOptionalPropertyTypes, r.options.skipLibCheck, r.options.noEmit], [false, true, true, true]);
    assert.deepEqual([r.options.emitDeclarationOnly, r.options.outDir], [undefined, undefined]);
    assert.deepEqual([r.options.allowJs, r.options.checkJs], [true, true]);
  });

  void it('falls back to the defaults, saying why, when tsconfig.json extends a file the tarball lacks', () => {
    write('tsconfig.json', JSON.stringify({ extends: '../../tsconfig.base.json', compilerOptions: { strict: false } }));
    const r = packageCompilerOptions(dir, [write('src/a.ts', 'export const a = 1;\n')]);
    assert.equal(r.source, 'default');
    assert.match(r.note ?? '', /tsconfig\.json not used: .*tsconfig\.base\.json/);
    assert.equal(r.options.strict, true);
  });

  void it('follows a solution-style tsconfig.json to the referenced config that covers the sources', () => {
    write('tsconfig.json', JSON.stringify({ files: [], references: [{ path: './tsconfig.test.json' }, { path: './tsconfig.lib.json' }] }));
    write('tsconfig.test.json', JSON.stringify({ compilerOptions: { composite: true, strict: false }, include: ['test'] }));
    write('tsconfig.lib.json', JSON.stringify({ compilerOptions: { composite: true, noImplicitReturns: true }, include: ['src'] }));
    const r = packageCompilerOptions(dir, [write('src/a.ts', 'export const a = 1;\n')]);
    assert.deepEqual({ source: r.source, file: r.file }, { source: 'tsconfig', file: 'tsconfig.lib.json' });
    assert.deepEqual([r.options.noImplicitReturns, r.options.composite], [true, undefined]);
  });

  void it('keys errors by line, code and message, not column', () => {
    write('tsconfig.json', JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler' } }));
    const file = write('src/a.ts', 'export const n: number = "x";\n');
    const project = new TsProject([file], dir);
    try {
      assert.deepEqual(project.errorKeys(file, 'export const n: number = "x";\n'), ["1 TS2322: Type 'string' is not assignable to type 'number'."]);
      // The same error one column over has the same key.
      assert.deepEqual(project.errorKeys(file, 'export  const n: number = "x";\n'), project.errorKeys(file, 'export const n: number = "x";\n'));
      assert.equal(project.options.target, ts.ScriptTarget.ES2022);
    } finally {
      project.dispose();
    }
  });
});
