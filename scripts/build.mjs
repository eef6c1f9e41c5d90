#!/usr/bin/env node
// Bundles the extension with esbuild:
//   dist/extension.js     extension host side (vscode external)
//   dist/engineWorker.js  the engine process, forked by EngineClient (model, tokenizer, PIE, language servers; never vscode)
// onnxruntime-node stays external (a native add-on found by a computed path); it is copied with
// onnxruntime-common into dist/node_modules/ holding only the target platform's binaries.
// Pure-JS dependencies (onnx-proto, protobufjs and long for model/lastLogits.ts, ...) are bundled.
// Usage: node scripts/build.mjs [--target linux-x64] [--production]
import esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const production = args.includes('--production');
const targetArg = args.includes('--target') ? args[args.indexOf('--target') + 1] : `${process.platform}-${process.arch}`;
const [platform, arch] = targetArg.split('-');
const dist = path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  external: ['vscode', 'onnxruntime-node', 'web-tree-sitter', 'koffi'],
};
await Promise.all([
  esbuild.build({ ...common, entryPoints: [path.join(root, 'extension/main.ts')], outfile: path.join(dist, 'extension.js') }),
  esbuild.build({ ...common, entryPoints: [path.join(root, 'extension/engineWorker/engineWorker.ts')], outfile: path.join(dist, 'engineWorker.js') }),
]);

// Runtime packages the worker loads from dist/node_modules (native add-ons, .wasm files and language
// server programs are found by path, so they are copied rather than bundled), pruned to one platform.
function copyPackage(name, keep = () => true) {
  const from = path.join(root, 'node_modules', name);
  const to = path.join(dist, 'node_modules', name);
  fs.cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(from, src);
      if (rel === '') return true;
      if (rel.endsWith('.map') || /(^|\/)(test|tests|docs?)(\/|$)/.test(rel)) return false;
      return fs.statSync(src).isDirectory() ? keep(rel, true) : keep(rel, false);
    },
  });
}
const ortBin = path.join('bin', 'napi-v6');
copyPackage('onnxruntime-node', (rel) => {
  if (rel.startsWith('script') || rel.startsWith('lib') || rel.endsWith('.d.ts')) return false;
  if (!rel.startsWith(ortBin) || rel === ortBin) return true;
  const [p, a] = path.relative(ortBin, rel).split(path.sep);
  return p === platform && (a === undefined || a === arch);
});
copyPackage('onnxruntime-common', (rel) => !rel.startsWith('lib') && !rel.endsWith('.d.ts'));
// koffi (FFI) for glibc's malloc_trim in the engine process (engine/memoryTrim.ts): its loader and this
// platform's prebuilt add-on only (Linux; elsewhere the engine does without it).
const koffiTriplet = `${platform}_${arch}`;
copyPackage('koffi', (rel, dir) => {
  if (!rel.includes(path.sep)) return dir ? rel === 'build' : ['package.json', 'index.js', 'indirect.js', 'LICENSE.txt'].includes(rel);
  return rel === path.join('build', 'koffi') || rel.startsWith(path.join('build', 'koffi', koffiTriplet));
});
// The monitor: tree-sitter runtime and grammars, TypeScript 7's native language server, pyright.
copyPackage('web-tree-sitter', (rel, dir) => (dir ? false : /\.(cjs|js|wasm|json)$/.test(rel)));
copyPackage('tree-sitter-typescript', (rel, dir) => !dir && (rel === 'package.json' || /^tree-sitter-(typescript|tsx)\.wasm$/.test(rel)));
copyPackage('tree-sitter-python', (rel, dir) => !dir && (rel === 'package.json' || rel === 'tree-sitter-python.wasm'));
copyPackage('typescript7', (rel, dir) => !dir && rel === 'package.json');
copyPackage(`@typescript/typescript-${platform}-${arch}`);
copyPackage('pyright', (rel) => !rel.endsWith('.d.ts'));
// The alternative TypeScript server the settings offer: typescript-language-server over TypeScript 6's
// tsserver (its program, the default lib .d.ts files, no localizations or compiler CLI).
copyPackage('typescript-language-server', (rel, dir) => (dir ? rel === 'lib' : rel === 'package.json' || rel === path.join('lib', 'cli.mjs')));
copyPackage('typescript', (rel, dir) => (dir ? rel === 'lib'
  : rel === 'package.json' || (path.dirname(rel) === 'lib' && (/^lib\..*\.d\.ts$/.test(path.basename(rel)) || ['tsserver.js', '_tsserver.js', 'typescript.js', 'typingsInstaller.js', '_typingsInstaller.js', 'watchGuard.js'].includes(path.basename(rel))))));
const binary = path.join(dist, 'node_modules/onnxruntime-node', ortBin, platform, arch);
if (!fs.existsSync(binary)) throw new Error(`onnxruntime-node has no binaries for ${targetArg}`);
const size = (dir) => fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
console.log(JSON.stringify({ target: targetArg, production, distBytes: size(dist) }));
