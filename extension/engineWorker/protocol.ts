// Messages between the extension host (EngineClient) and the engine process. Plain data only (structured clone over IPC).
import type { GenerateRequest, GenerateSummary, LogLevel } from '../completion/types.js';

export interface ModelSpec {
  /** Folder holding config.json, tokenizer.json and onnx/. */
  readonly dir: string;
  readonly variant: 'fp32' | 'fp16' | 'q8' | 'q4';
  /** Intra-op threads for ONNX Runtime; 0 = its default. */
  readonly threads: number;
  /** Language server overrides for the monitor: languageId → built-in name or { command, args }. */
  readonly servers?: Record<string, string | { command: string; args?: string[] }>;
  /** The monitor's bound on a server answer (ms); default 300. */
  readonly monitorTimeoutMs?: number;
  /** Most prompt tokens around the cursor (the typeguide.promptWindowTokens setting); 0 or absent: the engine's default for the model. */
  readonly promptWindowTokens?: number;
  /**
   * The workspace is trusted (absent: true). False: no language server is ever started (no monitor, no
   * declarations for project context), whatever the editor's documents or requests say.
   */
  readonly trusted?: boolean;
}

export interface ModelInfo {
  readonly name: string;
  readonly dir: string;
  /** 'fim:<family>' or 'plain'. */
  readonly promptFormat: string;
  readonly loadMs: number;
}

/** One text change in a document, in UTF-16 offsets of the text before the change (VS Code's rangeOffset/rangeLength). */
export interface TextChange {
  readonly offset: number;
  readonly length: number;
  readonly text: string;
}

/**
 * The editor's documents as the engine mirrors them: opened with their full text once, then followed by
 * incremental changes, closed when the editor closes them. The engine keeps the language server's copy in
 * step from these (no whole document per keystroke) and drops a closed document's caches.
 */
export type DocumentEvent =
  | { readonly kind: 'open'; readonly filePath: string; readonly languageId: string; readonly version: number; readonly text: string; readonly workspaceRoot?: string }
  | { readonly kind: 'change'; readonly filePath: string; readonly version: number; readonly changes: readonly TextChange[] }
  | { readonly kind: 'close'; readonly filePath: string };

export type ToWorker =
  | { type: 'load'; spec: ModelSpec }
  | { type: 'document'; event: DocumentEvent }
  | { type: 'generate'; id: number; request: GenerateRequest }
  /**
   * Encode the prompt this request would have, generating nothing (a file opened, a long cursor jump), so
   * that the next completion there starts from a warm cache. Lowest priority: any generate cancels it.
   */
  | { type: 'warm'; request: GenerateRequest }
  | { type: 'abort'; id: number }
  | { type: 'clearCaches' }
  | { type: 'restartLanguageServers' }
  | { type: 'shutdown' };

export type FromWorker =
  | { type: 'loaded'; info: ModelInfo }
  | { type: 'loadFailed'; message: string }
  | { type: 'text'; id: number; text: string }
  | { type: 'done'; id: number; summary: GenerateSummary }
  | { type: 'failed'; id: number; message: string }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'shutdownComplete' };
