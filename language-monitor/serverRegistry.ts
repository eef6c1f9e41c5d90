// Which language server answers for which language. The built-in servers ship as dependencies of the
// extension (resolved from our own node_modules, never from the user's workspace); any other language
// comes from a settings entry shaped `{ languageId: { command, args, initializationOptions } }`.
import fs from 'node:fs';
import path from 'node:path';

export interface ServerSpec {
  /** Display name, used in logs and statistics. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly initializationOptions?: unknown;
  /** Answers to `workspace/configuration` (looked up by dotted section). */
  readonly settings?: Record<string, unknown>;
  readonly env?: Record<string, string>;
  readonly cwd?: string;
}

/** A settings entry for a custom server (the `typeguide.monitor.servers` setting's value shape). */
export interface CustomServerSetting {
  command: string;
  args?: string[];
  initializationOptions?: unknown;
  settings?: Record<string, unknown>;
}

export type BuiltinServerName = 'typescript7' | 'typescript-language-server' | 'pyright';

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

/** TypeScript 7's native compiler serves LSP itself (`tsc --lsp --stdio`); we start its binary directly. */
export function typescript7Server(): ServerSpec {
  const platformPkg = `@typescript/typescript-${process.platform}-${process.arch}`;
  let command: string;
  let args: string[];
  try {
    const exe = path.join(path.dirname(require.resolve(`${platformPkg}/package.json`, { paths: [packageDir('typescript7')] })), 'lib', process.platform === 'win32' ? 'tsc.exe' : 'tsc');
    if (!fs.existsSync(exe)) throw new Error(`missing ${exe}`);
    command = exe;
    args = ['--lsp', '--stdio'];
  } catch {
    // Fall back to the package's node wrapper (an extra process in between).
    command = process.execPath;
    args = [path.join(packageDir('typescript7'), 'bin', 'tsc'), '--lsp', '--stdio'];
  }
  return { name: 'typescript7', command, args };
}

/** typescript-language-server over TypeScript 6's tsserver (TypeScript 7 ships no tsserver.js). */
export function typescriptLanguageServer(): ServerSpec {
  return {
    name: 'typescript-language-server',
    command: process.execPath,
    args: [path.join(packageDir('typescript-language-server'), 'lib', 'cli.mjs'), '--stdio'],
    initializationOptions: {
      tsserver: { path: path.join(packageDir('typescript'), 'lib'), useSyntaxServer: 'never' },
      preferences: { includeCompletionsForModuleExports: false, includeCompletionsWithInsertText: true },
    },
  };
}

export function pyrightServer(): ServerSpec {
  return {
    name: 'pyright',
    command: process.execPath,
    args: [path.join(packageDir('pyright'), 'langserver.index.js'), '--stdio'],
    settings: { python: { analysis: { autoSearchPaths: true, diagnosticMode: 'openFilesOnly', useLibraryCodeForTypes: true } } },
  };
}

export function builtinServer(name: BuiltinServerName): ServerSpec {
  switch (name) {
    case 'typescript7': return typescript7Server();
    case 'typescript-language-server': return typescriptLanguageServer();
    case 'pyright': return pyrightServer();
  }
}

const DEFAULT_BY_LANGUAGE: Record<string, BuiltinServerName> = {
  typescript: 'typescript7',
  typescriptreact: 'typescript7',
  javascript: 'typescript7',
  javascriptreact: 'typescript7',
  python: 'pyright',
};

export interface ServerRegistryOptions {
  /** `{ languageId: CustomServerSetting | BuiltinServerName }`; overrides the defaults. */
  servers?: Record<string, CustomServerSetting | BuiltinServerName>;
}

/** Resolves a language id to a server spec; undefined for languages nobody serves. */
export class ServerRegistry {
  constructor(private readonly options: ServerRegistryOptions = {}) {}

  serverFor(languageId: string): ServerSpec | undefined {
    const entry = this.options.servers?.[languageId] ?? DEFAULT_BY_LANGUAGE[languageId];
    if (entry === undefined) return undefined;
    if (typeof entry === 'string') return builtinServer(entry);
    if (!entry.command) throw new Error(`typeguide: server setting for ${languageId} has no command`);
    return {
      name: `${languageId}:${path.basename(entry.command)}`,
      command: entry.command,
      args: entry.args ?? [],
      initializationOptions: entry.initializationOptions,
      settings: entry.settings,
    };
  }
}
