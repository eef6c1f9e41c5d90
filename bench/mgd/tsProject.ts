// An in-process TypeScript 6 language service over one package's sources, with in-memory overlays.
//
// Why this rather than TS7's `tsc --lsp --stdio` for compile-rate diagnostics: site selection already
// needs a checker (receiver types, member lists), and the compile-rate check compares a file's error
// count before and after one line changes, so both counts must come from the same checker with the same
// options as the site finder, or the baseline drifts. The language service gives exactly that, keeps
// unchanged files' syntax trees between checks (an edit re-checks one file, not the package), needs no
// child process, and is deterministic. TS7 is a port of the same checker; the `DiagnosticsOracle`
// interface lets an LSP-backed implementation replace this one.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** Counts type and syntax errors of one file whose text is given in memory (the file on disk is untouched). */
export interface DiagnosticsOracle {
  errorCount(file: string, text: string): number;
  /** Messages of the errors (for reports and debugging). */
  errors(file: string, text: string): string[];
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

export class TsProject implements DiagnosticsOracle {
  readonly service: ts.LanguageService;
  private readonly overlays = new Map<string, { text: string; version: number }>();
  private readonly errorCache = new Map<string, string[]>();
  private versionCounter = 0;

  constructor(readonly rootFiles: readonly string[], readonly currentDirectory: string, options: ts.CompilerOptions = DEFAULT_COMPILER_OPTIONS) {
    const host: ts.LanguageServiceHost = {
      getCompilationSettings: () => options,
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

  errors(file: string, text: string): string[] {
    const key = `${path.resolve(file)}\0${text}`;
    const cached = this.errorCache.get(key);
    if (cached) return cached;
    this.setText(file, text);
    const diags = [...this.service.getSyntacticDiagnostics(file), ...this.service.getSemanticDiagnostics(file)];
    const messages = diags
      .filter((d) => d.category === ts.DiagnosticCategory.Error)
      .map((d) => {
        const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
        return `${pos ? `${pos.line + 1}:${pos.character + 1} ` : ''}TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
      });
    this.errorCache.set(key, messages);
    return messages;
  }

  errorCount(file: string, text: string): number {
    return this.errors(file, text).length;
  }

  dispose(): void {
    this.service.dispose();
    this.overlays.clear();
    this.errorCache.clear();
  }
}
