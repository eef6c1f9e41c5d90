// The engine's reading of RoPE settings against transformers' own inverse frequencies
// (test/fixtures/models/rope-reference.json, written by make_standins.py --rope-reference): config.json
// files in the transformers 5 form (rope_parameters) and the 4.x form (rope_theta, rope_scaling), with
// linear, llama3 and YaRN scaling and partial rotary. What PIE rotates a cached key by must be exactly
// what the model rotated it by.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModelConfig } from '../../../model/config.js';
import { resolveRotary } from '../../../model/pie/rotary.js';

interface RopeCase { name: string; shiftable: boolean; config: Record<string, unknown>; inv_freq: number[]; attention_scaling: number }
const reference = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/models/rope-reference.json'), 'utf8')) as { cases: RopeCase[] };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-rope-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe("RoPE settings read as transformers computes them", () => {
  assert.ok(reference.cases.length >= 8);
  reference.cases.forEach((c, n) => {
    it(c.name, () => {
      const dir = path.join(root, String(n));
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c.config));
      const config = loadModelConfig(dir);
      assert.equal(config.rotaryDim, 2 * c.inv_freq.length, 'rotary dimension');
      const support = resolveRotary(config);
      if (!c.shiftable) {
        assert.equal(support.ok, false, 'a setting whose angles depend on the length is refused');
        return;
      }
      assert.ok(support.ok, support.ok ? '' : support.reason);
      const got = support.spec.invFreq;
      for (let i = 0; i < c.inv_freq.length; i++) {
        const want = c.inv_freq[i];
        assert.ok(Math.abs(got[i] - want) <= 2e-7 * want, `θ_${i}: ${got[i]} vs transformers' ${want}`);
      }
    });
  });
});
