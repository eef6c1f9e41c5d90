/**
 * Lets only the latest of a burst of requests through: `wait` resolves true after `ms` unless a later
 * `wait` call or the request's own signal came first (then false). No timers are left behind.
 */
export class Debouncer {
  private latest = 0;

  async wait(ms: number, signal: AbortSignal): Promise<boolean> {
    const ticket = ++this.latest;
    if (signal.aborted) return false;
    if (ms > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return ticket === this.latest && !signal.aborted;
  }
}
