// Package list parsing, installation into a cache folder, and source collection for the MGD evaluation.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** One entry of a package list: an npm package at an exact version, or a local folder (fixtures). */
export type PackageSpec =
  | { kind: 'npm'; name: string; version: string; line: number }
  | { kind: 'local'; name: string; dir: string; line: number };

/** A package ready for evaluation: its own folder, the folder its dependencies resolve from, its sources. */
export interface InstalledPackage {
  readonly spec: PackageSpec;
  /** Display name, `name@version` or the local folder's package name. */
  readonly label: string;
  /** The package's own folder (inside node_modules for npm packages). */
  readonly dir: string;
  /** Non-declaration TypeScript sources and hand-written JavaScript sources (see collectSources), absolute paths, sorted. */
  readonly files: readonly string[];
}

const NPM_NAME = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;

/**
 * Parses `name@version` lines (`#` starts a comment; blank lines ignored). A line starting with `./`,
 * `../`, `/` or `file:` names a local folder, resolved against `baseDir` (the list file's folder).
 */
export function parsePackageList(text: string, baseDir: string): PackageSpec[] {
  const specs: PackageSpec[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const lineNo = i + 1;
    if (/^(\.{1,2}\/|\/|file:)/.test(line)) {
      const dir = path.resolve(baseDir, line.replace(/^file:/, ''));
      specs.push({ kind: 'local', name: localPackageName(dir), dir, line: lineNo });
      return;
    }
    const at = line.lastIndexOf('@');
    if (at <= 0) throw new Error(`package list line ${lineNo}: expected name@version, got "${line}"`);
    const name = line.slice(0, at);
    const version = line.slice(at + 1);
    if (!NPM_NAME.test(name) || version === '' || /\s/.test(version)) {
      throw new Error(`package list line ${lineNo}: expected name@version, got "${line}"`);
    }
    specs.push({ kind: 'npm', name, version, line: lineNo });
  });
  return specs;
}

function localPackageName(dir: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof pkg.name === 'string' && pkg.name !== '') return pkg.name;
  } catch {
    // no package.json: fall back to the folder name
  }
  return path.basename(dir);
}

export function specLabel(spec: PackageSpec): string {
  return spec.kind === 'npm' ? `${spec.name}@${spec.version}` : spec.name;
}

/** The cache folder for one npm package: its own install root, so dependency versions never mix. */
export function installRoot(cacheDir: string, spec: PackageSpec & { kind: 'npm' }): string {
  return path.join(cacheDir, `${spec.name.replace(/^@/, '').replace(/\//g, '+')}@${spec.version}`);
}

/**
 * Installs an npm package (with its dependencies, so their types resolve) into its own folder under
 * `cacheDir` with `npm install --ignore-scripts`; a finished install is reused. Local folders are used
 * in place.
 */
export async function installPackage(spec: PackageSpec, cacheDir: string, log: (msg: string) => void = () => {}): Promise<InstalledPackage> {
  if (spec.kind === 'local') {
    if (!fs.existsSync(spec.dir)) throw new Error(`package list line ${spec.line}: folder ${spec.dir} does not exist`);
    return { spec, label: spec.name, dir: spec.dir, files: collectSources(spec.dir, { javascript: true }) };
  }
  const root = installRoot(cacheDir, spec);
  const dir = path.join(root, 'node_modules', ...spec.name.split('/'));
  const marker = path.join(root, '.installed');
  if (!fs.existsSync(marker)) {
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'mgd-install', private: true }) + '\n');
    log(`installing ${specLabel(spec)} into ${root}`);
    await execFileAsync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `${spec.name}@${spec.version}`], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    const installed = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string };
    if (installed.version !== spec.version) throw new Error(`${specLabel(spec)}: npm installed version ${installed.version}`);
    fs.writeFileSync(marker, new Date().toISOString() + '\n');
  }
  return { spec, label: specLabel(spec), dir, files: collectSources(dir, { javascript: true }) };
}

const SOURCE = /\.(ts|tsx|mts|cts)$/;
const DECLARATION = /\.d\.(ts|mts|cts)$|\.d\.[\w-]+\.ts$/;
const TEST_FILE = /\.(test|spec)(-d)?\.[cm]?[jt]sx?$/;
const SKIPPED_DIRS = new Set(['node_modules', '__tests__', '__mocks__']);
const JS_SOURCE = /\.(js|mjs|cjs|jsx)$/i;

/** Whether a source file is JavaScript (checked with allowJs/checkJs; its sites are of kind `js`). */
export function isJavaScriptFile(file: string): boolean {
  return JS_SOURCE.test(file);
}
/** Folders that hold build output in published packages, not what the authors wrote. */
const BUILD_DIRS = new Set(['dist', 'build', 'out', 'esm', 'cjs', 'umd', 'es', 'bundle', 'bundles', 'min', 'coverage']);

/**
 * Whether a JavaScript file reads as written by hand: not minified (no line over 1,000 characters, mean
 * line under 120), not a compiler's output (no source map comment, no `__esModule` interop marker),
 * not Flow (its annotations are syntax errors here).
 */
export function handWrittenJs(text: string): boolean {
  if (/^\s*\/\/[#@] sourceMappingURL=/m.test(text)) return false;
  if (/Object\.defineProperty\(exports, ["']__esModule["']|exports\.__esModule\s*=/.test(text)) return false;
  if (/^\s*(\/\/|\/\*+|\*)\s*@flow\b/m.test(text.slice(0, 2000))) return false;
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return false;
  if (lines.some((l) => l.length > 1000)) return false;
  return lines.reduce((n, l) => n + l.length, 0) / lines.length < 120;
}

/**
 * Non-declaration TypeScript sources under `dir` (nested node_modules, test files and dot files left out), sorted.
 * With `javascript`, also the hand-written .js/.mjs/.cjs/.jsx sources outside build folders (dist/,
 * build/, esm/, ...) with no TypeScript source of the same base name anywhere in the package (a
 * compiled twin: `lib/a.js` beside `src/a.ts`).
 */
export function collectSources(dir: string, opts: { javascript?: boolean } = {}): string[] {
  const ts: string[] = [];
  const js: string[] = [];
  const walk = (d: string, inBuild: boolean): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      // Dot folders and files are tooling (.github, .runkit_example.js), not the package's sources.
      if (e.name.startsWith('.')) continue;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) walk(p, inBuild || BUILD_DIRS.has(e.name));
      } else if (!e.isFile() || TEST_FILE.test(e.name)) {
        continue;
      } else if (SOURCE.test(e.name) && !DECLARATION.test(e.name)) {
        ts.push(p);
      } else if (opts.javascript && !inBuild && isJavaScriptFile(e.name) && !/\.min\.[cm]?js$/.test(e.name)) {
        js.push(p);
      }
    }
  };
  walk(dir, false);
  const stem = (f: string): string => path.basename(f).replace(/\.[^.]+$/, '');
  const tsStems = new Set(ts.map(stem));
  const handWritten = js.filter((f) => !tsStems.has(stem(f)) && handWrittenJs(fs.readFileSync(f, 'utf8')));
  return [...ts, ...handWritten].sort();
}
