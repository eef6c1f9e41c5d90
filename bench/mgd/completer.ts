// The model side of the evaluation, as an interface: the harness asks for a completion at a site,
// without or with the monitor, in left-context or fill-in-the-middle mode, with or without project context
// from other files. `ModelCompleter` (modelCompleter.ts) runs the real engine; `ScriptedCompleter` returns
// given text (tests, baselines).
import type { ContextReport } from '../../engine/completionEngine.js';
import type { Site } from './sites.js';

export type PromptMode = 'left' | 'fim';

/** A configuration: a prompt mode, alone or with project context before the current file (`fim+context`). */
export type ConfigName = PromptMode | `${PromptMode}+context`;

export const CONFIG_NAMES: readonly ConfigName[] = ['left', 'fim', 'left+context', 'fim+context'];

export interface EvalConfig {
  readonly name: ConfigName;
  readonly mode: PromptMode;
  readonly context: boolean;
}

export function isConfigName(s: string): s is ConfigName {
  return (CONFIG_NAMES as readonly string[]).includes(s);
}

export function parseConfig(name: ConfigName): EvalConfig {
  const context = name.endsWith('+context');
  return { name, mode: (context ? name.slice(0, -'+context'.length) : name) as PromptMode, context };
}

export interface CompletionRequest {
  readonly site: Site;
  /** The whole original file text (the completion replaces what follows the dot on the site's line). */
  readonly text: string;
  /** Left context: the file up to and including the dot. */
  readonly prefix: string;
  /** Right context: the file from the end of the site's line (starts with the line break). */
  readonly suffix: string;
  /** The package folder (the workspace root a language server would be started on). */
  readonly root: string;
  readonly mode: PromptMode;
  readonly monitor: boolean;
  /** Project context before the current file (the completer's budget; declarations through its own server). */
  readonly context?: boolean;
}

export interface CompletionOutcome {
  /** Generated text after the dot (the harness keeps its first line). */
  readonly text: string;
  /** Wall time of this completion, milliseconds (prompt encoding included). */
  readonly ms: number;
  readonly tokens?: number;
  /** Tokens the monitor forced (fast-forward), when it reports them. */
  readonly forcedTokens?: number;
  /** The monitor's triggers in this completion by outcome (monitored arms of a real model only). */
  readonly triggers?: TriggerCounts;
  /** What project context went into the prompt (context configurations). */
  readonly context?: ContextReport;
}

/** Triggers by outcome; noAnswer: the server gave nothing usable (no items, an `any` receiver, an error). */
export interface TriggerCounts {
  readonly total: number;
  readonly constrained: number;
  readonly timeout: number;
  readonly noAnswer: number;
}

export interface Completer {
  readonly name: string;
  /** Whether the FIM configuration applies (the model has a FIM template). */
  readonly supportsFim: boolean;
  /** Whether `monitor: true` requests are served by a real monitor (else they equal `monitor: false`). */
  readonly hasMonitor: boolean;
  complete(req: CompletionRequest): Promise<CompletionOutcome>;
  /** Called when the harness is done with a package (release its server sessions). */
  endPackage?(root: string): Promise<void>;
  dispose(): Promise<void>;
}

/** Returns what a function of the request says, instantly. */
export class ScriptedCompleter implements Completer {
  readonly hasMonitor = true;

  constructor(readonly name: string, private readonly script: (req: CompletionRequest) => string, readonly supportsFim = true) {}

  complete(req: CompletionRequest): Promise<CompletionOutcome> {
    const t0 = performance.now();
    const text = this.script(req);
    return Promise.resolve({ text, ms: performance.now() - t0 });
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}
