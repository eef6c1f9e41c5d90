/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, loaded by VS Code's test runner */
// Runs inside desktop VS Code's extension host (loaded by @vscode/test-electron): the extension activates,
// its commands are registered and the default model reaches the ready state.
const assert = require('node:assert/strict');
const vscode = require('vscode');

exports.run = async function run() {
  const ext = vscode.extensions.getExtension('typeguide.typeguide');
  assert.ok(ext, 'the extension is installed');
  await ext.activate();
  const commands = await vscode.commands.getCommands(true);
  for (const id of ['typeguide.selectModel', 'typeguide.toggleMonitor', 'typeguide.showStatistics', 'typeguide.triggerCompletion']) {
    assert.ok(commands.includes(id), `${id} is registered`);
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(vscode.workspace.workspaceFolders[0].uri, 'src', 'main.ts'));
  await vscode.window.showTextDocument(doc);
  await vscode.commands.executeCommand('typeguide.showStatistics');
};
