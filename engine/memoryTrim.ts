import { createRequire } from 'node:module';

/**
 * glibc's `malloc_trim(0)`, called through koffi (a kept FFI library with prebuilt binaries; no compiler
 * needed): it hands the free pages in the middle of the allocator's heaps back to the system. glibc's
 * free() returns memory only from the top of the heap, so the holes that the KV arrays of finished
 * generations leave (one array per layer and step, each a row longer than the last) stay resident: in
 * `npm run bench:storm` the engine's heap held ~70 MiB of them after the typing, which one call gave
 * back (370 → 302 MiB, measured with gdb before this existed). Null where there is no glibc (macOS,
 * Windows, musl) or koffi cannot load: trimming is then skipped, nothing else changes.
 */
export type MallocTrim = () => boolean;

let loaded: MallocTrim | null | undefined;

export function mallocTrim(): MallocTrim | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') return loaded;
  try {
    // koffi stays outside the bundle (a native add-on found by path), like onnxruntime-node.
    const koffi = createRequire(__filename)('koffi') as { load(name: string): { func(signature: string): (pad: number) => number } };
    const trim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)');
    loaded = () => trim(0) === 1;
  } catch {
    loaded = null;
  }
  return loaded;
}

/**
 * Calls `trim` once the engine has been idle for `delayMs` (no request, warm-up or prompt encode in
 * flight): a trim walks the whole heap (≈10 ms for a few hundred MiB), so never on a keystroke's path,
 * and once per idle period rather than after every request.
 */
export class IdleTrim {
  private active = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending = false;
  /** Trims done, and the milliseconds they took in all (Show Statistics, benchmarks). */
  trims = 0;
  trimMs = 0;

  constructor(private readonly trim: MallocTrim | null, private readonly delayMs = 1000) {}

  get enabled(): boolean {
    return this.trim !== null;
  }

  begin(): void {
    this.active++;
    this.cancel();
  }

  end(): void {
    this.active = Math.max(0, this.active - 1);
    if (this.active > 0 || !this.trim) return;
    this.pending = true;
    this.cancel();
    this.timer = setTimeout(() => this.fire(), this.delayMs);
    this.timer.unref?.();
  }

  /** Runs a trim now if one is due and nothing is in flight (tests; the timer calls this). */
  fire(): boolean {
    this.cancel();
    if (!this.trim || !this.pending || this.active > 0) return false;
    this.pending = false;
    const t0 = performance.now();
    this.trim();
    this.trimMs += performance.now() - t0;
    this.trims++;
    return true;
  }

  dispose(): void {
    this.cancel();
    this.pending = false;
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
