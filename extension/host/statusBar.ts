import * as vscode from 'vscode';
import type { EngineState } from '../completion/engineClient.js';

/** Model, state and last latency; a click opens the command menu. */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  private engine: EngineState = { kind: 'idle' };
  private generating = 0;
  private latencyMs: number | undefined;
  private label = '';

  constructor() {
    this.item.command = 'typeguide.showMenu';
    this.item.name = 'TypeGuide';
    this.render();
    this.item.show();
  }

  setModel(label: string): void {
    this.label = label;
    this.render();
  }
  setEngine(state: EngineState): void {
    this.engine = state;
    this.render();
  }
  setGenerating(on: boolean): void {
    this.generating += on ? 1 : -1;
    this.render();
  }
  setLatency(ms: number): void {
    this.latencyMs = ms;
    this.render();
  }

  private render(): void {
    const s = this.engine;
    const state = s.kind === 'loading' ? 'loading' : s.kind === 'error' ? 'error' : s.kind === 'idle' ? 'no model' : this.generating > 0 ? 'generating' : 'ready';
    const icon = state === 'loading' || state === 'generating' ? '$(loading~spin)' : state === 'error' ? '$(error)' : '$(sparkle)';
    const latency = this.latencyMs !== undefined && state === 'ready' ? ` · ${Math.round(this.latencyMs)} ms` : '';
    this.item.text = `${icon} TypeGuide: ${state}${latency}`;
    this.item.tooltip = new vscode.MarkdownString(
      `**TypeGuide** — model: ${this.label || '—'}\n\nState: ${state}${s.kind === 'error' ? `\n\n${s.message}` : ''}${s.kind === 'ready' ? `\n\nPrompt format: ${s.info.promptFormat}, loaded in ${Math.round(s.info.loadMs)} ms` : ''}\n\nClick for commands.`,
    );
    this.item.backgroundColor = state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
