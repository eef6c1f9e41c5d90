// Desktop VS Code (Electron) run of the in-editor smoke suite, for machines that can download VS Code
// from Microsoft: `npm run test:desktop`. @vscode/test-electron fetches VS Code at run time, so this
// cannot run where only the npm registry is reachable (use `npm run test:e2e`, code-server, there).
import path from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..', '..');
  await runTests({
    version: process.env.VSCODE_VERSION ?? 'stable',
    extensionDevelopmentPath: root, // run `npm run build` first: main is dist/extension.js
    extensionTestsPath: path.join(__dirname, 'suite.cjs'),
    launchArgs: [path.join(root, 'test', 'e2e', 'fixtures', 'bank'), '--disable-extensions', '--disable-workspace-trust'],
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
