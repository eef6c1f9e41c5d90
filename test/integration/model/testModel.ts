// Which model the integration tests run on: the shipped one, or TYPEGUIDE_TEST_MODEL (a folder in the
// same layout). Tests compute their expectations from the model itself, never from a known output.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { variantCandidates } from '../../../model/onnxSession.js';

export const testModelDir = path.resolve(process.env.TYPEGUIDE_TEST_MODEL ?? path.join(__dirname, '../../../model/default-model'));

/**
 * The export of the same weights that computes in float32 (`onnx/model.onnx`: int8 weights folded into
 * float32 at load). The shipped q8 file multiplies with int8 kernels that round the activations, a
 * noise of ~1e-2 that no cache or shift can reproduce; tests that check the KV cache and PIE against
 * exact arithmetic load this one, every other test loads what ships.
 */
export const exactVariant = 'default' as const;

/** `skip` option for tests that need the model: false when it is there, else the reason. */
export const needsModel: false | string = variantCandidates('default').some((f) => fs.existsSync(path.join(testModelDir, 'onnx', f)))
  ? false
  : `no ONNX model at ${testModelDir} (build it with npm run train, or set TYPEGUIDE_TEST_MODEL)`;

/** Real TypeScript with the things tokenizers get wrong: unicode, CRLF, tabs, a literal special token. */
export const sampleCode = [
  'import { readFile } from "node:fs/promises";\r\n',
  '\r\n',
  '/** Grüße, 世界 — émoji 😀 and a literal <fim_prefix> and <|endoftext|> in a comment. */\r\n',
  'export class Greeter {\r\n',
  '\tconstructor(private readonly name: string) {}\r\n',
  '\tgreet(times = 2): string {\r\n',
  '\t\treturn `Hello, ${this.name}!`.repeat(times);\r\n',
  '\t}\r\n',
  '}\n',
  'const greeter = new Greeter("Ada");\n',
  'console.log(greeter.greet(3), "\\u00e9", 0x1f600);\n',
].join('');

/** The largest |a[i] − b[i]| of two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** from, from + 1, …, to − 1. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
