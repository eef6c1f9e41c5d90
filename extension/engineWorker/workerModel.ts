import type { GenerateRequest, GenerateSummary, LogLevel } from '../completion/types.js';
import type { DocumentEvent, ModelInfo, ModelSpec } from './protocol.js';

/** What the worker needs from a loaded model: one streamed completion at a time. */
export interface WorkerModel {
  readonly info: Omit<ModelInfo, 'loadMs'>;
  /** The editor's document opened, changed or closed (the engine mirrors it). */
  document(event: DocumentEvent): void;
  complete(request: GenerateRequest, signal: AbortSignal, onText: (text: string) => void): Promise<GenerateSummary>;
  /** Encodes the request's prompt into the cache without generating; false when aborted or not cacheable. */
  warm?(request: GenerateRequest, signal: AbortSignal): Promise<boolean>;
  clearCaches(): void;
  restartLanguageServers(): Promise<void>;
  dispose(): Promise<void>;
}

export type WorkerLog = (level: LogLevel, message: string) => void;
export type LoadWorkerModel = (spec: ModelSpec, log: WorkerLog) => Promise<WorkerModel>;
