// Flat config. Architecture rules: `vscode` only under extension/, onnxruntime-node only in
// model/onnxSession.ts, model/ imports nothing of ours, language-monitor/ sees model/ through types only,
// engine/ (the one completion engine) composes model/ and language-monitor/ and knows no front.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.corpus/**', '.work/**', '.cache/**', '**/fixtures/**', 'model/train/**', 'scripts/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A dynamic import() escapes no-restricted-imports: onnxruntime-node stays in model/onnxSession.ts.
      'no-restricted-syntax': ['error', { selector: "ImportExpression[source.value='onnxruntime-node']", message: 'onnxruntime-node is imported only in model/onnxSession.ts.' }],
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'vscode', message: 'vscode is imported only under extension/.' },
          { name: 'onnxruntime-node', message: 'onnxruntime-node is imported only in model/onnxSession.ts.' },
        ],
      }],
    },
  },
  {
    // node:test's describe/it return promises that the runner awaits itself.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] }] },
  },
  {
    files: ['extension/**/*.ts', 'test/e2e/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'onnxruntime-node', message: 'onnxruntime-node is imported only in model/onnxSession.ts.' }] }] },
  },
  {
    files: ['model/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'vscode', message: 'vscode is imported only under extension/.' },
          { name: 'onnxruntime-node', message: 'onnxruntime-node is imported only in model/onnxSession.ts.' },
        ],
        patterns: [
          { group: ['**/extension/**', '**/language-monitor/**', '**/engine/**'], message: 'model/ imports nothing of ours.' },
        ],
      }],
    },
  },
  {
    files: ['model/onnxSession.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'vscode is imported only under extension/.' }] }],
      'no-restricted-syntax': 'off',
    },
  },
  {
    files: ['engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'vscode', message: 'vscode is imported only under extension/.' },
          { name: 'onnxruntime-node', message: 'onnxruntime-node is imported only in model/onnxSession.ts.' },
        ],
        patterns: [{ group: ['**/extension/**', '**/cli/**', '**/bench/**'], message: 'engine/ serves every front and imports none of them.' }],
      }],
    },
  },
  {
    files: ['language-monitor/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [
          { name: 'vscode', message: 'vscode is imported only under extension/.' },
          { name: 'onnxruntime-node', message: 'onnxruntime-node is imported only in model/onnxSession.ts.' },
        ],
        patterns: [
          { group: ['**/model/**'], allowTypeImports: true, message: 'language-monitor/ sees model/ through `import type` only.' },
          { group: ['**/extension/**', '**/engine/**'], message: 'language-monitor/ does not import extension/ or engine/.' },
        ],
      }],
      'no-restricted-imports': 'off',
    },
  },
);
