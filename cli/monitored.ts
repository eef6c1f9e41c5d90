// One completion at an offset of a document, with or without the language monitor and token healing:
// the piece `complete` and `demo` share.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MonitorService, type MonitorStatistics } from '../language-monitor/index.js';
import type { CodeModel, EngineOptions, GenerationOutcome, Prompt } from '../model/index.js';

const LANGUAGE_BY_EXTENSION: Record<string, string> = {
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript',
  '.tsx': 'typescriptreact',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript',
  '.jsx': 'javascriptreact',
  '.py': 'python', '.pyi': 'python',
};

/** VS Code's language id for a file name, or undefined when no monitor knows the language. */
export function languageIdFor(file: string): string | undefined {
  return LANGUAGE_BY_EXTENSION[path.extname(file).toLowerCase()];
}

export interface DocumentAt {
  readonly file: string;
  readonly text: string;
  /** Cursor offset in `text` (UTF-16 code units). */
  readonly offset: number;
}

export interface CompletionRun {
  readonly prompt: Prompt;
  readonly result: GenerationOutcome;
  /** Whether monitor processors took part (false: monitor off, language unsupported, or no server). */
  readonly monitored: boolean;
}

/**
 * Builds the prompt (healed when asked), creates the monitor's processors for the document as the
 * model sees it (without the healed text, which the model writes again), and generates. The server's
 * copy of the document is rolled back afterwards.
 */
export async function completeAt(
  model: CodeModel, doc: DocumentAt, options: EngineOptions & { heal: boolean; noFim?: boolean; monitor?: MonitorService },
): Promise<CompletionRun> {
  const { heal, noFim, monitor, ...engine } = options;
  const prefix = doc.text.slice(0, doc.offset);
  const prompt = model.buildPrompt(prefix, doc.text.slice(doc.offset), { maxTokens: engine.maxTokens, heal, noFim });
  const languageId = languageIdFor(doc.file);
  const cut = doc.offset - prompt.healed.length;
  const processors = monitor && languageId
    ? monitor.createProcessors({
      languageId, uri: pathToFileURL(path.resolve(doc.file)).href, text: doc.text.slice(0, cut) + doc.text.slice(doc.offset),
      offset: cut, tokenizer: model.tokenizer, signal: engine.signal,
    })
    : [];
  try {
    const it = model.generate(prompt, { ...engine, processors: [...processors, ...(engine.processors ?? [])] });
    for (;;) {
      const r = await it.next();
      if (r.done) return { prompt, result: r.value, monitored: processors.length > 0 };
    }
  } finally {
    monitor?.finish(processors);
  }
}

/**
 * Starts the server for the file (when its language has one), opens the document and asks one
 * throwaway completion so that the server has loaded the project before the first trigger (a cold
 * project load takes longer than the monitor's per-answer bound). False when there is no server.
 */
export async function prepareMonitor(monitor: MonitorService, file: string, text: string, warmupMs = 20_000): Promise<boolean> {
  const languageId = languageIdFor(file);
  if (!languageId || !monitor.supports(languageId)) return false;
  const uri = pathToFileURL(path.resolve(file)).href;
  return monitor.prepare({ languageId, uri, text, warmupMs });
}

const round = (x: number) => Math.round(x * 10) / 10;

function percentile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor(q * s.length))]);
}

/** The monitor's statistics in the shape `--json` prints. */
export function summarizeStatistics(s: MonitorStatistics) {
  const triggers = Object.values(s.triggers).reduce((a, b) => a + b, 0);
  return {
    triggers,
    triggersByKind: Object.fromEntries(Object.entries(s.triggers).filter(([, n]) => n > 0)),
    queries: s.queries,
    cacheHits: s.cacheHits,
    timeouts: s.timeouts,
    failures: s.failures,
    serverMs: s.serverMs.map(round),
    serverMsP50: percentile(s.serverMs, 0.5),
    maskedSteps: s.maskedSteps,
    changed: s.argmaxChanged,
    fastForwards: s.fastForwards,
    fastForwardTokens: s.forcedTokens,
    forwardPassesSaved: s.forwardPassesSaved,
  };
}
