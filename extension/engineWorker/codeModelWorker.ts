// The worker's real model: model/'s CodeModel, with the PIE prompt cache and the monitor as optional
// parts switched per request by the settings.
import os from 'node:os';
import { CodeModel, type ModelVariant } from '../../model/index.js';
import { PromptCache } from '../../model/pie/promptCache.js';
import type { KvCache } from '../../model/kvCache.js';
import type { GenerationResult, LogitsProcessor, StopRule, TextTokenizer } from '../../model/types.js';
import type { GenerateRequest, GenerateSummary } from '../completion/types.js';
import type { ModelSpec } from './protocol.js';
import type { WorkerLog, WorkerModel } from './workerModel.js';

/** Monitor-guided decoding as the worker sees it (language-monitor/ provides the implementation). */
export interface MonitorProvider {
  /** Logits processors for one completion, or none when no language server serves the language. */
  processorsFor(request: GenerateRequest, tokenizer: TextTokenizer, signal: AbortSignal): Promise<MonitorRun | undefined>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

export interface MonitorRun {
  readonly processors: readonly LogitsProcessor[];
  /** Ends the run: how often the monitor triggered, and how often it changed the model's choice. */
  end(): { triggers: number; changes: number };
}

/** The settings' variant names → the engine's (the transformers.js file names: model.onnx, model_quantized.onnx, ...). */
const ENGINE_VARIANT: Record<ModelSpec['variant'], ModelVariant> = { fp32: 'default', fp16: 'fp16', q8: 'quantized', q4: 'q4' };

export class CodeModelWorker implements WorkerModel {
  private promptCache: PromptCache | undefined;

  private constructor(
    private readonly model: CodeModel,
    private readonly monitor: MonitorProvider | undefined,
    private readonly log: WorkerLog,
  ) {}

  static async load(spec: ModelSpec, log: WorkerLog, monitor?: MonitorProvider): Promise<CodeModelWorker> {
    // Default: leave one core to the editor (the extension host and the language servers share the machine).
    const threads = spec.threads > 0 ? spec.threads : Math.max(1, os.availableParallelism() - 1);
    const model = await CodeModel.load(spec.dir, { variant: ENGINE_VARIANT[spec.variant], threads });
    log('info', `loaded ${model.name} (${model.fim ? `FIM ${model.fim.family}` : 'left-to-right'}, ${model.config.numLayers} layers, vocab ${model.config.vocabSize})`);
    return new CodeModelWorker(model, monitor, log);
  }

  get info(): WorkerModel['info'] {
    return { name: this.model.name, dir: this.model.dir, promptFormat: this.model.fim ? `fim:${this.model.fim.family}` : 'plain' };
  }

  async complete(request: GenerateRequest, signal: AbortSignal, onText: (text: string) => void): Promise<GenerateSummary> {
    // Token healing as the CLI does it: the prompt drops a trailing partial token (`await |`, `this.inv|`),
    // the generator re-spells it under a constraint and streams only what follows the cursor.
    const prompt = this.model.buildPrompt(request.prefix, request.suffix, { maxTokens: request.maxTokens, heal: request.heal ?? true });
    const stop: StopRule[] = [{ kind: 'eos' }, request.singleLine ? { kind: 'endOfLine' } : { kind: 'endOfBlock' }];

    let cache: KvCache | undefined;
    let piePath: string | undefined;
    let pieEncodedTokens: number | undefined;
    if (request.pie && prompt.ids.length > 1) {
      try {
        // Keyed by document: healed or not, the prompt is just a token sequence to diff against the last one.
        const prepared = await this.pie().prepare(request.filePath ?? request.languageId, prompt.ids);
        piePath = prepared.path;
        pieEncodedTokens = prepared.encodedTokens;
        // Covers all prompt tokens but the last (generate encodes that one); the PromptCache owns it.
        cache = prepared.cache;
      } catch (e) {
        this.log('warn', `PIE prompt cache failed, computing the prompt in full: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    let run: MonitorRun | undefined;
    if (request.monitor && this.monitor) {
      try {
        // The monitor sees the healed text as generated text, so its document must not contain it.
        const cut = request.prefix.length - prompt.healed.length;
        const seen = prompt.healed ? { ...request, prefix: request.prefix.slice(0, cut) } : request;
        run = await this.monitor.processorsFor(seen, this.model.tokenizer, signal);
      } catch (e) {
        this.log('warn', `monitor unavailable for this completion: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    let result: GenerationResult;
    let counts: { triggers: number; changes: number } | undefined;
    try {
      const it = this.model.generate({ ...prompt, cache }, {
        maxTokens: request.maxTokens,
        temperature: request.temperature,
        seed: request.seed,
        stop,
        processors: run?.processors,
        signal,
      });
      let streamed = '';
      let step = await it.next();
      while (!step.done) {
        if (step.value.text) {
          streamed += step.value.text;
          onText(step.value.text);
        }
        step = await it.next();
      }
      result = step.value;
      // The generator holds back text a stop rule might still cut; the result has the final tail.
      if (result.text.length > streamed.length && result.text.startsWith(streamed)) onText(result.text.slice(streamed.length));
    } finally {
      counts = run?.end(); // also on errors: rolls the server's copy of the document back
    }
    return {
      stopReason: result.stopReason,
      tokens: result.tokens.length,
      promptTokens: result.promptTokens,
      msFirstToken: result.msFirstToken,
      msTotal: result.msTotal,
      piePath,
      pieEncodedTokens,
      healed: prompt.healed || undefined,
      monitorTriggers: counts?.triggers,
      monitorChanges: counts?.changes,
    };
  }

  private pie(): PromptCache {
    this.promptCache ??= new PromptCache({
      config: this.model.config,
      forward: (tokens, cache, options) => this.model.session.forward(tokens, cache, options),
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
