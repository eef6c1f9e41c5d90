// The command line's side of the one completion engine (engine/): `complete` and `demo` load a model and
// a monitor into a CompletionEngine and complete at an offset of a document through it, exactly as the
// extension's worker does.
import path from 'node:path';
import { CompletionEngine, type EngineRequest, type EngineResult, type MonitorReport } from '../engine/completionEngine.js';
import { languageIdFor } from '../engine/languages.js';
import { MonitorService } from '../language-monitor/index.js';
import { CodeModel, type ModelVariant } from '../model/index.js';

export { languageIdFor };

export interface DocumentAt {
  readonly file: string;
  readonly text: string;
  /** Cursor offset in `text` (UTF-16 code units). */
  readonly offset: number;
}

export interface CliEngine {
  readonly engine: CompletionEngine;
  readonly model: CodeModel;
  /** The language monitor, when one was asked for. */
  readonly monitor: MonitorService | undefined;
  dispose(): Promise<void>;
}

/** Loads the model and (when `monitor` is true) the language monitor, and composes the engine. */
export async function openEngine(options: {
  modelDir: string; variant?: ModelVariant; threads?: number; monitor: boolean; monitorTimeoutMs?: number;
  log?: (message: string) => void; promptWindowTokens?: number;
}): Promise<CliEngine> {
  const [model, monitor] = await Promise.all([
    CodeModel.load(options.modelDir, { variant: options.variant, threads: options.threads }),
    options.monitor ? MonitorService.create({ timeoutMs: options.monitorTimeoutMs ?? 300, log: options.log }) : Promise.resolve(undefined),
  ]);
  const engine = new CompletionEngine({
    model, monitor, promptWindowTokens: options.promptWindowTokens,
    log: options.log ? (level, m) => options.log!(`${level}: ${m}`) : undefined,
  });
  return { engine, model, monitor, dispose: () => engine.dispose() };
}

/**
 * Starts the server for the file (when its language has one), opens the document and loads its project,
 * so that the first trigger is not spent on the project load. False when there is no server.
 */
export function prepareMonitor(engine: CompletionEngine, file: string, text: string, workspaceRoot?: string): Promise<boolean> {
  const languageId = languageIdFor(file);
  if (!languageId) return Promise.resolve(false);
  return engine.warm({ file: path.resolve(file), languageId, text, workspaceRoot });
}

/** One completion at `doc.offset` through the engine (the monitor decides per language; `monitor: false` turns it off). */
export function completeAt(
  engine: CompletionEngine, doc: DocumentAt,
  options: Omit<EngineRequest, 'file' | 'languageId' | 'prefix' | 'suffix'> & { signal?: AbortSignal },
): Promise<EngineResult> {
  const { signal, ...request } = options;
  const file = path.resolve(doc.file);
  return engine.complete({
    file,
    languageId: languageIdFor(file) ?? 'plaintext',
    prefix: doc.text.slice(0, doc.offset),
    suffix: doc.text.slice(doc.offset),
    ...request,
  }, { signal });
}

const round = (x: number) => Math.round(x * 10) / 10;

function percentile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor(q * s.length))]);
}

/** One completion's monitor report in the shape `--json` prints: every trigger, and counts. */
export function summarizeReport(report: MonitorReport | undefined) {
  const triggers = report?.triggers ?? [];
  const answered = triggers.map((t) => t.ms).filter((ms): ms is number => ms !== null);
  return {
    triggers: triggers.map((t) => ({ ...t, ms: t.ms === null ? null : round(t.ms) })),
    byOutcome: Object.fromEntries([...new Set(triggers.map((t) => t.outcome))].map((o) => [o, triggers.filter((t) => t.outcome === o).length])),
    serverMsP50: percentile(answered, 0.5),
    maskedSteps: report?.maskedSteps ?? 0,
    changed: report?.changed ?? 0,
    forcedTokens: report?.forcedTokens ?? 0,
  };
}
