#!/usr/bin/env node
// Builds the VSIX for one platform target: `npm run package -- linux-x64` (default: this machine's).
// Only that platform's onnxruntime binaries go in; vsce runs without npm dependencies (the bundle has them).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = process.argv[2] ?? `${process.platform}-${process.arch}`;
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.join(root, 'out', `${pkg.name}-${target}-${pkg.version}.vsix`);
fs.mkdirSync(path.dirname(out), { recursive: true });
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
run(process.execPath, [path.join(root, 'scripts/build.mjs'), '--production', '--target', target]);
if (!fs.existsSync(path.join(root, 'model/default-model/onnx/model_quantized.onnx'))) throw new Error('model/default-model/onnx/model_quantized.onnx is missing: the VSIX ships the default model');
run(process.execPath, [path.join(root, 'node_modules/@vscode/vsce/vsce'), 'package', '--no-dependencies', '--target', target, '--out', out, '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links']);
console.log(JSON.stringify({ vsix: path.relative(root, out), target, bytes: fs.statSync(out).size }));
