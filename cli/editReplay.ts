// `--edit-replay FILE`: applies a sequence of edits to a document and completes at the cursor after
// each one, through a PromptCache (PIE on, or off with --no-pie), printing the path taken and the time.
//
// FILE is JSON: an array of steps (or { "steps": [...] }), each one of
//   { "keys": "abc" }                       type at the cursor, one keystroke (and completion) per character
//   { "type": "text" }                      insert text at the cursor in one edit
//   { "insert": "text", "after": "anchor" }  insert after the first occurrence of anchor
//   { "insert": "text", "before": "anchor" } insert before it
//   { "delete": "text" }                     delete the first occurrence
//   { "replace": "old", "with": "new" }      replace every occurrence (a rename)
//   { "cursor": "anchor" }                   move the cursor after the first occurrence (no completion)
// Anchors are found by substring; the cursor follows edits made before it.
import fs from 'node:fs';
import path from 'node:path';
import type { CompletionEngine, EngineResult } from '../engine/completionEngine.js';
import { ModelError } from '../model/errors.js';
import { resolveRotary } from '../model/pie/rotary.js';
import type { StopRule } from '../model/types.js';

export type ReplayStep =
  | { keys: string }
  | { type: string }
  | { insert: string; after?: string; before?: string }
  | { delete: string }
  | { replace: string; with: string }
  | { cursor: string };

export interface ReplayRecord {
  readonly step: number;
  readonly edit: string;
  readonly path: EngineResult['prompt']['path'];
  readonly reason: string;
  readonly promptTokens: number;
  /** Tokens the model ran on to get the prompt ready (the last prompt token included). */
  readonly encodedTokens: number;
  readonly prepareMs: number;
  /** From the edit to the first generated token. */
  readonly firstTokenMs: number;
  readonly totalMs: number;
  readonly completion: string;
}

export function readReplayFile(file: string): ReplayStep[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelError(file, `cannot be read as JSON (${(err as Error).message}); expected an array of edit steps`, { cause: err });
  }
  const steps = Array.isArray(raw) ? raw : (raw as { steps?: unknown })?.steps;
  if (!Array.isArray(steps)) throw new ModelError(file, 'expected an array of edit steps (or {"steps": [...]})');
  steps.forEach((s: unknown, i) => {
    const o = s as Record<string, unknown>;
    const ok = typeof o === 'object' && o !== null && (
      typeof o.keys === 'string' || typeof o.type === 'string' || typeof o.delete === 'string' || typeof o.cursor === 'string' ||
      (typeof o.insert === 'string' && (typeof o.after === 'string' || typeof o.before === 'string')) ||
      (typeof o.replace === 'string' && typeof o.with === 'string'));
    if (!ok) throw new ModelError(file, `step ${i + 1} (${JSON.stringify(s)}) is not one of keys, type, insert+after/before, delete, replace+with, cursor`);
  });
  return steps as ReplayStep[];
}

interface Doc { text: string; cursor: number }

/** Applies one edit (keystrokes are expanded by the caller); returns a short description. */
function apply(doc: Doc, step: ReplayStep, where: string): string {
  const find = (anchor: string): number => {
    const i = doc.text.indexOf(anchor);
    if (i < 0) throw new ModelError(where, `"${anchor}" does not occur in the document`);
    return i;
  };
  const splice = (at: number, remove: number, insert: string): void => {
    doc.text = doc.text.slice(0, at) + insert + doc.text.slice(at + remove);
    if (doc.cursor >= at + remove) doc.cursor += insert.length - remove;
    else if (doc.cursor > at) doc.cursor = at + insert.length;
  };
  if ('type' in step) {
    splice(doc.cursor, 0, step.type);
    return `type ${JSON.stringify(step.type)}`;
  }
  if ('insert' in step) {
    const at = step.after !== undefined ? find(step.after) + step.after.length : find(step.before!);
    splice(at, 0, step.insert);
    return `insert ${JSON.stringify(step.insert)}`;
  }
  if ('delete' in step) {
    splice(find(step.delete), step.delete.length, '');
    return `delete ${JSON.stringify(step.delete)}`;
  }
  if ('replace' in step) {
    let n = 0;
    for (let i = doc.text.indexOf(step.replace); i >= 0; i = doc.text.indexOf(step.replace, i + step.with.length)) {
      splice(i, step.replace.length, step.with);
      n++;
      if (step.replace.length === 0) break;
    }
    if (n === 0) throw new ModelError(where, `"${step.replace}" does not occur in the document`);
    return `replace ${JSON.stringify(step.replace)} → ${JSON.stringify(step.with)} (${n}×)`;
  }
  if ('cursor' in step) {
    doc.cursor = find(step.cursor) + step.cursor.length;
    return `cursor after ${JSON.stringify(step.cursor)}`;
  }
  throw new ModelError(where, `unknown step ${JSON.stringify(step)}`);
}

export interface ReplayOptions {
  readonly pie: boolean;
  readonly maxTokens: number;
  readonly stop: readonly StopRule[];
  readonly documentId?: string;
  /** Complete once before the first edit (warms the cache as an editor would have). Default true. */
  readonly completeFirst?: boolean;
  /** Token healing of the prompt's end (see PromptOptions.heal). Default false. */
  readonly heal?: boolean;
  /** FIM layout override (see PromptOptions.fimOrder). Default: the model's own. */
  readonly fimOrder?: 'psm' | 'spm';
}

/**
 * Replays `steps` on `text` with the cursor at `cursor`, completing after each edit through the engine
 * (as the editor does): PIE on (`pie: true`), or prefix reuse only. Unmonitored: this measures the prompt.
 */
export async function* replayEdits(engine: CompletionEngine, text: string, cursor: number, steps: readonly ReplayStep[], options: ReplayOptions): AsyncGenerator<ReplayRecord> {
  const doc: Doc = { text, cursor };
  // The engine keys its prompt caches by document: a replay starts from nothing and leaves nothing.
  const id = path.resolve(options.documentId ?? 'document');
  engine.documents.close(id);
  try {
    const complete = async (step: number, edit: string): Promise<ReplayRecord> => {
      const r = await engine.complete({
        file: id, languageId: 'plaintext', prefix: doc.text.slice(0, doc.cursor), suffix: doc.text.slice(doc.cursor),
        maxTokens: options.maxTokens, stop: options.stop, temperature: 0, heal: options.heal ?? false, fimOrder: options.fimOrder,
        cache: options.pie ? 'pie' : 'prefix', monitor: false,
      });
      return {
        step, edit, path: r.prompt.path, reason: r.prompt.reason, promptTokens: r.promptTokens, encodedTokens: r.prompt.encodedTokens + 1,
        prepareMs: r.msPrompt, firstTokenMs: r.msFirstToken, totalMs: r.msTotal, completion: r.text,
      };
    };
    if (options.completeFirst ?? true) yield await complete(0, 'open the document');
    let n = 0;
    for (const [i, step] of steps.entries()) {
      const where = `edit step ${i + 1}`;
      if ('keys' in step) {
        for (const ch of step.keys) {
          apply(doc, { type: ch }, where);
          yield await complete(++n, `key ${JSON.stringify(ch)}`);
        }
        continue;
      }
      const edit = apply(doc, step, where);
      if ('cursor' in step) continue;
      yield await complete(++n, edit);
    }
  } finally {
    engine.documents.close(id);
  }
}

const r1 = (ms: number): string => ms.toFixed(1);

/** One line per completion: step, path, tokens encoded / prompt, times, and the completion's first line. */
export function formatRecord(r: ReplayRecord): string {
  const first = r.completion.split('\n')[0];
  return `${String(r.step).padStart(3)}  ${r.path.padEnd(6)} ${String(r.encodedTokens).padStart(5)}/${String(r.promptTokens).padEnd(5)} ready ${r1(r.firstTokenMs).padStart(7)} ms  total ${r1(r.totalMs).padStart(7)} ms  ${r.edit.padEnd(28).slice(0, 28)}  ${JSON.stringify(first)}`;
}

/** The CLI side of `--edit-replay FILE`: prints one line per completion (or JSON lines with --json). */
export async function runEditReplay(
  engine: CompletionEngine, file: string, documentFile: string, text: string, cursor: number,
  options: { pie: boolean; maxTokens: number; stop: readonly StopRule[]; json: boolean; heal?: boolean },
): Promise<void> {
  const steps = readReplayFile(file);
  if (!options.json) {
    const rotary = resolveRotary(engine.model.config);
    const pie = !options.pie ? 'off' : rotary.ok ? 'on' : `unavailable (${rotary.reason})`;
    console.log(`PIE ${pie}; columns: step, path, tokens encoded/prompt, time to first token, total, edit, completion`);
  }
  for await (const r of replayEdits(engine, text, cursor, steps, { ...options, documentId: documentFile })) {
    console.log(options.json ? JSON.stringify({ ...r, prepareMs: Math.round(r.prepareMs * 100) / 100, firstTokenMs: Math.round(r.firstTokenMs * 100) / 100, totalMs: Math.round(r.totalMs * 100) / 100 }) : formatRecord(r));
  }
}
