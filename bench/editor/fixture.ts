// The workspace the editor bench types in: a real package from the evaluation list, installed with its
// dependencies (cached), copied to a temporary folder laid out like a cloned repository (sources at the
// root, dependencies in node_modules), and the places to type: checker-verified dereference sites spread
// over the files with classes, and runs of real statement lines to retype during the typing storm.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { collectSources, installPackage, parsePackageList, specLabel, type InstalledPackage } from '../mgd/packages.js';
import { Rng } from '../mgd/random.js';
import { findSites, hashString, type Site } from '../mgd/sites.js';
import { TsProject } from '../mgd/tsProject.js';

export interface Workspace {
  readonly label: string;
  /** The temporary folder code-server opens. */
  readonly dir: string;
  /** Whether a tsconfig.json was written because the package ships none. */
  readonly tsconfigAdded: boolean;
  readonly sourceFiles: number;
}

/** A dereference site, located in the workspace copy. */
export interface EditorSite {
  /** Path relative to the workspace ('/' separators). */
  readonly file: string;
  /** 1-based line and the 1-based column of the `.`. */
  readonly line: number;
  readonly dotColumn: number;
  readonly receiver: string;
  readonly member: string;
  /** What the authors wrote from after the dot to the end of the line. */
  readonly truth: string;
  /** The whole original line. */
  readonly lineText: string;
  readonly legalCount: number;
}

/** Consecutive lines of real code at one indentation, each a complete statement with balanced brackets. */
export interface StormChunk {
  readonly file: string;
  /** 1-based first line. */
  readonly line: number;
  readonly indent: string;
  /** The lines without their indentation. */
  readonly lines: string[];
}

/** Resolves `name@version` against the development list (the bench runs on those packages only). */
export async function installFromDevList(listFile: string, wanted: string, cacheDir: string, log: (m: string) => void): Promise<InstalledPackage> {
  const specs = parsePackageList(fs.readFileSync(listFile, 'utf8'), path.dirname(listFile));
  const spec = specs.find((s) => specLabel(s) === wanted || s.name === wanted);
  if (!spec) throw new Error(`${wanted} is not in ${listFile} (${specs.map(specLabel).join(', ')})`);
  return installPackage(spec, cacheDir, log);
}

/**
 * Copies the installed package to `dir` and links its installed dependencies under `dir/node_modules`,
 * so the language servers resolve imports as in a developer's checkout. Links keep the copy small;
 * only the package's own files are ever edited (in memory: the bench never saves).
 */
export function makeWorkspace(pkg: InstalledPackage, dir: string): Workspace {
  fs.cpSync(pkg.dir, dir, { recursive: true, filter: (src) => !src.slice(pkg.dir.length).split(path.sep).includes('node_modules') });
  const installedModules = path.resolve(pkg.dir, ...pkg.spec.name.split('/').map(() => '..'));
  const own = pkg.spec.name.split('/');
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  for (const entry of fs.readdirSync(installedModules)) {
    if (entry.startsWith('.')) continue;
    const src = path.join(installedModules, entry);
    if (entry.startsWith('@')) {
      fs.mkdirSync(path.join(modules, entry), { recursive: true });
      for (const sub of fs.readdirSync(src)) {
        if (own.length === 2 && own[0] === entry && own[1] === sub) continue;
        fs.symlinkSync(path.join(src, sub), path.join(modules, entry, sub), 'dir');
      }
    } else if (entry !== own[0]) {
      fs.symlinkSync(src, path.join(modules, entry), 'dir');
    }
  }
  const sources = collectSources(dir);
  let tsconfigAdded = false;
  if (!fs.existsSync(path.join(dir, 'tsconfig.json'))) {
    // Published tarballs rarely ship their tsconfig; without one the servers fall back to an inferred
    // project with other options. Include the folders the sources live in.
    const roots = [...new Set(sources.map((f) => path.relative(dir, f).split(path.sep)[0]))];
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ESNext', 'DOM', 'DOM.Iterable'],
        strict: true, skipLibCheck: true, noEmit: true, allowImportingTsExtensions: true, esModuleInterop: true,
      },
      include: roots,
    }, null, 2) + '\n');
    tsconfigAdded = true;
  }
  return { label: pkg.label, dir, tsconfigAdded, sourceFiles: sources.length };
}

/** The workspace's largest source files that declare a class. */
export function classFiles(dir: string, count: number): string[] {
  return collectSources(dir)
    .filter((f) => /^\s*(export\s+)?(default\s+)?(abstract\s+)?class\s+\w/m.test(fs.readFileSync(f, 'utf8')))
    .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)
    .slice(0, count);
}

/**
 * `perFile` sites in each file, spread over the file's length, in the order a person would visit them:
 * down each file, hopping between files (seeded). Sites come from the evaluation's site finder: the
 * receiver's type resolves and the authors' member is among the checker's completions at the dot.
 */
export function chooseSites(dir: string, files: readonly string[], perFile: number, seed: number): EditorSite[] {
  const project = new TsProject(collectSources(dir), dir);
  try {
    const found = findSites(project, 'bench-editor', dir, files, files.length * perFile * 6, { seed, attemptsPerSite: 10 });
    const byFile = new Map<string, Site[]>();
    for (const s of found) {
      const lineText = fs.readFileSync(s.file, 'utf8').slice(s.lineStart, s.lineEnd);
      // The dot must follow code on its line (not start a continued chain): we type it after the receiver.
      if (lineText.slice(0, s.offset - 1 - s.lineStart).trim() === '') continue;
      const list = byFile.get(s.file) ?? [];
      if (!list.some((o) => Math.abs(o.line - s.line) < 3)) byFile.set(s.file, [...list, s]);
    }
    const queues = files.map((f) => spread((byFile.get(f) ?? []).sort((a, b) => a.offset - b.offset), perFile));
    const rng = new Rng(seed ^ hashString(files.map((f) => path.relative(dir, f)).join("\n")));
    const order: Site[] = [];
    for (let last = -1; queues.some((q) => q.length > 0);) {
      const open = queues.map((q, i) => i).filter((i) => queues[i].length > 0 && (i !== last || queues.filter((q) => q.length > 0).length === 1));
      // Mostly another file next; now and then two sites of one file in a row (a long jump within it).
      const i = last >= 0 && queues[last].length > 0 && rng.next() < 0.25 ? last : open[rng.int(open.length)];
      order.push(queues[i].shift()!);
      last = i;
    }
    return order.map((s) => {
      const text = fs.readFileSync(s.file, 'utf8');
      return {
        file: path.relative(dir, s.file).split(path.sep).join('/'),
        line: s.line + 1,
        dotColumn: s.offset - 1 - s.lineStart + 1,
        receiver: s.receiver,
        member: s.member,
        truth: s.truth,
        lineText: text.slice(s.lineStart, s.lineEnd),
        legalCount: s.legalCount,
      };
    });
  } finally {
    project.dispose();
  }
}

function spread<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, k) => items[Math.floor(((k + 0.5) * items.length) / n)]);
}

/** Whether a line is one complete statement that types the same with auto-closing brackets on. */
function typeableStatement(line: string): boolean {
  const t = line.trim();
  if (t.length < 12 || t.length > 80) return false;
  if (/^(\/\/|\/\*|\*|case\b|default\b|else\b|\}|\{)/.test(t) || /[`]/.test(t)) return false;
  if (/([,({[]|=>|&&|\|\||[+\-*/?:=])$/.test(t) || /\/\//.test(t)) return false;
  // A bodiless `if (...)`/`for (...)` line makes Enter indent the next line one level deeper.
  if (/^(if|for|while)\b.*\)$/.test(t)) return false;
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, t);
  let depth = 0;
  for (let tok = scanner.scan(); tok !== ts.SyntaxKind.EndOfFileToken; tok = scanner.scan()) {
    if (tok === ts.SyntaxKind.OpenParenToken || tok === ts.SyntaxKind.OpenBracketToken || tok === ts.SyntaxKind.OpenBraceToken) depth++;
    if (tok === ts.SyntaxKind.CloseParenToken || tok === ts.SyntaxKind.CloseBracketToken || tok === ts.SyntaxKind.CloseBraceToken) depth--;
    if (depth < 0 || tok === ts.SyntaxKind.Unknown) return false;
  }
  return depth === 0;
}

/** Runs of ≥ `minLines` typeable statements at one indentation inside a body, from each file in turn (seeded). */
export function stormChunks(dir: string, files: readonly string[], minLines: number, seed: number): StormChunk[] {
  const rng = new Rng(seed ^ 0x5eed);
  const perFile = files.map((file) => {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const runs: StormChunk[] = [];
    for (let i = 0; i < lines.length;) {
      const indent = /^ */.exec(lines[i])![0];
      let j = i;
      while (j < lines.length && indent.length >= 2 && typeableStatement(lines[j]) && /^ */.exec(lines[j])![0] === indent) j++;
      if (j - i >= minLines) {
        runs.push({ file: path.relative(dir, file).split(path.sep).join('/'), line: i + 1, indent, lines: lines.slice(i, j).map((l) => l.trim()) });
      }
      i = Math.max(j, i + 1);
    }
    return rng.shuffle(runs);
  });
  const out: StormChunk[] = [];
  while (perFile.some((r) => r.length > 0)) for (const r of perFile) if (r.length > 0) out.push(r.shift()!);
  return out;
}
