import * as vscode from 'vscode';
import type { EngineClient } from '../completion/engineClient.js';
import type { Log } from '../completion/types.js';
import { DownloadError } from '../models/downloader.js';
import type { ModelStore } from '../models/modelStore.js';
import type { RegistryEntry, Variant } from '../models/registry.js';
import type { Settings } from './settings.js';
import type { StatusBar } from './statusBar.js';

/** Keeps the engine's model in line with the `typeguide.model*` settings; runs downloads. */
export class ModelController {
  label = '';

  constructor(
    private readonly engine: EngineClient,
    private readonly store: ModelStore,
    private readonly settings: Settings,
    private readonly status: StatusBar,
    private readonly log: Log,
  ) {}

  /** (Re)loads the configured model. Errors reach the user once, with an action. */
  async reload(): Promise<void> {
    const s = this.settings.model();
    const loc = this.store.resolve(s.model);
    if (loc.kind === 'unknown') {
      this.fail(`"${loc.value}" is neither a known model id nor an absolute folder path.`);
      return;
    }
    if (loc.kind === 'notDownloaded') {
      this.status.setEngine({ kind: 'error', message: `${loc.entry.label} is not downloaded` });
      const pick = await vscode.window.showWarningMessage(`TypeGuide: ${loc.entry.label} is not downloaded yet.`, 'Download', 'Select Model');
      if (pick === 'Download') await this.download(loc.entry, s.variant);
      else if (pick === 'Select Model') await vscode.commands.executeCommand('typeguide.selectModel');
      return;
    }
    this.label = loc.label;
    this.status.setModel(loc.label);
    this.log.info(`loading ${loc.dir} (${s.variant})`);
    try {
      const info = await this.engine.load({ dir: loc.dir, variant: s.variant, threads: s.threads, servers: s.servers, monitorTimeoutMs: s.monitorTimeoutMs });
      this.log.info(`model ready: ${info.name}, ${info.promptFormat}, loaded in ${Math.round(info.loadMs)} ms`);
    } catch (e) {
      this.fail(`could not load the model at ${loc.dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async download(entry: RegistryEntry, variant: Variant): Promise<void> {
    const offered = this.store.variantsOf(entry);
    const v = offered.includes(variant) ? variant : offered[0];
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Downloading ${entry.label} (${v})`, cancellable: true },
        async (progress, token) => {
          const controller = new AbortController();
          token.onCancellationRequested(() => controller.abort());
          let lastPct = 0;
          await this.store.download(entry, v, {
            signal: controller.signal,
            onProgress: (p) => {
              const pct = p.fileTotal ? Math.floor((100 * p.fileBytes) / p.fileTotal) : 0;
              progress.report({ message: `${p.file}: ${mb(p.fileBytes)}${p.fileTotal ? ` / ${mb(p.fileTotal)}` : ''} MB`, increment: Math.max(0, pct - lastPct) / 10 });
              lastPct = pct;
            },
          });
        },
      );
      this.log.info(`downloaded ${entry.id} (${v}) into ${this.store.folderOf(entry.id)}`);
      const cfg = vscode.workspace.getConfiguration('typeguide');
      await cfg.update('modelVariant', v, vscode.ConfigurationTarget.Global);
      await cfg.update('model', entry.id, vscode.ConfigurationTarget.Global);
    } catch (e) {
      if (e instanceof DownloadError && e.kind === 'aborted') {
        void vscode.window.showInformationMessage(`TypeGuide: download cancelled; it resumes where it stopped next time.`);
        return;
      }
      this.log.error(`download of ${entry.id} failed`, e);
      void vscode.window.showErrorMessage(`TypeGuide: download failed: ${e instanceof Error ? e.message : String(e)}`, 'Show Log').then((a) => {
        if (a === 'Show Log') void vscode.commands.executeCommand('typeguide.showLog');
      });
    }
  }

  private fail(message: string): void {
    this.status.setEngine({ kind: 'error', message });
    this.log.error(message);
    void vscode.window.showErrorMessage(`TypeGuide: ${message}`, 'Open Settings', 'Show Log').then((a) => {
      if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'typeguide.model');
      if (a === 'Show Log') void vscode.commands.executeCommand('typeguide.showLog');
    });
  }
}

const mb = (n: number): string => (n / (1024 * 1024)).toFixed(1);
