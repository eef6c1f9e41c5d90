// Named imports: after `import {`, `import type {`, `import Default, {` and `export {` once a `from`
// clause follows the cursor (on the same or a later line); never without a module to ask about.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { TriggerDetector } from '../../../language-monitor/triggers.js';

let detector: TriggerDetector;
before(async () => { detector = await TriggerDetector.create(); });
const kind = (text: string, suffix: string) => detector.detect('typescript', text, suffix)?.kind;

void test('named-import forms with the module named after the cursor', () => {
  assert.equal(kind('import React, { ', "} from 'react';"), 'namedImport');
  assert.equal(kind('import React, { useState, ', " } from 'react';"), 'namedImport');
  assert.equal(kind('import { X, ', "} from './m';"), 'namedImport');
  assert.equal(kind('import {\n  X,\n  ', "\n} from './m';"), 'namedImport');
  assert.equal(kind('export { A, ', " } from './m';"), 'namedImport');
  assert.equal(kind('import type { A, ', " } from './m';"), 'namedImport');
});

void test('no module yet, or not an import', () => {
  assert.equal(kind('import { ', ''), undefined);
  assert.equal(kind('import { ', '\nconst x = 1;'), undefined);
  assert.equal(kind('export { A, ', ' };'), undefined, 'a local export list has no module');
  assert.equal(kind('const o = { ', " } from './m'"), undefined);
});

void test('a dereference in TypeScript admits private names; in Python it does not', () => {
  assert.equal(detector.detect('typescript', 'class A { m() { this.')?.privateNames, true);
  assert.equal(detector.detect('python', 'self.')?.privateNames, undefined);
});
