import type { CompletionEngine, GenerateRequest, GenerateSummary, GenerationStream } from './types.js';

/**
 * A scripted engine for tests of the pipeline: streams the chunks `script` returns for a request,
 * one every `chunkDelayMs`, and honours abort the way the worker does (the stream just ends).
 */
export class FakeCompletionEngine implements CompletionEngine {
  readonly requests: GenerateRequest[] = [];
  readonly warmed: GenerateRequest[] = [];
  aborted = 0;
  constructor(
    private readonly script: (req: GenerateRequest) => readonly string[],
    private readonly chunkDelayMs = 0,
  ) {}

  warm(request: GenerateRequest): void {
    this.warmed.push(request);
  }

  generate(request: GenerateRequest, signal: AbortSignal): GenerationStream {
    this.requests.push(request);
    const chunks = this.script(request);
    const started = Date.now();
    let resolveSummary!: (s: GenerateSummary) => void;
    const summary = new Promise<GenerateSummary>((r) => (resolveSummary = r));
    const delay = this.chunkDelayMs;
    const countAbort = (): void => {
      this.aborted++;
    };
    async function* run(): AsyncGenerator<string> {
      let sent = 0;
      let stopReason: GenerateSummary['stopReason'] = 'eos';
      try {
        for (const c of chunks) {
          if (delay > 0) await sleep(delay, signal);
          if (signal.aborted) {
            stopReason = 'aborted';
            countAbort();
            return;
          }
          sent++;
          yield c;
        }
      } finally {
        const ms = Date.now() - started;
        resolveSummary({ stopReason, tokens: sent, promptTokens: request.prefix.length, msFirstToken: sent > 0 ? delay : 0, msTotal: ms });
      }
    }
    return Object.assign(run(), { summary });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
