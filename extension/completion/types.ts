// The vscode-free completion pipeline's view of the world. The editor adapter (extension/host/) turns a
// document + position into a CompletionRequest; the engine (a worker thread) is a CompletionEngine.

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
}

/** A stream of generated text chunks; `summary` settles after the stream ends. */
export interface GenerationStream extends AsyncIterable<string> {
  readonly summary: Promise<GenerateSummary>;
}

export interface CompletionEngine {
  /** Starts a generation; aborting `signal` stops it in the engine (the stream then ends). */
  generate(request: GenerateRequest, signal: AbortSignal): GenerationStream;
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
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Log {
  error(message: string, error?: unknown): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export const silentLog: Log = { error() {}, warn() {}, info() {}, debug() {} };
