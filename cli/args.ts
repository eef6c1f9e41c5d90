import { ModelError, type ModelVariant, type StopRule, variantFiles } from '../model/index.js';

/** Parses --stop line|block|eos|none (comma-separated) into stop rules; EOS is always on unless 'none'. */
export function parseStop(value: string | undefined, fallback: string): StopRule[] {
  const words = (value ?? fallback).split(',').map((w) => w.trim()).filter(Boolean);
  if (words.includes('none')) return [];
  const rules: StopRule[] = [{ kind: 'eos' }];
  for (const w of words) {
    if (w === 'line') rules.push({ kind: 'endOfLine' });
    else if (w === 'block') rules.push({ kind: 'endOfBlock' });
    else if (w !== 'eos') throw new ModelError('--stop', `unknown rule "${w}"; expected line, block, eos or none`);
  }
  return rules;
}

export function parseVariant(value: string | undefined): ModelVariant | undefined {
  if (value === undefined) return undefined;
  if (!(value in variantFiles)) throw new ModelError('--variant', `unknown "${value}"; expected one of ${Object.keys(variantFiles).join(', ')}`);
  return value as ModelVariant;
}

export function parseOnOff(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'on' || value === 'true') return true;
  if (value === 'off' || value === 'false') return false;
  throw new ModelError(name, `expected on or off, got "${value}"`);
}

export function parsePositiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ModelError(name, `expected a positive integer, got "${value}"`);
  return n;
}

/** A whole number ≥ 0 (0 turns a feature off). */
export function parseCount(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ModelError(name, `expected a whole number ≥ 0, got "${value}"`);
  return n;
}

/** Prints a ModelError as one line (no stack) and sets a failing exit code; rethrows anything else. */
export function reportCliError(err: unknown): void {
  if (err instanceof ModelError) {
    console.error(`error: ${err.message}`);
    process.exitCode = 1;
    return;
  }
  if (err instanceof Error && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`error: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  throw err;
}
