#!/usr/bin/env node
// Gathers the training corpus: `npm pack` every package of the training list, extracts the
// tarballs, keeps TypeScript / declaration / non-minified JavaScript sources, de-duplicates them,
// caps each package's share, and writes train/val JSONL (one JSON string per document).
// Refuses any package that is on the evaluation list.
//
//   node model/train/gatherCorpus.mjs --packages ../shared/corpus/train-packages.txt \
//        --exclude ../shared/eval/dev-packages.txt --out .corpus
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

function parseArgs(argv) {
  const args = { packages: '../shared/corpus/train-packages.txt', exclude: '../shared/eval/dev-packages.txt', out: '.corpus', cap: 0.06, valFraction: 0.02, maxFileBytes: 400_000 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) && key !== 'valFraction') throw new Error(`unknown option --${key}`);
    args[key] = typeof args[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return args;
}

export function readPackageList(file) {
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

/** Package name without a version: `@a/b@1.2` → `@a/b`. */
export function packageName(spec) {
  const at = spec.lastIndexOf('@');
  return at > 0 ? spec.slice(0, at) : spec;
}

// Special-token strings inside source text would be read as special tokens by the JS tokenizer.
const SPECIAL = /<\|endoftext\|>|<fim_(prefix|suffix|middle|pad)>|<file_sep>|<\|fim_[a-z]+\|>/g;

function isMinified(text) {
  const lines = text.split('\n');
  if (lines.length === 0) return true;
  const long = lines.filter((l) => l.length > 300).length;
  return long / lines.length > 0.02 || text.length / lines.length > 120;
}

function kindOf(file) {
  if (/\.d\.(m|c)?ts$/.test(file)) return 'dts';
  if (/\.(m|c)?tsx?$/.test(file)) return 'ts';
  if (/\.(m|c)?jsx?$/.test(file) && !/\.min\.js$/.test(file)) return 'js';
  return null;
}

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const excluded = new Set(readPackageList(args.exclude).map(packageName));
  const wanted = readPackageList(args.packages);
  for (const spec of wanted) {
    if (excluded.has(packageName(spec))) throw new Error(`refusing to train on evaluation package ${spec}`);
  }
  const tarDir = path.join(args.out, 'tarballs');
  const srcDir = path.join(args.out, 'src');
  fs.mkdirSync(tarDir, { recursive: true });
  fs.mkdirSync(srcDir, { recursive: true });

  const manifestPath = path.join(args.out, 'manifest.json');
  const manifest = fs.existsSync(manifestPath) ? JSON.parse(fs.readFileSync(manifestPath, 'utf8')) : {};
  const todo = wanted.filter((s) => !manifest[packageName(s)]);
  for (let i = 0; i < todo.length; i += 20) {
    const batch = todo.slice(i, i + 20);
    let packed = [];
    try {
      packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarDir, ...batch], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }));
    } catch {
      // One bad name fails the whole batch: retry one at a time.
      for (const spec of batch) {
        try {
          packed.push(...JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarDir, spec], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] })));
        } catch { console.error(`skip ${spec}: npm pack failed`); }
      }
    }
    for (const p of packed) manifest[p.name] = { version: p.version, filename: p.filename, integrity: p.integrity };
    fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 1));
    console.error(`packed ${Object.keys(manifest).length}/${wanted.length}`);
  }

  const seen = new Set();
  const perPackage = new Map();
  for (const [name, info] of Object.entries(manifest)) {
    const dest = path.join(srcDir, name.replace('/', '__'));
    if (!fs.existsSync(dest)) {
      fs.mkdirSync(dest, { recursive: true });
      execFileSync('tar', ['-xzf', path.join(tarDir, path.basename(info.filename)), '-C', dest, '--no-same-owner']);
    }
    const docs = [];
    for (const file of walk(dest).sort()) {
      const kind = kindOf(file);
      if (!kind) continue;
      const buf = fs.readFileSync(file);
      if (buf.length < 64 || buf.length > args.maxFileBytes) continue;
      let text = buf.toString('utf8');
      if (text.includes('\uFFFD')) continue;
      if (kind === 'js' && isMinified(text)) continue;
      if (/\/\/# sourceMappingURL=data:/.test(text)) text = text.replace(/\/\/# sourceMappingURL=data:.*$/gm, '');
      text = text.replace(SPECIAL, '').replace(/\r\n/g, '\n');
      const hash = createHash('sha1').update(text).digest('hex');
      if (seen.has(hash)) continue;
      seen.add(hash);
      docs.push({ kind, hash, text, path: `${name}/${path.relative(dest, file).replace(/^package\//, '')}` });
    }
    perPackage.set(name, docs);
  }

  // Cap each package's share of the characters, preferring .ts over .d.ts over .js.
  const total = [...perPackage.values()].flat().reduce((n, d) => n + d.text.length, 0);
  const cap = Math.floor(total * args.cap);
  const rank = { ts: 0, dts: 1, js: 2 };
  const train = fs.createWriteStream(path.join(args.out, 'train.jsonl'));
  const val = fs.createWriteStream(path.join(args.out, 'val.jsonl'));
  const stats = { packages: perPackage.size, docs: 0, chars: 0, byKind: { ts: 0, dts: 0, js: 0 }, valDocs: 0, valChars: 0 };
  for (const [, docs] of perPackage) {
    docs.sort((a, b) => rank[a.kind] - rank[b.kind] || a.hash.localeCompare(b.hash));
    let used = 0;
    for (const d of docs) {
      if (used + d.text.length > cap) continue;
      used += d.text.length;
      // Held-apart split by content hash: stable across runs and machines.
      const isVal = parseInt(d.hash.slice(0, 8), 16) / 0xffffffff < args.valFraction;
      (isVal ? val : train).write(JSON.stringify({ path: d.path, kind: d.kind, text: d.text }) + '\n');
      stats.docs++; stats.chars += d.text.length; stats.byKind[d.kind] += d.text.length;
      if (isVal) { stats.valDocs++; stats.valChars += d.text.length; }
    }
  }
  train.end(); val.end();
  fs.writeFileSync(path.join(args.out, 'stats.json'), JSON.stringify(stats, null, 1));
  console.log(JSON.stringify(stats));
}

main();
