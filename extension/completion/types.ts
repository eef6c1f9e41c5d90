// The vscode-free completion pipeline's view of the world. The editor adapter (extension/host/) turns a
// document + position into a CompletionRequest; the engine (a process of its own) is a CompletionEngine.

export interface CompletionRequest {
  /** Identifies the document (its URI); cache entries and in-flight generations belong to one document. */
  readonly documentKey: string;
  readonly languageId: string;
  /** Path on disk when the document is a file (the monitor's language server needs it). */
  readonly filePath?: string;
  /** Folder the language server should treat as the project root. */
  readonly workspaceRoot?: string;
  /** Text before the cursor. */
  readonly prefix: string;
  /** Text after the cursor. */
  readonly suffix: string;
  /** True for a manual trigger or when VS Code asks for more suggestions (next/previous). */
  readonly explicit: boolean;
  /**
   * Cursor offset in the whole document when `prefix`/`suffix` are a bounded window around it (absent:
   * they are the whole document, the offset is `prefix.length`). Also passed to the engine, whose mirror
   * of the document (DocumentEvents) has the rest.
   */
  readonly documentOffset?: number;
  /** The document version the window was cut from. */
  readonly documentVersion?: number;
  /** When the keystroke that led to this request happened (Date.now()). */
  readonly requestedAt?: number;
}

/** What the engine is asked to generate; settings are folded in by the service. */
export interface GenerateRequest {
  readonly languageId: string;
  readonly filePath?: string;
  readonly workspaceRoot?: string;
  readonly prefix: string;
  readonly suffix: string;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly seed?: number;
  /** Stop at the end of the current line (the cursor sits before other text on its line). */
  readonly singleLine: boolean;
  readonly monitor: boolean;
  readonly pie: boolean;
  /** Token healing (default true): re-type a trailing partial token under a constraint; only text after the cursor comes back. */
  readonly heal?: boolean;
  /**
   * Cursor offset in the whole document when `prefix`/`suffix` are a window around the cursor (the host
   * sends a bounded window; the engine's mirror of the document, kept by DocumentEvents, has the rest).
   */
  readonly documentOffset?: number;
  /** The document version the window was cut from (the mirror is used only when it has this version). */
  readonly documentVersion?: number;
  /** When the keystroke that led to this request happened (Date.now() on the host): queue time is measured from it. */
  readonly requestedAt?: number;
  /**
   * Project context before the current file (declarations of imported symbols, recent edits, similar open
   * files), within `budgetTokens`; absent: none. `readFiles` is false in an untrusted workspace: nothing
   * is read from disk and no language server is asked, only the editor's open documents are used.
   */
  readonly context?: { readonly budgetTokens: number; readonly readFiles: boolean };
}

/** The monitor's triggers in one generation, by outcome. */
export interface MonitorCounts {
  readonly triggers: number;
  readonly constrained: number;
  readonly timeout: number;
  readonly noAnswer: number;
  readonly unconstrainedAny: number;
  readonly error: number;
}

/** How a generation ended, reported by the engine after its last chunk. */
export interface GenerateSummary {
  readonly stopReason: 'eos' | 'stop' | 'maxTokens' | 'aborted' | 'error';
  readonly tokens: number;
  readonly promptTokens: number;
  readonly msFirstToken: number;
  readonly msTotal: number;
  /** Which prompt-cache path PIE took ('miss', 'exact', 'reposition', ...), when PIE ran. */
  readonly piePath?: string;
  /** Prompt tokens PIE's prompt cache ran the model on (the generator's last prompt token not counted). */
  readonly pieEncodedTokens?: number;
  /** Text token healing cut off the prompt and the model re-typed (not part of the streamed text). */
  readonly healed?: string;
  /** How many steps the monitor changed the model's choice, when the monitor ran. */
  readonly monitorTriggers?: number;
  readonly monitorChanges?: number;
  /** Per-outcome trigger counts, when the monitor ran. */
  readonly monitor?: MonitorCounts;
  /** ms from requestedAt (or arrival) to the worker starting this request: time spent behind other work. */
  readonly msQueue?: number;
  /** ms from the start to the prompt's KV cache being ready (PIE / prefill). */
  readonly msPrompt?: number;
  /** Project context in the prompt, when the request asked for it: tokens and chunks by source. */
  readonly context?: { readonly tokens: number; readonly chunks: number; readonly bySource: Readonly<Record<string, number>> };
}

/** A stream of generated text chunks; `summary` settles after the stream ends. */
export interface GenerationStream extends AsyncIterable<string> {
  readonly summary: Promise<GenerateSummary>;
}

export interface CompletionEngine {
  /** Starts a generation; aborting `signal` stops it in the engine (the stream then ends). */
  generate(request: GenerateRequest, signal: AbortSignal): GenerationStream;
  /** Encodes the request's prompt ahead of a completion there (a file opened, a cursor jump); lowest priority, no answer. */
  warm?(request: GenerateRequest): void;
}

export interface CompletionSettings {
  readonly debounceMs: number;
  /** How long a request waits for streamed text before it shows what is ready. */
  readonly timeBudgetMs: number;
  readonly maxTokens: number;
  readonly temperature: number;
  /** Monitor on for this language (the adapter resolves per-language settings). */
  readonly monitor: (languageId: string) => boolean;
  readonly pie: boolean;
  /** Project context in the prompt: its token budget (0 = off) and whether files may be read (trusted workspace). */
  readonly context?: { readonly budgetTokens: number; readonly readFiles: boolean };
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Log {
  error(message: string, error?: unknown): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export const silentLog: Log = { error() {}, warn() {}, info() {}, debug() {} };
