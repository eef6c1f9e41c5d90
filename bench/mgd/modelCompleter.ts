// The real model side: the project's ModelEngine generating greedily to the end of the line, with the
// language monitor's logits processors when `monitor: true`.
//
// The engine is model/'s CodeModel (the engine that exists; HELPERS.md's draft contract named it
// ModelEngine in model/engine.ts). The monitor is plugged in through `MonitorProvider`
// (monitorProvider.ts adapts language-monitor's entry point).
import path from 'node:path';
import { CodeModel } from '../../model/index.js';
import type { LogitsProcessor, TextTokenizer } from '../../model/types.js';
import type { Completer, CompletionOutcome, CompletionRequest } from './completer.js';

/** Supplies the monitor's logits processors for one completion at a site. */
export interface MonitorProvider {
  readonly name: string;
  /** Readies the server for this site (start, open, load the project); not counted in latency. */
  prepare?(req: CompletionRequest): Promise<void>;
  forCompletion(req: CompletionRequest, tokenizer: TextTokenizer): Promise<{ processors: LogitsProcessor[]; done(): Promise<void> }>;
  endPackage?(root: string): Promise<void>;
  dispose(): Promise<void>;
}

export interface ModelCompleterOptions {
  /** Cap on generated tokens (a line rarely needs more). */
  readonly maxNewTokens?: number;
  /** Cap on prompt tokens (default: the model's context less room for generation; the engine cuts the window). */
  readonly maxPromptTokens?: number;
  readonly monitor?: MonitorProvider;
}

/** Loads a model folder with the project's engine. */
export function loadModel(dir: string): Promise<CodeModel> {
  return CodeModel.load(dir);
}

export class ModelCompleter implements Completer {
  readonly name: string;
  readonly supportsFim: boolean;
  readonly hasMonitor: boolean;

  constructor(private readonly engine: CodeModel, private readonly opts: ModelCompleterOptions = {}) {
    this.name = path.basename(engine.dir);
    this.supportsFim = engine.fim !== undefined && engine.fim !== null;
    this.hasMonitor = opts.monitor !== undefined;
  }

  async complete(req: CompletionRequest): Promise<CompletionOutcome> {
    if (req.monitor) await this.opts.monitor?.prepare?.(req);
    const t0 = performance.now();
    const maxTokens = this.opts.maxNewTokens ?? 48;
    const prompt = this.engine.buildPrompt(req.prefix, req.suffix, { noFim: req.mode === 'left', maxTokens, maxPromptTokens: this.opts.maxPromptTokens });
    const monitor = req.monitor && this.opts.monitor ? await this.opts.monitor.forCompletion(req, this.engine.tokenizer) : undefined;
    try {
      const gen = this.engine.generate(prompt, {
        maxTokens,
        temperature: 0,
        // The completion is the rest of the site's line: a line break ends it, even a leading one.
        stop: [{ kind: 'strings', strings: ['\n'] }],
        processors: monitor?.processors ?? [],
      });
      let forced = 0;
      let step = await gen.next();
      while (!step.done) {
        if (step.value.forced) forced++;
        step = await gen.next();
      }
      const result = step.value;
      return { text: result.text, ms: performance.now() - t0, tokens: result.tokens.length, forcedTokens: forced };
    } finally {
      await monitor?.done();
    }
  }

  async endPackage(root: string): Promise<void> {
    await this.opts.monitor?.endPackage?.(root);
  }

  async dispose(): Promise<void> {
    await this.opts.monitor?.dispose();
    await this.engine.dispose();
  }
}
