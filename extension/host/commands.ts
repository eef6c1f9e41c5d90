import * as vscode from 'vscode';
import type { CompletionService } from '../completion/completionService.js';
import type { EngineClient } from '../completion/engineClient.js';
import type { EventLoopMonitor } from '../completion/eventLoopMonitor.js';
import { formatStats } from '../completion/stats.js';
import type { OutputLog } from './outputLog.js';
import type { ModelStore } from '../models/modelStore.js';
import { MODEL_REGISTRY, type RegistryEntry } from '../models/registry.js';
import type { ModelController } from './modelController.js';
import type { Settings } from './settings.js';

export interface CommandServices {
  settings: Settings;
  service: CompletionService;
  engine: EngineClient;
  models: ModelController;
  store: ModelStore;
  loop: EventLoopMonitor;
  log: OutputLog;
}

/** The command palette entries (ids match package.json `contributes.commands`). */
export const COMMANDS: { id: string; title: string }[] = [
  { id: 'typeguide.selectModel', title: 'Select Model' },
  { id: 'typeguide.downloadModel', title: 'Download Model' },
  { id: 'typeguide.toggleMonitor', title: 'Toggle Monitor' },
  { id: 'typeguide.showStatistics', title: 'Show Statistics' },
  { id: 'typeguide.restartLanguageServers', title: 'Restart Language Servers' },
  { id: 'typeguide.clearCaches', title: 'Clear Caches' },
  { id: 'typeguide.triggerCompletion', title: 'Trigger Completion' },
  { id: 'typeguide.showLog', title: 'Show Log' },
];

export function registerCommands(s: CommandServices): vscode.Disposable[] {
  const cfg = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('typeguide');
  const handlers: Record<string, () => unknown> = {
    'typeguide.selectModel': async () => {
      type Item = vscode.QuickPickItem & { run: () => Promise<void> };
      const current = s.settings.model().model;
      const choose = (value: string) => async () => {
        s.log.info(`selected model ${value}`);
        if (value === current) await s.models.reload();
        else await cfg().update('model', value, vscode.ConfigurationTarget.Global);
      };
      const downloaded = new Set(s.store.downloaded().map((e) => e.id));
      const items: Item[] = MODEL_REGISTRY.map((e) => ({
        label: `${e.id === current ? '$(check) ' : ''}${e.label}`,
        description: e.builtin ? 'built in' : downloaded.has(e.id) ? 'downloaded' : 'download…',
        detail: e.description,
        run: e.builtin || downloaded.has(e.id) ? choose(e.id) : () => s.models.download(e, s.settings.model().variant),
      }));
      items.push({
        label: '$(folder) Folder on disk…',
        description: 'a model folder in the transformers.js layout',
        run: async () => {
          const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model' });
          if (picked?.[0]) await choose(picked[0].fsPath)();
        },
      });
      const pick = await vscode.window.showQuickPick(items, { title: 'TypeGuide: Select Model', placeHolder: `current: ${current}` });
      await pick?.run();
    },
    'typeguide.downloadModel': async () => {
      const choices = MODEL_REGISTRY.filter((e) => !e.builtin).map((e) => ({ label: e.label, description: Object.keys(e.variants).join(', '), detail: e.description, entry: e }));
      const pick = await vscode.window.showQuickPick(choices, { title: 'TypeGuide: Download Model' });
      if (pick) await s.models.download(pick.entry as RegistryEntry, s.settings.model().variant);
    },
    'typeguide.toggleMonitor': async () => {
      const on = await s.settings.toggleMonitor();
      s.log.info(`monitor ${on ? 'on' : 'off'}`);
      void vscode.window.showInformationMessage(`TypeGuide: monitor ${on ? 'on' : 'off'}${on && !vscode.workspace.isTrusted ? ' (inactive in this untrusted workspace)' : ''}.`);
    },
    'typeguide.showStatistics': async () => {
      const report = formatStats(s.service.stats.snapshot(), s.loop.snapshot(), s.models.label);
      s.log.info(report.replace(/\n/g, ' | '));
      const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: report });
      await vscode.window.showTextDocument(doc, { preview: true });
    },
    'typeguide.restartLanguageServers': () => {
      s.engine.restartLanguageServers();
      s.log.info('language servers restarting');
    },
    'typeguide.clearCaches': () => {
      s.service.clear();
      s.engine.clearCaches();
      void vscode.window.showInformationMessage('TypeGuide: caches cleared.');
    },
    'typeguide.triggerCompletion': () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'),
    'typeguide.showLog': () => s.log.channel.show(),
    'typeguide.showMenu': async () => {
      const pick = await vscode.window.showQuickPick(COMMANDS.map((c) => ({ label: c.title, id: c.id })), { title: 'TypeGuide' });
      if (pick) await vscode.commands.executeCommand(pick.id);
    },
  };
  return Object.entries(handlers).map(([id, run]) =>
    vscode.commands.registerCommand(id, async () => {
      try {
        await run();
      } catch (e) {
        s.log.error(`${id} failed`, e);
        void vscode.window.showErrorMessage(`TypeGuide: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
  );
}
