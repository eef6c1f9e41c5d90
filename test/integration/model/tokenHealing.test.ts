// Token healing through the real model: the output re-spells the dropped text, callers see only what
// follows the cursor, and the healing constraint runs before any other processor.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import type { LogitsProcessor, ProcessResult } from '../../../model/types.js';
import { needsModel, testModelDir } from './testModel.js';

const prefix = 'import { readFile } from "node:fs/promises";\n\nexport async function load(path: string) {\n  const text = await ';
const suffix = '\n  return JSON.parse(text);\n}\n';

describe('token healing', { skip: needsModel }, () => {
  let model: CodeModel;
  before(async () => {
    model = await CodeModel.load(testModelDir);
  });
  after(() => model?.dispose());

  it('drops the trailing blank from the prompt and the output never repeats it', async () => {
    const plain = model.buildPrompt(prefix, suffix);
    const healed = model.buildPrompt(prefix, suffix, { heal: true });
    assert.equal(plain.healed, '');
    assert.ok(healed.healed.endsWith(' ') && prefix.endsWith(healed.healed));
    assert.ok(healed.ids.length < plain.ids.length);
    assert.equal(healed.linePrefix, plain.linePrefix.slice(0, plain.linePrefix.length - healed.healed.length));
    for (const p of [plain, healed]) assert.ok(p.ids.includes(model.tokenizer.tokenId(model.fim!.middleToken)!));

    let streamed = '';
    const it = model.generate(healed, { maxTokens: 8, stop: [] });
    let r = await it.next();
    for (; !r.done; r = await it.next()) streamed += r.value.text;
    const result = r.value;
    const spelled = model.tokenizer.decode(result.tokens);
    assert.ok(spelled.startsWith(healed.healed), `generated tokens ${JSON.stringify(spelled)} re-spell ${JSON.stringify(healed.healed)}`);
    assert.equal(result.text, spelled.slice(healed.healed.length), 'the healed text is removed once, nothing else');
    assert.ok(result.text.startsWith(streamed) || streamed === result.text);
    const viaComplete = await model.complete(prefix, suffix, { maxTokens: 8, stop: [], heal: true });
    assert.equal(viaComplete.text, result.text);
  });

  it('a partial identifier is healed: the output starts with the rest of an identifier, not the typed part again', async () => {
    const pre = 'const inventory = new Map<string, number>();\nconst count = inv';
    const r = await model.complete(pre, ';\n', { maxTokens: 6, stop: [], heal: true });
    const p = model.buildPrompt(pre, ';\n', { heal: true });
    assert.ok(p.healed.endsWith('inv'));
    assert.equal(model.tokenizer.decode(r.tokens).slice(0, p.healed.length), p.healed);
    assert.equal(r.text, model.tokenizer.decode(r.tokens).slice(p.healed.length));
  });

  it('runs first: a later processor sees the healing mask, and a force that contradicts it is ignored', async () => {
    const prompt = model.buildPrompt(prefix, suffix, { heal: true });
    const spaced = model.tokenizer.encode(' readFile')[0];
    const bare = model.tokenizer.encode('readFile')[0];
    const seen: { spaced: number; bare: number }[] = [];
    const recorder: LogitsProcessor = {
      process(logits, ctx): void | ProcessResult {
        if (ctx.step === 0) {
          seen.push({ spaced: logits[spaced], bare: logits[bare] });
          return { force: [bare] }; // contradicts the healed blank: must not be taken
        }
      },
    };
    const r = await model.complete(prefix, suffix, { maxTokens: 3, stop: [], heal: true, processors: [recorder] });
    assert.equal(seen.length, 1);
    assert.ok(Number.isFinite(seen[0].spaced), '` readFile` stays allowed after `await `');
    assert.equal(seen[0].bare, -Infinity, '`readFile` without the blank is masked before the later processor runs');
    assert.notEqual(r.tokens[0], bare);
    assert.ok(model.tokenizer.decode(r.tokens).startsWith(prompt.healed));
  });
});
