// Types shared across the project. language-monitor/ and extension/ import these with `import type`;
// model/ implements them. Nothing here touches tensors or sessions.

/** What a logits processor (a monitor, a sampler filter) sees at one decoding step. */
export interface StepContext {
  /** Token ids of the prompt (as encoded), read-only. */
  readonly promptTokens: readonly number[];
  /** Token ids generated so far in this completion, read-only. */
  readonly generatedTokens: readonly number[];
  /** Decoded text generated so far (byte-exact prefix: incomplete UTF-8 at the end is held back). */
  readonly generatedText: string;
  /** Step index, 0 for the first generated token. */
  readonly step: number;
  /** Aborted when the completion is cancelled; long-running processors should watch it. */
  readonly signal: AbortSignal;
}

/** A processor may ask the generator to append these tokens without sampling (fast-forward). */
export interface ProcessResult {
  /** Tokens to append as if chosen, encoded together in one forward pass. */
  readonly force?: readonly number[];
}

/**
 * One method: adjust `logits` (length = vocabulary size) in place before sampling, e.g. set
 * disallowed tokens to -Infinity. Applied in list order. May be async (a monitor waiting on a
 * language server); a synchronous return keeps the step loop free of promise overhead.
 */
export interface LogitsProcessor {
  process(logits: Float32Array, ctx: StepContext): void | ProcessResult | Promise<void | ProcessResult>;
  /** Told about every token appended (sampled or forced), in order. Optional. */
  onToken?(tokenId: number, ctx: StepContext): void;
}

/** The tokenizer as the rest of the project sees it (backed by a kept library). */
export interface TextTokenizer {
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Raw UTF-8 bytes one token stands for (byte-level BPE); empty for special tokens. */
  tokenBytes(id: number): Uint8Array;
  /** Id of a special token by its text, or undefined when the tokenizer has none. */
  specialTokenId(text: string): number | undefined;
  /** Ids of every special/added token (never legal inside source text). */
  readonly specialIds: ReadonlySet<number>;
  readonly eosId: number | undefined;
}

/** Fill-in-the-middle prompt format of a model family. */
export interface FimTemplate {
  readonly family: string;
  /** Builds the token sequence pieces in order; `prefix`/`suffix` are source text. */
  readonly prefixToken: string;
  readonly suffixToken: string;
  readonly middleToken: string;
  /** Order of the pieces: prefix-suffix-middle (PSM) is what every supported family uses. */
  readonly order: 'psm' | 'spm';
  /** Extra text tokens (CodeLlama puts spaces around its markers). */
  readonly prefixTokenSuffixText?: string;
  /** Tokens that end the middle (besides EOS). */
  readonly stopTokens: readonly string[];
}

export type StopRule =
  | { kind: 'eos' }
  | { kind: 'endOfLine' }
  /** Stop when a line starts at an indentation lower than the first generated line's (block ends). */
  | { kind: 'endOfBlock' }
  | { kind: 'strings'; strings: readonly string[] };

export interface GenerationOptions {
  maxTokens: number;
  /** 0 = greedy. */
  temperature?: number;
  topP?: number;
  /** Seed for sampling (deterministic tests). */
  seed?: number;
  stop?: readonly StopRule[];
  processors?: readonly LogitsProcessor[];
  signal?: AbortSignal;
  /**
   * Greedy decoding only (temperature 0): while a processor's answer is pending (a monitor waiting on
   * its language server), keep decoding without processors, then replay the processors over the
   * tokens decoded meanwhile and keep those they would have chosen. The output is the one that waiting
   * gives; only the wait can go. Default false: on a 2-core machine the forward passes slow the server
   * down more than they save (bench:monitor, fresh answers). A number: at most that many tokens ahead
   * (true: 32).
   */
  speculate?: boolean | number;
}

/** Streamed out of the generator, one per appended token (forced tokens included). */
export interface GeneratedToken {
  readonly id: number;
  /** Text this token completed (may be '' while a multi-byte character is incomplete). */
  readonly text: string;
  readonly forced: boolean;
  /** Milliseconds since the generation started. */
  readonly ms: number;
}

export interface GenerationResult {
  readonly text: string;
  readonly tokens: readonly number[];
  readonly promptTokens: number;
  readonly msFirstToken: number;
  readonly msTotal: number;
  readonly stopReason: 'eos' | 'stop' | 'maxTokens' | 'aborted';
  /**
   * Decoding ahead of pending processor answers (GenerationOptions.speculate): tokens decoded ahead,
   * how many of them the processors' replay kept, and how often it went back to where they differed.
   */
  readonly speculation?: { readonly decoded: number; readonly kept: number; readonly rollbacks: number };
}
