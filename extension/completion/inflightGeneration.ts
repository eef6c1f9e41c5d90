import { remainderAfterTyping, typedBetween, type CursorWindow } from './completionCache.js';
import type { GenerateSummary } from './types.js';

/**
 * One running generation, postprocessed text accumulating as it streams. Requests that arrive while it
 * runs attach to it when the user typed what it predicted so far; it owns its AbortController, so a
 * request that goes away does not stop it (the next request decides: reuse, or abort because it diverged).
 */
export class InflightGeneration {
  text = '';
  done = false;
  summary: GenerateSummary | undefined;
  /** Longest text a request has already shown; when the final text is longer, the suggestion can grow. */
  shownLength = 0;
  /** Document offset of the cursor where text of this generation was last shown. */
  shownAt: number | undefined;
  /** Requests waiting on this generation's text now. */
  waiters = 0;
  /** Requests that have waited on it so far (a request that took it over after another was cancelled). */
  joins = 0;
  /**
   * Until when (Date.now()) a request is expected to take it over: a keystroke typed what it predicted,
   * and VS Code asks for that place only after its debounce and a round trip (~50-150 ms), after it has
   * already cancelled the request of the previous place.
   */
  awaitedUntil = 0;
  /** 0: the configured temperature (greedy by default); more: a sampled alternative. */
  seed = 0;
  private readonly controller = new AbortController();
  private readonly listeners = new Set<() => void>();
  readonly finished: Promise<void>;
  /** When it started (Date.now()): a time budget counts from the later of this and the keystroke. */
  readonly startedAt = Date.now();

  constructor(
    readonly documentKey: string,
    readonly at: CursorWindow,
    run: (signal: AbortSignal, append: (text: string) => void) => Promise<GenerateSummary>,
  ) {
    this.finished = run(this.controller.signal, (t) => {
      this.text += t;
      this.notify();
    })
      .then((s) => {
        this.summary = s;
      })
      .catch((e: unknown) => {
        this.summary = { stopReason: 'error', tokens: 0, promptTokens: 0, msFirstToken: 0, msTotal: 0 };
        this.error = e;
      })
      .finally(() => {
        this.done = true;
        this.notify();
      });
  }

  error: unknown;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(): void {
    this.controller.abort();
  }

  /** The typed text since this generation's cursor, when the request is at a later point of the same edit. */
  typedSince(documentKey: string, at: CursorWindow): string | undefined {
    return documentKey === this.documentKey ? typedBetween(this.at, at) : undefined;
  }

  /** Still consistent with what the user typed: the prediction so far starts with it, or could still. */
  consistentWith(typed: string): boolean {
    return this.text.startsWith(typed) || (!this.done && typed.startsWith(this.text));
  }

  remainder(typed: string): string | undefined {
    return remainderAfterTyping(this.text, typed);
  }

  /**
   * Resolves when `ready()` holds, the generation ends, the deadline passes or the signal aborts,
   * whichever is first.
   */
  async waitUntil(ready: () => boolean, deadline: number, signal: AbortSignal): Promise<void> {
    if (ready() || this.done || signal.aborted) return;
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const check = (): void => {
        if (ready() || this.done || signal.aborted || Date.now() >= deadline) finish();
      };
      const delay = deadline - Date.now();
      if (delay < 2 ** 31 - 1) timer = setTimeout(finish, Math.max(0, delay));
      this.listeners.add(check);
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}
