import path from 'node:path';

const LANGUAGE_BY_EXTENSION: Record<string, string> = {
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript',
  '.tsx': 'typescriptreact',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript',
  '.jsx': 'javascriptreact',
  '.py': 'python', '.pyi': 'python',
};

/** VS Code's language id for a file name, or undefined for a file type no monitor knows. */
export function languageIdFor(file: string): string | undefined {
  return LANGUAGE_BY_EXTENSION[path.extname(file).toLowerCase()];
}
