import * as vscode from 'vscode';
import { effectiveLanguages, writeTarget, type WriteTarget } from '../completion/completionGate.js';
import type { CompletionSettings, LogLevel } from '../completion/types.js';
import type { Variant } from '../models/registry.js';

export const SECTION = 'typeguide';
/**
 * typeguide.context.enabled's default (package.json's must match), from eval:mgd's context rows
 * (docs/eval/mgd-context.md): with the built-in model, context changed 2 of 100 sites' first identifier,
 * both for the worse (NIM 49 → 47 without the monitor, 54 → 52 with it) and made completions ~28 % slower.
 * Off until a model is measured to gain from it.
 */
const CONTEXT_DEFAULT = false;

export interface ModelSettings {
  readonly model: string;
  readonly variant: Variant;
  readonly threads: number;
  readonly servers: Record<string, string | { command: string; args?: string[] }>;
  /** How long the monitor waits for a server's answer at a trigger before decoding on unconstrained. */
  readonly monitorTimeoutMs: number;
  /** Most prompt tokens around the cursor; 0 = the engine's default for the model. */
  readonly promptWindowTokens: number;
}

const TARGET: Record<WriteTarget['scope'], vscode.ConfigurationTarget> = {
  global: vscode.ConfigurationTarget.Global,
  workspace: vscode.ConfigurationTarget.Workspace,
  workspaceFolder: vscode.ConfigurationTarget.WorkspaceFolder,
};

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
      // data: configuration values are proxies that cannot cross to the engine process.
      servers: JSON.parse(JSON.stringify(c.get<ModelSettings['servers']>('languageServers', {}))) as ModelSettings['servers'],
      monitorTimeoutMs: Math.max(0, c.get<number>('monitor.timeoutMs', 300)),
      promptWindowTokens: Math.max(0, Math.floor(c.get<number>('promptWindowTokens', 0))),
    };
  }

  /** `typeguide.languages` where the user set it, else the selected model's languages. */
  languages(): readonly string[] {
    return effectiveLanguages(this.config.inspect<string[]>('languages'), this.model().model);
  }

  enabled(): boolean {
    return this.config.get<boolean>('enabled', true);
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
      // VS Code debounces inline-completion requests itself (50 ms: its InlineCompletionsDebounce is
      // {min: 50, max: 50} in 1.139), so a debounce of ours only adds latency; bench:editor at 50 / 200 ->
      // 0 / 80: '.' -> ghost text p50 345 -> 199 ms, p95 411 -> 246 ms (docs/bench-editor/).
      debounceMs: c.get<number>('debounceMs', 0),
      timeBudgetMs: c.get<number>('timeBudgetMs', 80),
      maxTokens: c.get<number>('maxTokens', 64),
      temperature: c.get<number>('temperature', 0),
      monitor: (languageId) => this.monitorFor(languageId),
      pie: c.get<boolean>('pie.enabled', true),
      context: {
        budgetTokens: c.get<boolean>('context.enabled', CONTEXT_DEFAULT) ? Math.max(0, Math.floor(c.get<number>('context.budgetTokens', 384))) : 0,
        readFiles: vscode.workspace.isTrusted,
      },
    };
  }

  /**
   * Flips the monitor for the active document's language (or overall), writing the scope its value comes
   * from: a workspace or `[language]` value would otherwise override what was written.
   */
  async toggleMonitor(document?: vscode.TextDocument): Promise<boolean> {
    const config = vscode.workspace.getConfiguration(SECTION, document);
    const next = !config.get<boolean>('monitor.enabled', true);
    const target = writeTarget(config.inspect<boolean>('monitor.enabled'));
    await config.update('monitor.enabled', next, TARGET[target.scope], target.language);
    return next;
  }

  async setEnabled(on: boolean): Promise<void> {
    const target = writeTarget(this.config.inspect<boolean>('enabled'));
    await this.config.update('enabled', on, TARGET[target.scope]);
  }

  /** Adds or removes a language from `typeguide.languages`, in the scope the effective list comes from. */
  async setLanguage(languageId: string, on: boolean, document?: vscode.TextDocument): Promise<void> {
    const config = vscode.workspace.getConfiguration(SECTION, document);
    const current = this.languages();
    const next = on ? [...new Set([...current, languageId])] : current.filter((l) => l !== languageId);
    const target = writeTarget(config.inspect<string[]>('languages'));
    await config.update('languages', next, TARGET[target.scope]);
  }
}
