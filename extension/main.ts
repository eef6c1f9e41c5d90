// Composition root: builds the services, wires them to VS Code, and owns every disposable.
import path from 'node:path';
import * as vscode from 'vscode';
import { CompletionService } from './completion/completionService.js';
import { EngineClient } from './completion/engineClient.js';
import { EventLoopMonitor } from './completion/eventLoopMonitor.js';
import { registerCommands } from './host/commands.js';
import { TypeGuideInlineProvider } from './host/inlineProvider.js';
import { ModelController } from './host/modelController.js';
import { OutputLog } from './host/outputLog.js';
import { SECTION, Settings } from './host/settings.js';
import { StatusBar } from './host/statusBar.js';
import { ModelStore } from './models/modelStore.js';

let engine: EngineClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const settings = new Settings();
  const log = new OutputLog(() => settings.logLevel());
  context.subscriptions.push(log);
  try {
    const status = new StatusBar();
    const loop = new EventLoopMonitor();
    engine = new EngineClient(path.join(context.extensionPath, 'dist', 'engineWorker.js'), log);
    const store = new ModelStore(path.join(context.extensionPath, 'model', 'default-model'), path.join(context.globalStorageUri.fsPath, 'models'));
    const models = new ModelController(engine, store, settings, status, log);
    const service = new CompletionService(engine, () => settings.completion(), {
      log,
      onGenerating: (on) => {
        loop.setGenerating(on);
        status.setGenerating(on);
      },
      // The rest of a streamed generation arrived: ask VS Code again, the cache now holds the longer text.
      onExtended: (documentKey) => {
        if (vscode.window.activeTextEditor?.document.uri.toString() === documentKey) {
          void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
        }
      },
    });
    const provider = new TypeGuideInlineProvider(service, (ms, shown) => {
      if (shown) status.setLatency(ms);
    });
    let registration = register(provider, settings);
    const e = engine;
    context.subscriptions.push(
      status,
      { dispose: () => loop.dispose() },
      { dispose: () => service.dispose() },
      { dispose: () => registration.dispose() },
      e.onStateChange((s) => status.setEngine(s)),
      ...registerCommands({ settings, service, engine: e, models, store, loop, log }),
      vscode.workspace.onDidChangeConfiguration((ev) => {
        if (!ev.affectsConfiguration(SECTION)) return;
        if (ev.affectsConfiguration(`${SECTION}.languages`)) {
          registration.dispose();
          registration = register(provider, settings);
        }
        if (['model', 'modelVariant', 'threads', 'languageServers', 'monitor.timeoutMs'].some((k) => ev.affectsConfiguration(`${SECTION}.${k}`))) {
          service.clear();
          void models.reload();
        }
      }),
    );
    log.info(`TypeGuide activated (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'untrusted: monitor and workspace model folders are off'})`);
    void models.reload();
  } catch (e) {
    log.error('activation failed', e);
    void vscode.window.showErrorMessage(`TypeGuide failed to start: ${e instanceof Error ? e.message : String(e)}`, 'Show Log').then((a) => {
      if (a === 'Show Log') log.channel.show();
    });
    throw e;
  }
}

function register(provider: vscode.InlineCompletionItemProvider, settings: Settings): vscode.Disposable {
  const selector = settings.languages().map((language) => ({ language }));
  return vscode.languages.registerInlineCompletionItemProvider(selector, provider);
}

export async function deactivate(): Promise<void> {
  await engine?.dispose();
  engine = undefined;
}
