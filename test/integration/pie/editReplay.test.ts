import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { type ReplayRecord, readReplayFile, replayEdits } from '../../../cli/editReplay.js';
import { CompletionEngine } from '../../../engine/completionEngine.js';
import { CodeModel, ModelError, defaultModelDir } from '../../../model/index.js';

const fixtures = path.join(__dirname, 'fixtures');
const source = fs.readFileSync(path.join(fixtures, 'ledger.ts'), 'utf8');

describe('--edit-replay', () => {
  let engine: CompletionEngine;
  before(async () => {
    engine = new CompletionEngine({ model: await CodeModel.load(defaultModelDir) });
  });
  after(async () => {
    await engine.dispose();
  });

  const run = async (pie: boolean): Promise<ReplayRecord[]> => {
    const steps = readReplayFile(path.join(fixtures, 'ledger-edits.json'));
    const out: ReplayRecord[] = [];
    for await (const r of replayEdits(engine, source, 0, steps, { pie, documentId: `ledger-${pie}.ts`, maxTokens: 2, stop: [{ kind: 'eos' }], fimOrder: 'psm' })) out.push(r);
    return out;
  };

  it('replays keystrokes and edits, reporting the path; PIE encodes a few tokens where exact reuse re-encodes the rest', async () => {
    const withPie = await run(true);
    const without = await run(false);
    const keys = '    for'.length;
    assert.equal(withPie.length, 1 + keys + 3, 'one completion on open, one per keystroke, one per other edit');
    assert.equal(withPie[0].path, 'full');
    assert.deepEqual(withPie.slice(1).map((r) => r.path), Array(keys + 3).fill('pie'));
    assert.ok(without.slice(1).every((r) => r.path === 'prefix' || r.path === 'full'));
    for (let i = 1; i < withPie.length; i++) {
      assert.equal(withPie[i].promptTokens, without[i].promptTokens, 'same prompts either way');
      assert.ok(withPie[i].encodedTokens < without[i].encodedTokens, `step ${i}: ${withPie[i].encodedTokens} vs ${without[i].encodedTokens}`);
    }
    const keystrokes = withPie.slice(2, 1 + keys); // after the first, which also moved the cursor
    assert.ok(keystrokes.every((r) => r.encodedTokens <= 3), keystrokes.map((r) => r.encodedTokens).join(','));
  });

  it('refuses a malformed replay file with the step that is wrong', () => {
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pie-')), 'bad.json');
    fs.writeFileSync(bad, JSON.stringify([{ keys: 'a' }, { insert: 'x' }]));
    assert.throws(() => readReplayFile(bad), (e: unknown) => e instanceof ModelError && /step 2/.test(e.message));
  });
});
