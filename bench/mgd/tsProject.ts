// An in-process TypeScript 6 language service over one package's sources, with in-memory overlays.
//
// Why this rather than TS7's `tsc --lsp --stdio` for compile-rate diagnostics: site selection already
// needs a checker (receiver types, member lists), and the compile-rate check compares a file's error
// count before and after one line changes, so both counts must come from the same checker with the same
// options as the site finder, or the baseline drifts. The language service gives exactly that, keeps
// unchanged files' syntax trees between checks (an edit re-checks one file, not the package), needs no
// child process, and is deterministic. TS7 is a port of the same checker; the `DiagnosticsOracle`
// interface lets an LSP-backed implementation replace this one.
//
// Options: the package's own tsconfig.json when it has one that parses (its strictness, paths and libs
// decide what is an error), else DEFAULT_COMPILER_OPTIONS; skipLibCheck and noEmit are forced on, and
// allowJs/checkJs when JavaScript sources are among the root files.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { isJavaScriptFile } from './packages.js';

/** Type and syntax errors of one file whose text is given in memory (the file on disk is untouched). */
export interface DiagnosticsOracle {
  /**
   * The file's errors keyed by code, message and 1-based line, not column: a completion replaces the
   * rest of one line with one line, so keys of errors elsewhere stay equal and a multiset difference
   * says which errors the completion introduced.
   */
  errorKeys(file: string, text: string): string[];
  /** Messages of the errors with line:column (for reports and debugging). */
  errors(file: string, text: string): string[];
  errorCount(file: string, text: string): number;
}

export const DEFAULT_COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.esnext.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
  strict: true,
  skipLibCheck: true,
  noEmit: true,
  allowImportingTsExtensions: true,
  allowJs: false,
  jsx: ts.JsxEmit.ReactJSX,
  esModuleInterop: true,
  resolveJsonModule: true,
  experimentalDecorators: true,
};

/** Where a project's compiler options came from (reported per package). */
export interface CompilerOptionsSource {
  /** `tsconfig`: the package's tsconfig.json; `default`: DEFAULT_COMPILER_OPTIONS; `given`: the caller's. */
  readonly source: 'tsconfig' | 'default' | 'given';
  /** The config file used (a referenced one for a solution-style tsconfig.json), relative to the package. */
  readonly file?: string;
  /** Why the package's tsconfig.json was not used, when it exists. */
  readonly note?: string;
}

/** Emit-only options: the checker never emits, and some of them conflict with noEmit. */
const EMIT_OPTIONS = ['composite', 'incremental', 'tsBuildInfoFile', 'declaration', 'declarationMap', 'emitDeclarationOnly', 'sourceMap', 'inlineSourceMap', 'inlineSources', 'outDir', 'outFile', 'declarationDir'] as const;

/** "No inputs were found in config file": the tarball lacks the folders `include` names; the options still apply. */
const NO_INPUTS = 18003;

/** `base` with what the harness's checker needs forced on top (see packageCompilerOptions). */
export function checkerOptions(base: ts.CompilerOptions, rootFiles: readonly string[]): ts.CompilerOptions {
  const out: ts.CompilerOptions = { ...base, skipLibCheck: true, noEmit: true };
  for (const k of EMIT_OPTIONS) delete out[k];
  if (rootFiles.some(isJavaScriptFile)) Object.assign(out, { allowJs: true, checkJs: true });
  // TypeScript 6 reports options deprecated for 7 as errors; the package chose them, keep them working.
  if (out.ignoreDeprecations === undefined) out.ignoreDeprecations = '6.0';
  return out;
}

function parseConfig(file: string): { parsed?: ts.ParsedCommandLine; error?: string } {
  const read = ts.readConfigFile(file, ts.sys.readFile);
  if (read.error) return { error: ts.flattenDiagnosticMessageText(read.error.messageText, ' ') };
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, path.dirname(file), undefined, file);
  const errors = parsed.errors.filter((d) => d.category === ts.DiagnosticCategory.Error && d.code !== NO_INPUTS);
  // A missing `extends` base (common in tarballs cut from monorepos) leaves half a configuration: not used.
  if (errors.length > 0) return { error: errors.map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`).join('; ') };
  return { parsed };
}

/**
 * The compiler options for a package folder: its tsconfig.json when that parses; for a solution-style
 * tsconfig.json (no files of its own, only references) the referenced config covering most of
 * `rootFiles`; else the defaults. Forced on top: skipLibCheck, noEmit, no emit options, and
 * allowJs/checkJs when `rootFiles` has JavaScript.
 */
export function packageCompilerOptions(dir: string, rootFiles: readonly string[]): { options: ts.CompilerOptions } & CompilerOptionsSource {
  const force = (o: ts.CompilerOptions): ts.CompilerOptions => checkerOptions(o, rootFiles);
  const configFile = path.join(dir, 'tsconfig.json');
  if (!fs.existsSync(configFile)) return { options: force(DEFAULT_COMPILER_OPTIONS), source: 'default' };
  const { parsed, error } = parseConfig(configFile);
  if (!parsed) return { options: force(DEFAULT_COMPILER_OPTIONS), source: 'default', note: `tsconfig.json not used: ${error}` };
  const wanted = new Set(rootFiles.map((f) => path.resolve(f)));
  const cover = (p: ts.ParsedCommandLine): number => p.fileNames.filter((f) => wanted.has(path.resolve(f))).length;
  let best = { parsed, file: configFile };
  if (parsed.fileNames.length === 0 && parsed.projectReferences?.length) {
    let bestCover = 0;
    for (const ref of parsed.projectReferences) {
      const refFile = ts.resolveProjectReferencePath(ref);
      const r = fs.existsSync(refFile) ? parseConfig(refFile).parsed : undefined;
      if (r && cover(r) > bestCover) {
        best = { parsed: r, file: refFile };
        bestCover = cover(r);
      }
    }
  }
  return { options: force(best.parsed.options), source: 'tsconfig', file: path.relative(dir, best.file).split(path.sep).join('/') };
}

export class TsProject implements DiagnosticsOracle {
  readonly service: ts.LanguageService;
  /** Where the options came from (the package's tsconfig.json or the defaults). */
  readonly config: CompilerOptionsSource;
  readonly options: ts.CompilerOptions;
  private readonly overlays = new Map<string, { text: string; version: number }>();
  private readonly diagnosticsCache = new Map<string, { keys: string[]; messages: string[] }>();
  private versionCounter = 0;

  /** `options` omitted: the package's own configuration (see packageCompilerOptions); given: those, with checkerOptions forced. */
  constructor(readonly rootFiles: readonly string[], readonly currentDirectory: string, options?: ts.CompilerOptions) {
    if (options) {
      this.options = checkerOptions(options, rootFiles);
      this.config = { source: 'given' };
    } else {
      const { options: o, ...source } = packageCompilerOptions(currentDirectory, rootFiles);
      this.options = o;
      this.config = source;
    }
    const host: ts.LanguageServiceHost = {
      getCompilationSettings: () => this.options,
      getScriptFileNames: () => [...rootFiles],
      getScriptVersion: (f) => String(this.overlays.get(path.resolve(f))?.version ?? 0),
      getScriptSnapshot: (f) => {
        const o = this.overlays.get(path.resolve(f));
        if (o) return ts.ScriptSnapshot.fromString(o.text);
        const text = ts.sys.readFile(f);
        return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
      },
      getCurrentDirectory: () => currentDirectory,
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: (f) => this.overlays.has(path.resolve(f)) || ts.sys.fileExists(f),
      readFile: (f) => this.overlays.get(path.resolve(f))?.text ?? ts.sys.readFile(f),
      readDirectory: ts.sys.readDirectory,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
      realpath: ts.sys.realpath,
      useCaseSensitiveFileNames: () => ts.sys.useCaseSensitiveFileNames,
    };
    this.service = ts.createLanguageService(host, ts.createDocumentRegistry());
  }

  /** Current text of a file: its overlay, or what is on disk. */
  text(file: string): string {
    return this.overlays.get(path.resolve(file))?.text ?? fs.readFileSync(file, 'utf8');
  }

  /** Puts `text` in place of the file's contents (in memory only); `undefined` restores the disk text. */
  setText(file: string, text: string | undefined): void {
    const key = path.resolve(file);
    if (text === undefined) {
      if (this.overlays.has(key)) this.overlays.set(key, { text: fs.readFileSync(key, 'utf8'), version: ++this.versionCounter });
      return;
    }
    const cur = this.overlays.get(key);
    if (cur?.text === text) return;
    this.overlays.set(key, { text, version: ++this.versionCounter });
  }

  program(): ts.Program {
    const p = this.service.getProgram();
    if (!p) throw new Error('TypeScript language service produced no program');
    return p;
  }

  private diagnostics(file: string, text: string): { keys: string[]; messages: string[] } {
    const cacheKey = `${path.resolve(file)}\0${text}`;
    const cached = this.diagnosticsCache.get(cacheKey);
    if (cached) return cached;
    this.setText(file, text);
    const diags = [...this.service.getSyntacticDiagnostics(file), ...this.service.getSemanticDiagnostics(file)]
      .filter((d) => d.category === ts.DiagnosticCategory.Error);
    const keys: string[] = [];
    const messages: string[] = [];
    for (const d of diags) {
      const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      const message = `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
      keys.push(`${pos ? `${pos.line + 1} ` : ''}${message}`);
      messages.push(`${pos ? `${pos.line + 1}:${pos.character + 1} ` : ''}${message}`);
    }
    const result = { keys, messages };
    this.diagnosticsCache.set(cacheKey, result);
    return result;
  }

  errorKeys(file: string, text: string): string[] {
    return this.diagnostics(file, text).keys;
  }

  errors(file: string, text: string): string[] {
    return this.diagnostics(file, text).messages;
  }

  errorCount(file: string, text: string): number {
    return this.diagnostics(file, text).keys.length;
  }

  dispose(): void {
    this.service.dispose();
    this.overlays.clear();
    this.diagnosticsCache.clear();
  }
}
