// The worker's real model: the one completion engine (engine/), fed the editor's documents and requests.
import os from 'node:os';
import { CompletionEngine, countTriggers, type ContextReport, type EngineMonitor, type EngineRequest } from '../../engine/completionEngine.js';
import { RestartableMonitor } from '../../engine/restartableMonitor.js';
import type { CustomServerSetting } from '../../language-monitor/index.js';
import type { BuiltinServerName } from '../../language-monitor/serverRegistry.js';
import { CodeModel, type ModelVariant } from '../../model/index.js';
import type { StopRule } from '../../model/types.js';
import type { GenerateRequest, GenerateSummary } from '../completion/types.js';
import type { DocumentEvent, ModelSpec } from './protocol.js';
import type { WorkerLog, WorkerModel } from './workerModel.js';

/** The settings' variant names → the engine's (the transformers.js file names: model.onnx, model_quantized.onnx, ...). */
const ENGINE_VARIANT: Record<ModelSpec['variant'], ModelVariant> = { fp32: 'default', fp16: 'fp16', q8: 'quantized', q4: 'q4' };

/**
 * ONNX Runtime threads when the setting says 0: all cores but one, at least two where there are two, at
 * most four. On 2 cores bench:decode measured 2 threads against 1: prefill of 1,024 tokens 434 vs 692 ms,
 * decoding 20.5 vs 26.5 ms/token. Threads do not spin between operators (see SessionOptions.spinning), so
 * the editor gets the cores back whenever the model waits; a generation stops within one forward pass
 * when the user types on.
 */
export function defaultThreads(cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(4, cores, Math.max(2, cores - 1)));
}

export class CodeModelWorker implements WorkerModel {
  private constructor(readonly engine: CompletionEngine, private readonly log: WorkerLog) {}

  /** Loads the model; `monitor` overrides the language monitor (tests), `null` turns it off. */
  static async load(spec: ModelSpec, log: WorkerLog, monitor?: EngineMonitor | null): Promise<CodeModelWorker> {
    const threads = spec.threads > 0 ? spec.threads : defaultThreads();
    const [model, languageMonitor] = await Promise.all([
      CodeModel.load(spec.dir, { variant: ENGINE_VARIANT[spec.variant], threads, log: (m) => log('info', m) }),
      spec.trusted === false ? undefined
        : monitor !== undefined ? monitor ?? undefined
        : RestartableMonitor.create({
          servers: (spec.servers ?? {}) as Record<string, CustomServerSetting | BuiltinServerName>,
          timeoutMs: spec.monitorTimeoutMs ?? 300,
          log: (m) => log('debug', `monitor: ${m}`),
        }),
    ]);
    log('info', `loaded ${model.name} (${model.fim ? `FIM ${model.fim.family}` : 'left-to-right'}, ${model.config.numLayers} layers, vocab ${model.config.vocabSize}, ${threads} thread${threads === 1 ? '' : 's'})`);
    const engine = new CompletionEngine({ model, monitor: languageMonitor, log, promptWindowTokens: spec.promptWindowTokens || undefined });
    log('info', `prompt window ${engine.promptWindowTokens} tokens${spec.trusted === false ? '; untrusted workspace: no language servers' : ''}`);
    return new CodeModelWorker(engine, log);
  }

  get info(): WorkerModel['info'] {
    const model = this.engine.model;
    return { name: model.name, dir: model.dir, promptFormat: model.fim ? `fim:${model.fim.family}` : 'plain' };
  }

  document(event: DocumentEvent): void {
    switch (event.kind) {
      case 'open': this.engine.documents.open(event); break;
      case 'change': this.engine.documents.change(event.filePath, event.version, event.changes); break;
      case 'close': this.engine.documents.close(event.filePath); break;
    }
  }

  async complete(request: GenerateRequest, signal: AbortSignal, onText: (text: string) => void): Promise<GenerateSummary> {
    const r = await this.engine.complete(engineRequest(request), { signal, onText });
    const counts = r.monitor ? countTriggers(r.monitor) : undefined;
    return {
      stopReason: r.stopReason,
      tokens: r.tokens.length,
      promptTokens: r.promptTokens,
      msFirstToken: r.msFirstToken,
      msTotal: r.msTotal,
      msPrompt: r.msPrompt,
      piePath: r.prompt.path === 'uncached' ? undefined : r.prompt.path,
      pieEncodedTokens: r.prompt.path === 'uncached' ? undefined : r.prompt.encodedTokens,
      healed: r.healed || undefined,
      monitorTriggers: counts?.total,
      monitorChanges: r.monitor?.changed,
      context: r.context ? { tokens: r.context.tokens, chunks: r.context.chunks.length, bySource: bySource(r.context) } : undefined,
      monitor: counts ? { triggers: counts.total, constrained: counts.constrained, timeout: counts.timeout, noAnswer: counts.noAnswer, unconstrainedAny: counts.unconstrainedAny, error: counts.error } : undefined,
    };
  }

  warm(request: GenerateRequest, signal: AbortSignal): Promise<boolean> {
    return this.engine.warmPrompt(engineRequest(request), signal);
  }

  clearCaches(): void {
    this.engine.clearCaches();
  }

  async restartLanguageServers(): Promise<void> {
    await this.engine.restartMonitor();
    this.log('info', 'language servers stopped; they start again on the next completion');
  }

  async dispose(): Promise<void> {
    await this.engine.dispose();
  }
}

function bySource(report: ContextReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of report.chunks) out[c.source] = (out[c.source] ?? 0) + 1;
  return out;
}

/** The editor's request as the engine takes it. */
function engineRequest(request: GenerateRequest): EngineRequest {
  const stop: StopRule[] = [{ kind: 'eos' }, request.singleLine ? { kind: 'endOfLine' } : { kind: 'endOfBlock' }];
  return {
    // An untitled document has no path: its prompt cache is keyed by language, and it is never monitored.
    file: request.filePath ?? `untitled:${request.languageId}`,
    languageId: request.languageId,
    prefix: request.prefix,
    suffix: request.suffix,
    documentOffset: request.documentOffset,
    workspaceRoot: request.workspaceRoot,
    maxTokens: request.maxTokens,
    temperature: request.temperature,
    seed: request.seed,
    stop,
    heal: request.heal ?? true,
    pie: request.pie,
    monitor: request.monitor,
    ...(request.context ? { context: request.context } : {}),
  };
}
