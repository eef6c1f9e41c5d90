import * as vscode from 'vscode';
import type { Log, LogLevel } from '../completion/types.js';

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/**
 * The one output channel, filtered by the log level setting. It opens itself on the first error of a
 * session only: failures reach the user as notifications with actions (Show Log among them), so a
 * repeated error (every keystroke without a model) never pulls the panel open again.
 */
export class OutputLog implements Log, vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('TypeGuide');
  private revealed = false;
  constructor(private level: () => LogLevel) {}

  error(message: string, error?: unknown): void {
    const detail = error instanceof Error ? `: ${error.stack ?? error.message}` : error !== undefined ? `: ${String(error)}` : '';
    this.write('error', message + detail);
    if (!this.revealed) {
      this.revealed = true;
      this.channel.show(true);
    }
  }
  warn(message: string): void {
    this.write('warn', message);
  }
  info(message: string): void {
    this.write('info', message);
  }
  debug(message: string): void {
    this.write('debug', message);
  }
  private write(level: LogLevel, message: string): void {
    if (ORDER[level] > ORDER[this.level()]) return;
    this.channel.appendLine(`${new Date().toISOString()} [${level}] ${message}`);
  }
  dispose(): void {
    this.channel.dispose();
  }
}
