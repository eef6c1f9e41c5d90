// A MonitorService that can be restarted (the Restart Language Servers command): the old service and its
// servers are stopped, a fresh one takes over; while it loads, completions are unmonitored.
import { MonitorService, type MonitorServiceOptions } from '../language-monitor/index.js';
import type { EngineMonitor } from './completionEngine.js';

export class RestartableMonitor implements EngineMonitor {
  private constructor(private current: MonitorService | undefined, private readonly options: MonitorServiceOptions) {}

  static async create(options: MonitorServiceOptions): Promise<RestartableMonitor> {
    return new RestartableMonitor(await MonitorService.create(options), options);
  }

  supports(languageId: string): boolean {
    return this.current?.supports(languageId) ?? false;
  }

  prepare(req: Parameters<EngineMonitor['prepare']>[0]): Promise<boolean> {
    return this.current ? this.current.prepare(req) : Promise.resolve(false);
  }

  createProcessors(req: Parameters<EngineMonitor['createProcessors']>[0]): ReturnType<EngineMonitor['createProcessors']> {
    return this.current?.createProcessors(req) ?? [];
  }

  finish(processors: Parameters<EngineMonitor['finish']>[0]): ReturnType<EngineMonitor['finish']> {
    return this.current?.finish(processors);
  }

  syncDocument(req: Parameters<NonNullable<EngineMonitor['syncDocument']>>[0]): void {
    this.current?.syncDocument(req);
  }

  declarations(req: Parameters<NonNullable<EngineMonitor['declarations']>>[0]): ReturnType<NonNullable<EngineMonitor['declarations']>> {
    const current: EngineMonitor | undefined = this.current;
    return current?.declarations?.(req) ?? Promise.resolve([]);
  }

  closeDocument(uri: string): void {
    this.current?.closeDocument(uri);
  }

  async restart(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    await old?.dispose();
    this.current = await MonitorService.create(this.options);
  }

  async dispose(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    await old?.dispose();
  }
}
