import * as vscode from 'vscode';
import type { EngineClient } from '../completion/engineClient.js';
import type { Log } from '../completion/types.js';
import { DownloadError } from '../models/downloader.js';
import type { ModelStore } from '../models/modelStore.js';
import { downloadVariant, type RegistryEntry, type Variant } from '../models/registry.js';
import type { Settings } from './settings.js';
import type { StatusBar } from './statusBar.js';

/** Keeps the engine's model in line with the `typeguide.model*` settings; runs downloads. */
export class ModelController {
  label = '';
  /** Ids being downloaded: a second request for one is turned away while the first runs. */
  private readonly downloading = new Set<string>();

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
    // The variant setting is a preference: a downloaded model loads in the variant it was downloaded in,
    // the built-in model in its only one.
    const loc = this.store.resolve(s.model, s.variant);
    if (loc.kind === 'unknown') {
      this.fail(`"${loc.value}" is neither a known model id nor an absolute folder path.`);
      return;
    }
    if (loc.kind === 'notDownloaded') {
      this.status.setEngine({ kind: 'error', message: `${loc.entry.label} is not downloaded` });
      const pick = await vscode.window.showWarningMessage(`TypeGuide: ${loc.entry.label} is not downloaded yet.`, 'Download', 'Select Model');
      if (pick === 'Download') await this.download(loc.entry, loc.variant);
      else if (pick === 'Select Model') await vscode.commands.executeCommand('typeguide.selectModel');
      return;
    }
    this.label = loc.label;
    this.status.setModel(loc.label);
    this.log.info(`loading ${loc.dir} (${loc.variant}: ${loc.onnxFile})`);
    try {
      const info = await this.engine.load({ dir: loc.dir, variant: loc.variant, threads: s.threads, servers: s.servers, monitorTimeoutMs: s.monitorTimeoutMs, promptWindowTokens: s.promptWindowTokens, trusted: vscode.workspace.isTrusted });
      this.log.info(`model ready: ${info.name}, ${info.promptFormat}, loaded in ${Math.round(info.loadMs)} ms`);
    } catch (e) {
      this.fail(`could not load the model at ${loc.dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Downloads `entry` in the preferred variant when it offers it (else its default), then makes it the
   * configured model; the model store remembers the variant for this model alone.
   */
  async download(entry: RegistryEntry, preferred?: unknown): Promise<void> {
    const v = downloadVariant(entry, preferred);
    if (this.downloading.has(entry.id)) {
      void vscode.window.showInformationMessage(`TypeGuide: ${entry.label} is already downloading.`);
      return;
    }
    this.downloading.add(entry.id);
    try {
      const approx = entry.variants[v]?.approxSize;
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Downloading ${entry.label} (${v}${approx ? `, ${approx}` : ''})`, cancellable: true },
        async (progress, token) => {
          const controller = new AbortController();
          const cancel = token.onCancellationRequested(() => controller.abort());
          let reported = 0;
          try {
            await this.store.download(entry, v, {
              signal: controller.signal,
              onProgress: (p) => {
                // Over all files of the variant; VS Code's increments are percentages that add up to 100.
                const pct = p.total ? (100 * p.done) / p.total : 0;
                const step = Math.max(0, pct - reported);
                if (step < 0.5 && p.done !== p.total) return;
                progress.report({ message: `${p.file}: ${mb(p.done)}${p.total ? ` / ${mb(p.total)}` : ''} MB`, increment: step });
                reported += step;
              },
            });
          } finally {
            cancel.dispose();
          }
        },
      );
      this.log.info(`downloaded ${entry.id} (${v}) into ${this.store.folderOf(entry.id)}`);
      const cfg = vscode.workspace.getConfiguration('typeguide');
      // Changing the setting reloads through the configuration listener; an unchanged one would not.
      if (this.settings.model().model === entry.id) await this.reload();
      else await cfg.update('model', entry.id, vscode.ConfigurationTarget.Global);
    } catch (e) {
      if (e instanceof DownloadError && e.kind === 'aborted') {
        void vscode.window.showInformationMessage(`TypeGuide: download cancelled; it resumes where it stopped next time.`);
        return;
      }
      this.log.error(`download of ${entry.id} failed`, e);
      void vscode.window.showErrorMessage(`TypeGuide: download failed: ${e instanceof Error ? e.message : String(e)}`, 'Show Log').then((a) => {
        if (a === 'Show Log') void vscode.commands.executeCommand('typeguide.showLog');
      });
    } finally {
      this.downloading.delete(entry.id);
    }
  }

  /**
   * Makes `entry` load in `variant`: selected at once when that variant is on disk, downloaded first
   * otherwise. (For a variant picker in Select Model / Download Model.)
   */
  async useVariant(entry: RegistryEntry, variant: Variant): Promise<void> {
    if (!entry.builtin) {
      if (!this.store.isComplete(entry, variant)) {
        await this.download(entry, variant);
        return;
      }
      this.store.select(entry, variant);
    }
    if (this.settings.model().model === entry.id) await this.reload();
    else await vscode.workspace.getConfiguration('typeguide').update('model', entry.id, vscode.ConfigurationTarget.Global);
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
