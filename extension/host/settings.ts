import * as vscode from 'vscode';
import type { CompletionSettings, LogLevel } from '../completion/types.js';
import type { Variant } from '../models/registry.js';

export const SECTION = 'typeguide';

export interface ModelSettings {
  readonly model: string;
  readonly variant: Variant;
  readonly threads: number;
  readonly servers: Record<string, string | { command: string; args?: string[] }>;
  /** How long the monitor waits for a server's answer at a trigger before decoding on unconstrained. */
  readonly monitorTimeoutMs: number;
}

/** Reads `typeguide.*` afresh each time, so changes apply without a reload. */
export class Settings {
  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(SECTION);
  }

  model(): ModelSettings {
    const c = this.config;
    return {
      model: c.get<string>('model', 'typeguide-default'),
      variant: c.get<Variant>('modelVariant', 'fp32'),
      threads: c.get<number>('threads', 0),
      // Restricted setting: VS Code drops workspace values of it in untrusted workspaces. Copied into plain
      // data: configuration values are proxies that cannot cross to the worker thread.
      servers: JSON.parse(JSON.stringify(c.get<ModelSettings['servers']>('languageServers', {}))) as ModelSettings['servers'],
      monitorTimeoutMs: Math.max(0, c.get<number>('monitor.timeoutMs', 300)),
    };
  }

  languages(): string[] {
    return this.config.get<string[]>('languages', []);
  }

  logLevel(): LogLevel {
    return this.config.get<LogLevel>('logLevel', 'info');
  }

  /** Monitor for a language (a language-overridable setting), never in an untrusted workspace. */
  monitorFor(languageId: string): boolean {
    if (!vscode.workspace.isTrusted) return false;
    return vscode.workspace.getConfiguration(SECTION, { languageId }).get<boolean>('monitor.enabled', true);
  }

  completion(): CompletionSettings {
    const c = this.config;
    return {
      debounceMs: c.get<number>('debounceMs', 75),
      timeBudgetMs: c.get<number>('timeBudgetMs', 400),
      maxTokens: c.get<number>('maxTokens', 64),
      temperature: c.get<number>('temperature', 0),
      monitor: (languageId) => this.monitorFor(languageId),
      pie: c.get<boolean>('pie.enabled', true),
    };
  }

  async toggleMonitor(): Promise<boolean> {
    const next = !this.config.get<boolean>('monitor.enabled', true);
    await this.config.update('monitor.enabled', next, vscode.ConfigurationTarget.Global);
    return next;
  }
}
