// The engine-contract fixture (fixtures/engine): a class in inventory.ts used from main.ts. Documents are
// edited in memory by substring (the cursor goes where `|` stands), never by line and column.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ENGINE_ROOT = path.resolve(__dirname, 'fixtures/engine');
export const ENGINE_ROOT_URI = pathToFileURL(ENGINE_ROOT).href;

export interface FixtureDoc { readonly uri: string; readonly languageId: string; readonly text: string; readonly offset: number }

export function fixture(file: string): FixtureDoc {
  const full = path.join(ENGINE_ROOT, 'src', file);
  return { uri: pathToFileURL(full).href, languageId: 'typescript', text: fs.readFileSync(full, 'utf8'), offset: 0 };
}

/** The fixture file with `from` replaced by `to`; the cursor goes where `|` stands in `to` (if it does). */
export function edited(file: string, from: string, to: string): FixtureDoc {
  const base = fixture(file);
  assert.equal(base.text.split(from).length, 2, `${from} occurs once in ${file}`);
  const text = base.text.replace(from, to);
  const offset = text.indexOf('|');
  return { ...base, text: offset < 0 ? text : text.replace('|', ''), offset: Math.max(0, offset) };
}

export const leadingName = (s: string): string => /^\s*(#?[\p{ID_Continue}$]*)/u.exec(s)![1];
export const INVENTORY_MEMBERS = ['count', 'restock', 'invalidate', 'inventoryValue'];

/** Blocks the thread for `ms`, as a model's forward pass does (onnxruntime runs it synchronously). */
export function blockThread(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* a forward pass */ }
}
