import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completeWords, CompletionService } from '../../../extension/completion/completionService.js';
import { FakeCompletionEngine } from '../../../extension/completion/fakeCompletionEngine.js';
import type { CompletionRequest, CompletionSettings } from '../../../extension/completion/types.js';

const settings = (over: Partial<CompletionSettings> = {}): (() => CompletionSettings) => () => ({
  debounceMs: 0, timeBudgetMs: 10_000, maxTokens: 32, temperature: 0, monitor: () => false, pie: false, ...over,
});
const fixture = 'const acc = new Account();\nacc.';
const request = (typed = '', over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  documentKey: 'file:///main.ts', languageId: 'typescript', prefix: fixture + typed, suffix: '\n', explicit: false, ...over,
});
const live = (): AbortSignal => new AbortController().signal;

describe('CompletionService', () => {
  it('generates, postprocesses and caches; typing the prediction is served from the cache', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit', '(10);', '\n', 'foo();\n', '}']);
    const svc = new CompletionService(engine, settings());
    const first = await svc.complete(request(), live());
    assert.deepEqual(first, { texts: ['deposit(10);\nfoo();'], source: 'engine' });
    const second = await svc.complete(request('dep'), live());
    assert.deepEqual(second, { texts: ['osit(10);\nfoo();'], source: 'cache' });
    assert.equal(engine.requests.length, 1);
  });

  it('reuses the in-flight generation when the user types what it predicted', async () => {
    const engine = new FakeCompletionEngine(() => ['dep', 'osit', '(10);'], 20);
    const svc = new CompletionService(engine, settings());
    const a = new AbortController();
    const firstP = svc.complete(request(), a.signal);
    // The user types on before it finishes: VS Code cancels the first request and asks again.
    await new Promise((r) => setTimeout(r, 30));
    a.abort();
    const second = await svc.complete(request('de'), live());
    assert.equal(await firstP, undefined);
    assert.deepEqual(second, { texts: ['posit(10);'], source: 'inflight' });
    assert.equal(engine.requests.length, 1, 'no second generation');
    assert.equal(engine.aborted, 0);
  });

  it('aborts the running generation when typing diverges, and starts a new one', async () => {
    const engine = new FakeCompletionEngine((r) => (r.prefix.endsWith('w') ? ['ithdraw(1);'] : ['dep', 'osit', '(10);', ' more', ' text']), 20);
    const svc = new CompletionService(engine, settings());
    const a = new AbortController();
    const firstP = svc.complete(request(), a.signal);
    await new Promise((r) => setTimeout(r, 30));
    a.abort();
    const second = await svc.complete(request('w'), live());
    await firstP;
    assert.deepEqual(second, { texts: ['ithdraw(1);'], source: 'engine' });
    assert.equal(engine.requests.length, 2);
    assert.equal(engine.aborted, 1, 'the diverged generation was stopped in the engine');
  });

  it('shows what streamed within the time budget, then asks to extend when the rest arrives', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit(', '10', ');', ' // done'], 40);
    const extended: string[] = [];
    const svc = new CompletionService(engine, settings({ timeBudgetMs: 60 }), { onExtended: (k) => extended.push(k) });
    const partial = await svc.complete(request(), live());
    assert.ok(partial && partial.texts[0].length > 0 && 'deposit(10); // done'.startsWith(partial.texts[0]) && partial.texts[0] !== 'deposit(10); // done',
      `a strict prefix of the full completion: ${JSON.stringify(partial)}`);
    assert.match(partial.texts[0], /[^\w]$/, 'cut after a complete word');
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (extended.length) { clearInterval(t); resolve(); } }, 5); });
    assert.deepEqual(extended, ['file:///main.ts']);
    // The host re-triggers explicitly; that request is served the longer text from the cache, no new generation.
    assert.deepEqual(await svc.complete(request('', { explicit: true }), live()), { texts: ['deposit(10); // done'], source: 'cache' });
    assert.equal(engine.requests.length, 1);
  });

  it('returns up to three distinct alternatives when asked explicitly', async () => {
    const engine = new FakeCompletionEngine((r) => [r.seed === undefined ? 'deposit(1);' : r.seed === 1 ? 'withdraw(2);' : 'deposit(1);']);
    const svc = new CompletionService(engine, settings());
    const res = await svc.complete(request('', { explicit: true }), live());
    assert.deepEqual(res?.texts, ['deposit(1);', 'withdraw(2);']);
    assert.ok(engine.requests.slice(1).every((r) => r.temperature > 0), 'alternatives are sampled');
  });

  it('an explicit request after an automatic one keeps the cached completion first and samples the others', async () => {
    const engine = new FakeCompletionEngine((r) => [r.seed === undefined ? 'deposit(1);' : `withdraw(${r.seed});`]);
    const svc = new CompletionService(engine, settings());
    await svc.complete(request(), live());
    const res = await svc.complete(request('', { explicit: true }), live());
    assert.deepEqual(res?.texts, ['deposit(1);', 'withdraw(1);', 'withdraw(2);']);
    assert.deepEqual(engine.requests.map((r) => r.seed), [undefined, 1, 2]);
  });

  it('completes a single line when the cursor sits before text, and skips mid-identifier positions', async () => {
    const engine = new FakeCompletionEngine(() => ['10, 20)', ';\nnext();']);
    const svc = new CompletionService(engine, settings());
    const res = await svc.complete(request('', { prefix: 'f(', suffix: ')\n' }), live());
    assert.deepEqual(res?.texts, ['10, 20']);
    assert.equal(engine.requests[0].singleLine, true);
    assert.equal(await svc.complete(request('', { prefix: 'fo', suffix: 'o()' }), live()), undefined);
  });

  it('shows nothing that merely repeats the text after the cursor', async () => {
    const engine = new FakeCompletionEngine(() => ['\n', 'return total;']);
    const svc = new CompletionService(engine, settings());
    assert.equal(await svc.complete(request('', { prefix: 'function f() {\n  ', suffix: '\n  return total;\n}' }), live()), undefined);
  });

  it('Clear Caches forgets cached completions', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit(10);']);
    const svc = new CompletionService(engine, settings());
    await svc.complete(request(), live());
    svc.clear();
    await svc.complete(request(), live());
    assert.equal(engine.requests.length, 2);
  });

  it('counts how requests were served', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit(10);']);
    const svc = new CompletionService(engine, settings());
    await svc.complete(request(), live());
    await svc.complete(request('d'), live());
    const s = svc.stats.snapshot();
    assert.deepEqual(s.served, { cache: 1, inflight: 0, engine: 1 });
    assert.equal(s.generations, 1);
  });

  it('completeWords keeps whole words of streamed text', () => {
    assert.equal(completeWords('statement.proto'), 'statement.');
    assert.equal(completeWords('stat'), undefined);
    assert.equal(completeWords('deposit(10, '), 'deposit(10,');
    assert.equal(completeWords('  \n'), undefined);
  });
});
