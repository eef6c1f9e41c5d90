import * as vscode from 'vscode';
import type { Log, LogLevel } from '../completion/types.js';

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** The one output channel. It opens itself on errors (once per burst), and filters by the log level setting. */
export class OutputLog implements Log, vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('TypeGuide');
  private lastShown = 0;
  constructor(private level: () => LogLevel) {}

  error(message: string, error?: unknown): void {
    const detail = error instanceof Error ? `: ${error.stack ?? error.message}` : error !== undefined ? `: ${String(error)}` : '';
    this.write('error', message + detail);
    if (Date.now() - this.lastShown > 10_000) {
      this.lastShown = Date.now();
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
