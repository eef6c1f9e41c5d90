// The worker's real model: model/'s CodeModel, with the PIE prompt cache and the monitor as optional
// parts switched per request by the settings.
import { CodeModel, type ModelVariant } from '../../model/index.js';
import { PromptCache } from '../../model/pie/promptCache.js';
import type { KvCache } from '../../model/kvCache.js';
import type { LogitsProcessor, StopRule } from '../../model/types.js';
import type { GenerateRequest, GenerateSummary } from '../completion/types.js';
import type { ModelSpec } from './protocol.js';
import type { WorkerLog, WorkerModel } from './workerModel.js';

/** Monitor-guided decoding as the worker sees it (language-monitor/ provides the implementation). */
export interface MonitorProvider {
  /** Logits processors for one completion, or none when no language server serves the language. */
  processorsFor(request: GenerateRequest, signal: AbortSignal): Promise<MonitorRun | undefined>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

export interface MonitorRun {
  readonly processors: readonly LogitsProcessor[];
  /** After the generation: how often the monitor ran, and how often it changed the model's choice. */
  counts(): { triggers: number; changes: number };
}

export class CodeModelWorker implements WorkerModel {
  private promptCache: PromptCache | undefined;

  private constructor(
    private readonly model: CodeModel,
    private readonly monitor: MonitorProvider | undefined,
    private readonly log: WorkerLog,
  ) {}

  static async load(spec: ModelSpec, log: WorkerLog, monitor?: MonitorProvider): Promise<CodeModelWorker> {
    const model = await CodeModel.load(spec.dir, { variant: spec.variant as ModelVariant, threads: spec.threads > 0 ? spec.threads : undefined });
    log('info', `loaded ${model.name} (${model.fim ? `FIM ${model.fim.family}` : 'left-to-right'}, ${model.config.numLayers} layers, vocab ${model.config.vocabSize})`);
    return new CodeModelWorker(model, monitor, log);
  }

  get info(): WorkerModel['info'] {
    return { name: this.model.name, dir: this.model.dir, promptFormat: this.model.fim ? `fim:${this.model.fim.family}` : 'plain' };
  }

  async complete(request: GenerateRequest, signal: AbortSignal, onText: (text: string) => void): Promise<GenerateSummary> {
    const prompt = this.model.buildPrompt(request.prefix, request.suffix, { maxTokens: request.maxTokens });
    const stop: StopRule[] = [{ kind: 'eos' }, request.singleLine ? { kind: 'endOfLine' } : { kind: 'endOfBlock' }];

    let cache: KvCache | undefined;
    let piePath: string | undefined;
    if (request.pie && prompt.ids.length > 1) {
      try {
        const prepared = await this.pie().prepare(request.filePath ?? request.languageId, prompt.ids);
        piePath = prepared.path;
        // generate() encodes at least one prompt token itself; the PromptCache keeps ownership of its cache.
        cache = prepared.cache.slice(0, prompt.ids.length - 1);
      } catch (e) {
        this.log('warn', `PIE prompt cache failed, computing the prompt in full: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    let run: MonitorRun | undefined;
    if (request.monitor && this.monitor) {
      try {
        run = await this.monitor.processorsFor(request, signal);
      } catch (e) {
        this.log('warn', `monitor unavailable for this completion: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    try {
      const it = this.model.generate({ ...prompt, cache }, {
        maxTokens: request.maxTokens,
        temperature: request.temperature,
        seed: request.seed,
        stop,
        processors: run?.processors,
        signal,
      });
      let step = await it.next();
      while (!step.done) {
        if (step.value.text) onText(step.value.text);
        step = await it.next();
      }
      const r = step.value;
      const counts = run?.counts();
      return {
        stopReason: r.stopReason,
        tokens: r.tokens.length,
        promptTokens: r.promptTokens,
        msFirstToken: r.msFirstToken,
        msTotal: r.msTotal,
        piePath,
        monitorTriggers: counts?.triggers,
        monitorChanges: counts?.changes,
      };
    } finally {
      cache?.dispose();
    }
  }

  private pie(): PromptCache {
    this.promptCache ??= new PromptCache({
      config: this.model.config,
      forward: async (ids, positions, cache) => {
        const r = await this.model.session.forward(ids, cache ?? null, { positions });
        return { logits: r.logits, cache: r.cache };
      },
    });
    return this.promptCache;
  }

  clearCaches(): void {
    this.promptCache?.clear();
  }

  async restartLanguageServers(): Promise<void> {
    await this.monitor?.restart();
  }

  async dispose(): Promise<void> {
    this.promptCache?.dispose();
    await this.monitor?.dispose();
    await this.model.dispose();
  }
}
