import * as vscode from 'vscode';
import type { GateState } from '../completion/completionGate.js';
import type { EngineState } from '../completion/engineClient.js';

/** Model, state and last latency; a click opens the menu (snooze, off, off for this language, commands). */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  private engine: EngineState = { kind: 'idle' };
  private gate: GateState = { kind: 'on' };
  private languageOff: string | undefined;
  private generating = 0;
  private latencyMs: number | undefined;
  private label = '';
  private wake: NodeJS.Timeout | undefined;

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
    this.generating = Math.max(0, this.generating + (on ? 1 : -1));
    this.render();
  }
  setLatency(ms: number): void {
    this.latencyMs = ms;
    this.render();
  }
  /** The switches, and the active editor's language when TypeGuide is off for it. */
  setGate(state: GateState, languageOff?: string): void {
    this.gate = state;
    this.languageOff = languageOff;
    clearTimeout(this.wake);
    this.wake = undefined;
    // A snooze ends by itself: show that when it does, and count its minutes down meanwhile.
    if (state.kind === 'snoozed') this.wake = setTimeout(() => this.setGate(state.until > Date.now() ? state : { kind: 'on' }, languageOff), Math.min(60_000, Math.max(1000, state.until - Date.now())));
    this.render();
  }

  private render(): void {
    const s = this.engine;
    const engineState = s.kind === 'loading' ? 'loading' : s.kind === 'error' ? 'error' : s.kind === 'idle' ? 'no model' : this.generating > 0 ? 'generating' : 'ready';
    const g = this.gate;
    const state = g.kind === 'off' ? 'off' : g.kind === 'snoozed' ? `snoozed ${Math.max(1, Math.ceil((g.until - Date.now()) / 60_000))} min` : this.languageOff ? `off for ${this.languageOff}` : engineState;
    const icon = g.kind !== 'on' || this.languageOff ? '$(circle-slash)' : engineState === 'loading' || engineState === 'generating' ? '$(loading~spin)' : engineState === 'error' ? '$(error)' : '$(sparkle)';
    const latency = this.latencyMs !== undefined && state === 'ready' ? ` · ${Math.round(this.latencyMs)} ms` : '';
    this.item.text = `${icon} TypeGuide: ${state}${latency}`;
    this.item.tooltip = new vscode.MarkdownString(
      `**TypeGuide** — model: ${this.label || '—'}\n\nState: ${engineState}${s.kind === 'error' ? `\n\n${s.message}` : ''}${s.kind === 'ready' ? `\n\nPrompt format: ${s.info.promptFormat}, loaded in ${Math.round(s.info.loadMs)} ms` : ''}${g.kind === 'snoozed' ? `\n\nSnoozed until ${new Date(g.until).toLocaleTimeString()}` : ''}\n\nClick to snooze, switch off, or for commands.`,
    );
    this.item.backgroundColor = engineState === 'error' && g.kind === 'on' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    clearTimeout(this.wake);
    this.item.dispose();
  }
}
