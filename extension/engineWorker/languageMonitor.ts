// The worker's monitor: language-monitor/'s MonitorService (language servers + tree-sitter triggers),
// exposed as the MonitorProvider seam CodeModelWorker uses.
import { pathToFileURL } from 'node:url';
import { MonitorService, type CustomServerSetting, type MonitorStatistics } from '../../language-monitor/index.js';
import type { BuiltinServerName } from '../../language-monitor/serverRegistry.js';
import type { TextTokenizer } from '../../model/types.js';
import type { GenerateRequest } from '../completion/types.js';
import type { MonitorProvider, MonitorRun } from './codeModelWorker.js';
import type { WorkerLog } from './workerModel.js';

/** How long the first completion in a project waits for its language server to come up. */
const FIRST_START_WAIT_MS = 8000;

export class LanguageMonitor implements MonitorProvider {
  private service: Promise<MonitorService> | undefined;
  private readonly prepared = new Set<string>();

  constructor(
    private readonly servers: Record<string, CustomServerSetting | BuiltinServerName | string>,
    private readonly log: WorkerLog,
    private readonly timeoutMs = 300,
  ) {}

  private monitors(): Promise<MonitorService> {
    this.service ??= MonitorService.create({ servers: this.servers as Record<string, CustomServerSetting | BuiltinServerName>, timeoutMs: this.timeoutMs, log: (m) => this.log('debug', `monitor: ${m}`) });
    return this.service;
  }

  async processorsFor(request: GenerateRequest, tokenizer: TextTokenizer, signal: AbortSignal): Promise<MonitorRun | undefined> {
    if (!request.filePath) return undefined;
    const m = await this.monitors();
    if (!m.supports(request.languageId)) return undefined;
    const uri = pathToFileURL(request.filePath).href;
    const rootUri = request.workspaceRoot ? pathToFileURL(request.workspaceRoot).href : undefined;
    const text = request.prefix + request.suffix;
    const key = `${request.languageId}\u0000${rootUri ?? uri}`;
    if (!this.prepared.has(key)) {
      // The first completion in a project waits (bounded) for the server, so that it is monitored too.
      this.prepared.add(key);
      const ok = await Promise.race([m.prepare({ languageId: request.languageId, uri, text, rootUri }), delay(FIRST_START_WAIT_MS, false)]);
      this.log(ok ? 'info' : 'warn', ok ? `language server ready for ${request.languageId}` : `language server for ${request.languageId} not ready; first completions are unmonitored`);
    }
    const before = snapshot(m.statistics());
    const processors = m.createProcessors({ languageId: request.languageId, uri, text, offset: request.prefix.length, tokenizer, signal, rootUri });
    if (processors.length === 0) return undefined;
    return {
      processors,
      end: () => {
        m.finish(processors);
        const after = snapshot(m.statistics());
        return { triggers: after.triggers - before.triggers, changes: after.changes - before.changes };
      },
    };
  }

  async restart(): Promise<void> {
    const old = this.service;
    this.service = undefined;
    this.prepared.clear();
    await (await old)?.dispose();
    this.log('info', 'language servers stopped; they start again on the next completion');
  }

  async dispose(): Promise<void> {
    await (await this.service)?.dispose();
    this.service = undefined;
  }
}

function snapshot(s: MonitorStatistics): { triggers: number; changes: number } {
  return { triggers: Object.values(s.triggers).reduce((a, b) => a + b, 0), changes: s.argmaxChanged };
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((r) => setTimeout(() => r(value), ms).unref());
}
