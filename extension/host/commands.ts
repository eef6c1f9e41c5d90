import * as vscode from 'vscode';
import type { CompletionGate } from '../completion/completionGate.js';
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
  gate: CompletionGate;
  /** The snooze or a switch changed: persist it and update the status bar. */
  gateChanged: () => void;
}

/** Show Statistics' report: a read-only virtual document (never an unsaved one that asks to be saved). */
export const STATISTICS_URI = vscode.Uri.from({ scheme: 'typeguide', path: '/TypeGuide Statistics.md' });

class StatisticsDocument implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private text = '';
  set(text: string): void {
    this.text = text;
    this.changed.fire(STATISTICS_URI);
  }
  provideTextDocumentContent(): string {
    return this.text;
  }
  dispose(): void {
    this.changed.dispose();
  }
}

const SNOOZE_MINUTES = [5, 15, 60];

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
  const statistics = new StatisticsDocument();
  const activeDocument = (): vscode.TextDocument | undefined => vscode.window.activeTextEditor?.document;
  const snooze = (minutes: number): void => {
    const until = s.gate.snooze(minutes);
    s.service.clear(); // stop what runs now
    s.gateChanged();
    s.log.info(`snoozed for ${minutes} min (until ${new Date(until).toISOString()})`);
  };
  const toggleLanguage = async (): Promise<void> => {
    const doc = activeDocument();
    if (!doc) return;
    const on = !s.settings.languages().includes(doc.languageId);
    await s.settings.setLanguage(doc.languageId, on, doc);
    s.log.info(`completions ${on ? 'on' : 'off'} for ${doc.languageId}`);
    void vscode.window.showInformationMessage(`TypeGuide: completions ${on ? 'on' : 'off'} for ${doc.languageId}.`);
  };
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
      const on = await s.settings.toggleMonitor(activeDocument());
      s.log.info(`monitor ${on ? 'on' : 'off'}`);
      void vscode.window.showInformationMessage(`TypeGuide: monitor ${on ? 'on' : 'off'}${on && !vscode.workspace.isTrusted ? ' (inactive in this untrusted workspace)' : ''}.`);
    },
    'typeguide.showStatistics': async () => {
      const report = formatStats(s.service.stats.snapshot(), s.loop.snapshot(), s.models.label);
      s.log.info(report.replace(/\n/g, ' | '));
      statistics.set(report);
      const doc = await vscode.workspace.openTextDocument(STATISTICS_URI);
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
    // Escape on a suggestion: hide it as VS Code would, and stop the generation that would grow it back.
    'typeguide.dismiss': async () => {
      s.service.dismiss();
      await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
    },
    'typeguide.triggerCompletion': () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'),
    'typeguide.showLog': () => s.log.channel.show(),
    'typeguide.snooze': async () => {
      const pick = await vscode.window.showQuickPick(SNOOZE_MINUTES.map((m) => ({ label: `${m} minutes`, minutes: m })), { title: 'TypeGuide: Snooze Completions' });
      if (pick) snooze(pick.minutes);
    },
    'typeguide.resume': () => {
      s.gate.resume();
      s.gateChanged();
      s.log.info('snooze ended');
    },
    'typeguide.toggleEnabled': async () => {
      const on = !s.settings.enabled();
      await s.settings.setEnabled(on);
      if (on) s.gate.resume();
      else s.service.clear();
      s.log.info(`completions ${on ? 'on' : 'off'}`);
    },
    'typeguide.toggleLanguage': toggleLanguage,
    'typeguide.showMenu': async () => {
      type Item = vscode.QuickPickItem & { run?: () => unknown };
      const state = s.gate.state();
      const language = activeDocument()?.languageId;
      const languageOn = language !== undefined && s.settings.languages().includes(language);
      const items: Item[] = [
        ...(state.kind === 'snoozed'
          ? [{ label: '$(bell) Resume completions', description: `snoozed until ${new Date(state.until).toLocaleTimeString()}`, run: () => vscode.commands.executeCommand('typeguide.resume') }]
          : state.kind === 'on' ? SNOOZE_MINUTES.map((m) => ({ label: `$(bell-slash) Snooze for ${m} minutes`, run: () => snooze(m) })) : []),
        state.kind === 'off'
          ? { label: '$(check) Turn completions on', run: () => vscode.commands.executeCommand('typeguide.toggleEnabled') }
          : { label: '$(circle-slash) Turn completions off', description: 'everywhere, until turned on (typeguide.enabled)', run: () => vscode.commands.executeCommand('typeguide.toggleEnabled') },
        ...(language ? [{ label: languageOn ? `$(circle-slash) Turn off for ${language}` : `$(check) Turn on for ${language}`, description: 'typeguide.languages', run: toggleLanguage }] : []),
        { label: '', kind: vscode.QuickPickItemKind.Separator },
        ...COMMANDS.map((c) => ({ label: c.title, run: () => vscode.commands.executeCommand(c.id) })),
      ];
      const pick = await vscode.window.showQuickPick(items, { title: 'TypeGuide' });
      await pick?.run?.();
    },
  };
  return [statistics, vscode.workspace.registerTextDocumentContentProvider(STATISTICS_URI.scheme, statistics), ...Object.entries(handlers).map(([id, run]) =>
    vscode.commands.registerCommand(id, async () => {
      try {
        await run();
      } catch (e) {
        s.log.error(`${id} failed`, e);
        void vscode.window.showErrorMessage(`TypeGuide: ${e instanceof Error ? e.message : String(e)}`, 'Show Log').then((a) => {
          if (a === 'Show Log') s.log.channel.show();
        });
      }
    }),
  )];
}
