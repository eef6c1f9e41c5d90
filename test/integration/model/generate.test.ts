import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import { generateAll } from '../../../model/generate.js';
import type { GeneratedToken, LogitsProcessor } from '../../../model/types.js';
import { needsModel, testModelDir } from './testModel.js';

const prefix = 'export function clamp(value: number, min: number, max: number): number {\n  if (value < min) ';
const suffix = '\n  return value;\n}\n';

describe('generation', { skip: needsModel }, () => {
  let model: CodeModel;
  before(async () => {
    model = await CodeModel.load(testModelDir);
  });
  after(() => model?.dispose());
  const prompt = () => model.buildPrompt(prefix, suffix);
  const greedy = (maxTokens: number, extra: object = {}) => model.complete(prefix, suffix, { maxTokens, stop: [], ...extra });

  it('builds a FIM prompt with the markers of the model family', () => {
    const p = prompt();
    assert.equal(p.format, `fim:${model.fim!.family}`);
    const t = model.tokenizer;
    assert.equal(p.ids[0], t.tokenId(model.fim!.prefixToken));
    const middleAt = p.ids.indexOf(t.tokenId(model.fim!.middleToken)!);
    if (model.fim!.order === 'psm') assert.equal(middleAt, p.ids.length - 1);
    else assert.deepEqual([p.ids[1], p.ids.slice(middleAt + 1)], [t.tokenId(model.fim!.suffixToken), t.encode(prefix)]);
    const psm = model.buildPrompt(prefix, suffix, { fimOrder: 'psm' });
    assert.equal(psm.ids[psm.ids.length - 1], t.tokenId(model.fim!.middleToken));
    assert.equal(p.linePrefix, '  if (value < min) ');
    assert.equal(model.buildPrompt(prefix, suffix, { noFim: true }).format, 'plain');
  });

  it('is deterministic when greedy and stops at maxTokens', async () => {
    const a = await greedy(12);
    const b = await greedy(12);
    assert.deepEqual(a.tokens, b.tokens);
    assert.equal(a.tokens.length, 12);
    assert.equal(a.stopReason, 'maxTokens');
    assert.equal(a.promptTokens, prompt().ids.length);
    assert.ok(a.msFirstToken <= a.msTotal);
  });

  it('streams one item per token whose texts join to the result text', async () => {
    const it = model.generate(prompt(), { maxTokens: 16, stop: [] });
    const items: GeneratedToken[] = [];
    let r = await it.next();
    while (!r.done) {
      items.push(r.value);
      r = await it.next();
    }
    assert.deepEqual(items.map((x) => x.id), r.value.tokens);
    assert.equal(items.map((x) => x.text).join(''), r.value.text);
    assert.ok(items.every((x, i) => i === 0 || x.ms >= items[i - 1].ms));
  });

  it('samples reproducibly with a seed', async () => {
    const opts = { temperature: 1, topP: 0.95 };
    const a = await greedy(12, { ...opts, seed: 1 });
    const b = await greedy(12, { ...opts, seed: 1 });
    assert.deepEqual(a.tokens, b.tokens);
  });

  it('applies logits processors in order: a mask decides every token', async () => {
    const free = await greedy(4);
    const banned = free.tokens[0];
    const seen: number[] = [];
    const ban: LogitsProcessor = { process: (logits) => void (logits[banned] = -Infinity), onToken: (id) => void seen.push(id) };
    const r = await greedy(4, { processors: [ban] });
    assert.ok(!r.tokens.includes(banned));
    assert.deepEqual(seen, r.tokens);
    // A later processor sees the earlier one's work: allow exactly one token, then ban it → nothing left.
    const only = model.tokenizer.encode(' x')[0];
    const allowOnly: LogitsProcessor = { process: (l) => { for (let i = 0; i < l.length; i++) if (i !== only) l[i] = -Infinity; } };
    assert.deepEqual((await greedy(3, { processors: [allowOnly] })).tokens, [only, only, only]);
    const banOnly: LogitsProcessor = { process: async (l) => { await new Promise((res) => setImmediate(res)); l[only] = -Infinity; } };
    const none = await greedy(3, { processors: [allowOnly, banOnly] });
    assert.equal(none.tokens.length, 0);
    assert.equal(none.stopReason, 'stop');
  });

  it('forced tokens are appended in one pass and decoding goes on from them', async () => {
    const forced = model.tokenizer.encode('return min;');
    let calls = 0;
    const force: LogitsProcessor = { process: (_l, ctx) => (ctx.step === 0 ? { force: forced } : undefined) };
    const counting = { forward: (...a: Parameters<typeof model.session.forward>) => (calls++, model.session.forward(...a)) };
    const r = await generateAll(counting, model.tokenizer, prompt(), { maxTokens: forced.length + 4, stop: [], processors: [force] });
    assert.deepEqual(r.tokens.slice(0, forced.length), forced);
    assert.equal(calls, 1 + 1 + 3, 'prompt, the forced tokens together, then one pass per sampled token but the last');
    // Same as greedy decoding from a prompt that already ends with the forced tokens.
    const p = prompt();
    const cont = await generateAll(model.session, model.tokenizer, { ids: [...p.ids, ...forced] }, { maxTokens: 4, stop: [] });
    assert.deepEqual(r.tokens.slice(forced.length), cont.tokens);
  });

  it('stops between steps when the signal is aborted', async () => {
    const ac = new AbortController();
    const abortAt3: LogitsProcessor = { process: () => undefined, onToken: (_id, ctx) => { if (ctx.generatedTokens.length === 3) ac.abort(); } };
    const r = await greedy(20, { processors: [abortAt3], signal: ac.signal });
    assert.equal(r.stopReason, 'aborted');
    assert.equal(r.tokens.length, 3);
    const pre = new AbortController();
    pre.abort();
    const r0 = await greedy(20, { signal: pre.signal });
    assert.equal(r0.tokens.length, 0);
    assert.equal(r0.stopReason, 'aborted');
  });

  it('stop rules cut the text: end of line keeps one line', async () => {
    const r = await greedy(48, { stop: [{ kind: 'endOfLine' }] });
    const firstContent = r.text.search(/\S/);
    if (firstContent >= 0) assert.ok(!r.text.slice(firstContent).includes('\n'), JSON.stringify(r.text));
    // A stop string taken from the unconstrained output cuts right before it.
    const free = await greedy(24);
    const needle = free.text.trim().slice(2, 5);
    if (needle.length === 3) {
      const cut = await greedy(24, { stop: [{ kind: 'strings', strings: [needle] }] });
      assert.equal(cut.text, free.text.slice(0, free.text.indexOf(needle)));
      assert.equal(cut.stopReason, 'stop');
    }
  });

  it('keeps the cache on request and continues from it without re-encoding the prompt', async () => {
    const p = prompt();
    const a = await generateAll(model.session, model.tokenizer, p, { maxTokens: 6, stop: [], keepCache: true });
    assert.ok(a.cache);
    assert.equal(a.cache.length, p.ids.length + a.tokens.length - 1);
    const b = await generateAll(model.session, model.tokenizer, { ids: [...p.ids, ...a.tokens], cache: a.cache }, { maxTokens: 5, stop: [] });
    const whole = await generateAll(model.session, model.tokenizer, p, { maxTokens: 11, stop: [] });
    assert.deepEqual([...a.tokens, ...b.tokens], whole.tokens);
    assert.equal(a.cache.isDisposed, false, 'a cache passed in stays owned by the caller');
    a.cache.dispose();
  });
});
