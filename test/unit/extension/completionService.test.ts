import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completeWords, CompletionService } from '../../../extension/completion/completionService.js';
import { FakeCompletionEngine } from '../../../extension/completion/fakeCompletionEngine.js';
import { silentLog, type CompletionEngine, type CompletionRequest, type CompletionSettings } from '../../../extension/completion/types.js';

const settings = (over: Partial<CompletionSettings> = {}): (() => CompletionSettings) => () => ({
  debounceMs: 0, timeBudgetMs: 10_000, maxTokens: 32, temperature: 0, monitor: () => false, pie: false, ...over,
});
const fixture = 'const acc = new Account();\nacc.';
const request = (typed = '', over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  documentKey: 'file:///main.ts', languageId: 'typescript', prefix: fixture + typed, suffix: '\n', explicit: false, ...over,
});
const live = (): AbortSignal => new AbortController().signal;

/** A callback for the service and a promise of its next call's arguments (a readiness event for the test). */
function signalled<A extends unknown[]>(): { fire: (...args: A) => boolean; readonly next: Promise<A> } {
  let resolve!: (a: A) => void;
  let next = new Promise<A>((r) => (resolve = r));
  return {
    fire: (...args: A) => {
      resolve(args);
      next = new Promise<A>((r) => (resolve = r));
      return true;
    },
    get next() {
      return next;
    },
  };
}

describe('CompletionService', () => {
  it('generates, postprocesses and caches; typing the prediction is served from the cache', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit', '(10);', '\n', 'foo();\n', '}']);
    const svc = new CompletionService(engine, settings());
    const first = await svc.complete(request(), live());
    assert.ok(first && first.source === 'engine' && 'deposit(10);\nfoo();'.startsWith(first.texts[0]), JSON.stringify(first));
    await svc.idle();
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

  it('shows a complete first line at once, without waiting for the time budget, then extends it', async () => {
    const engine = new FakeCompletionEngine(() => ['find(sku);', '\n', '    const more = 1;', '\n', '    return more;'], 300);
    const extended: string[] = [];
    // A budget far longer than the whole generation: waiting for it would return the whole text.
    const svc = new CompletionService(engine, settings({ timeBudgetMs: 60_000 }), { onExtended: (k) => extended.push(k) > 0 });
    const first = await svc.complete(request(), live());
    const whole = 'find(sku);\n    const more = 1;\n    return more;';
    assert.ok(first && first.texts[0].startsWith('find(sku);') && whole.startsWith(first.texts[0]) && first.texts[0] !== whole,
      `the first line(s), before the rest was generated: ${JSON.stringify(first)}`);
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (extended.length) { clearInterval(t); resolve(); } }, 5); });
    assert.deepEqual(extended, ['file:///main.ts']);
  });

  it('warms the prompt where the user lands with the request a completion there would send, and never disturbs a running one', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit', '(10);'], 30);
    const svc = new CompletionService(engine, settings({ monitor: () => true, pie: true }));
    svc.warm(request('', { documentOffset: 40, documentVersion: 3 }));
    assert.equal(engine.warmed.length, 1);
    const running = svc.complete(request('', { documentOffset: 40, documentVersion: 3 }), live());
    await new Promise((r) => setImmediate(r));
    const { requestedAt: _a, ...warmed } = engine.warmed[0];
    const { requestedAt: _b, ...generated } = engine.requests[0];
    assert.deepEqual(warmed, generated, 'the same prompt as the completion that follows');
    svc.warm(request('', { documentOffset: 90 }));
    assert.equal(engine.warmed.length, 1, 'no warm-up while a generation runs');
    await running;
    // Go to Line lands before an identifier (the user then selects the lines and types over them).
    svc.warm(request('', { suffix: 'open: number = 0\n' }));
    assert.equal(engine.warmed.length, 2, 'warmed before an identifier too');
    const notReady = new CompletionService(engine, settings(), { ready: () => false });
    notReady.warm(request());
    assert.equal(engine.warmed.length, 2, 'nothing without a model');
  });

  it('a keystroke starts the generation before the editor asks; the request that follows joins it', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit', '(10);'], 20);
    const svc = new CompletionService(engine, settings());
    const typedAt = Date.now();
    svc.speculate(request('', { requestedAt: typedAt }));
    assert.equal(engine.requests.length, 1, 'generating before any request');
    assert.equal(engine.requests[0].requestedAt, typedAt, 'timed from the keystroke');
    // VS Code asks after its debounce.
    await new Promise((r) => setTimeout(r, 30));
    const shown = await svc.complete(request('', { requestedAt: typedAt }), live());
    assert.deepEqual(shown, { texts: ['deposit(10);'], source: 'inflight' });
    assert.equal(engine.requests.length, 1, 'no second generation');
    assert.equal(engine.aborted, 0);
    assert.equal(svc.stats.snapshot().speculated, 1);
    // The cache (or a running generation) covering the place starts nothing.
    svc.speculate(request('dep'));
    assert.equal(engine.requests.length, 1, 'served by the cache: nothing new');
  });

  it('a keystroke that types the prediction keeps the generation for the request VS Code sends after its debounce', async () => {
    // What bench:editor's log showed at pauses after a space: the request at the old place is cancelled at
    // the keystroke, and the new place's request arrives 100-150 ms later; the generation that predicted
    // the keystroke was aborted 50 ms after the cancel and a new one started from nothing.
    const engine = new FakeCompletionEngine(() => [' = ', '0', ';', ' more', ' text', ' and', ' more', ' yet'], 25);
    const svc = new CompletionService(engine, settings({ timeBudgetMs: 5000 }), { cancelGraceMs: 20 });
    const a = new AbortController();
    const before = svc.complete(request('x'), a.signal);
    await new Promise((r) => setTimeout(r, 40)); // ' = ' streamed
    svc.speculate(request('x '));
    a.abort();
    assert.equal(await before, undefined);
    await new Promise((r) => setTimeout(r, 120)); // VS Code's debounce on a loaded machine: past the grace
    const shown = await svc.complete(request('x '), live());
    assert.equal(shown?.source, 'inflight', JSON.stringify(shown));
    assert.equal(engine.requests.length, 1, 'no second generation');
    assert.equal(engine.aborted, 0);
    await svc.idle();
    // Without such a keystroke, a cancelled request's generation still stops after the grace.
    const b = new AbortController();
    const other = svc.complete(request('y'), b.signal);
    await new Promise((r) => setTimeout(r, 40));
    b.abort();
    assert.equal(await other, undefined);
    await svc.idle();
    assert.equal(engine.aborted, 1);
  });

  it('a keystroke\'s generation that no request takes over is aborted; none starts under a user debounce or without a model', async () => {
    const engine = new FakeCompletionEngine(() => ['dep', 'osit', '(10);', ' more', ' text', ' and', ' more'], 20);
    const svc = new CompletionService(engine, settings(), { speculationWaitMs: 30 });
    svc.speculate(request());
    assert.equal(engine.requests.length, 1);
    await svc.idle();
    assert.equal(engine.aborted, 1, 'aborted after the wait, not run to its end');
    const debounced = new CompletionService(engine, settings({ debounceMs: 75 }));
    debounced.speculate(request('x'));
    const notReady = new CompletionService(engine, settings(), { ready: () => false });
    notReady.speculate(request('y'));
    assert.equal(engine.requests.length, 1);
  });

  it('shows what streamed within the time budget, then asks to extend when the rest arrives', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit(', '10', ');', ' // done'], 40);
    const extended: string[] = [];
    const svc = new CompletionService(engine, settings({ timeBudgetMs: 60 }), { onExtended: (k) => extended.push(k) > 0 });
    const partial = await svc.complete(request(), live());
    assert.ok(partial && partial.texts[0].length > 0 && 'deposit(10); // done'.startsWith(partial.texts[0]) && partial.texts[0] !== 'deposit(10); // done',
      `a strict prefix of the full completion: ${JSON.stringify(partial)}`);
    assert.match(partial.texts[0], /[^\w]$/, 'cut after a complete word');
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (extended.length) { clearInterval(t); resolve(); } }, 5); });
    assert.deepEqual(extended, ['file:///main.ts']);
    // The host re-triggers explicitly; that request is served the longer text from the cache, no new generation.
    assert.deepEqual(await svc.complete(request('', { explicit: true, requestedAt: Date.now() }), live()), { texts: ['deposit(10); // done'], source: 'cache' });
    assert.equal(engine.requests.length, 1);
    assert.equal(svc.stats.snapshot().keystrokeToShown.samples, 0, 'our own re-trigger answers no keystroke');
  });

  it('the time budget counts from the keystroke when the generation started there, else from its start', async () => {
    const chunks = ['deposit(', '10', ');', ' // done', '\n'];
    // The keystroke started the generation; VS Code asks 150 ms later (50 ms debounce, a busy machine):
    // the user has waited the whole budget already, so what streamed is shown, cut after a word.
    const engine = new FakeCompletionEngine(() => chunks, 60);
    const late = new CompletionService(engine, settings({ timeBudgetMs: 150 }));
    const keystroke = Date.now();
    late.speculate(request('', { requestedAt: keystroke }));
    await new Promise((r) => setTimeout(r, 150));
    const shown = await late.complete(request('', { requestedAt: keystroke }), live());
    assert.equal(engine.requests.length, 1, 'the request took over the keystroke\'s generation');
    assert.ok(shown && shown.texts[0].length < 'deposit(10); // done'.length && 'deposit(10); // done'.startsWith(shown.texts[0]), `what streamed by then: ${JSON.stringify(shown)}`);
    await late.idle();
    // A generation that started only with the request (no speculation at that keystroke) gets its budget
    // from its own start, however old the keystroke: here the whole first line streams within it.
    const fresh = new CompletionService(new FakeCompletionEngine(() => chunks, 30), settings({ timeBudgetMs: 1_000 }));
    assert.deepEqual((await fresh.complete(request('', { requestedAt: Date.now() - 1_500 }), live()))?.texts, ['deposit(10); // done']);
    await fresh.idle();
  });

  it('a partly shown first line is extended as soon as the line is complete, before the generation ends', async () => {
    const tail = Array.from({ length: 30 }, (_, i) => `line${i}();\n`);
    const engine = new FakeCompletionEngine(() => ['deposit(', '10', ');', '\n', ...tail], 20);
    const extended = signalled<[string, number]>();
    const svc = new CompletionService(engine, settings({ timeBudgetMs: 0 }), { onExtended: extended.fire });
    const partial = await svc.complete(request('', { requestedAt: Date.now() }), live());
    assert.deepEqual(partial?.texts, ['deposit('], 'the budget was 0: the first complete word');
    assert.deepEqual(await extended.next, ['file:///main.ts', fixture.length]);
    assert.equal(engine.aborted, 0);
    let finished = false;
    void svc.idle().then(() => (finished = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(finished, false, 'asked again while the generation still runs (its 30 more lines take 600 ms)');
    const again = await svc.complete(request('', { explicit: true, requestedAt: Date.now() }), live());
    assert.ok(again && again.source === 'inflight' && again.texts[0].startsWith('deposit(10);\n'), JSON.stringify(again));
    await svc.idle();
  });

  it('a re-ask the user overtook (Escape) shows nothing and starts nothing; one re-ask per wait', async () => {
    const tail = Array.from({ length: 6 }, (_, i) => `line${i}();\n`);
    const engine = new FakeCompletionEngine(() => ['deposit(', '10', ');', '\n', ...tail], 20);
    const extended: [string, number][] = [];
    const svc = new CompletionService(engine, settings({ timeBudgetMs: 0 }), { onExtended: (k, o) => extended.push([k, o]) > 0 });
    const partial = await svc.complete(request('', { requestedAt: Date.now() }), live());
    assert.deepEqual(partial?.texts, ['deposit(']);
    // The first line completes: one re-ask goes out; the generation then ends before it arrives.
    await svc.idle();
    assert.equal(extended.length, 1, 'the generation\'s end does not ask again while a re-ask is on its way');
    // The user presses Escape before the editor's re-request arrives.
    svc.dismiss();
    assert.equal(await svc.complete(request('', { explicit: true }), live()), undefined, 'the overtaken re-ask shows nothing');
    assert.equal(engine.requests.length, 1, 'and starts no generation');
    // The next manual trigger is the user's own again.
    const manual = await svc.complete(request('', { explicit: true }), live());
    assert.ok(manual, 'a later manual trigger works');
    await svc.idle();
  });

  it('a manual trigger shows the greedy suggestion at once, then adds the sampled alternatives', async () => {
    const engine = new FakeCompletionEngine((r) => [r.seed === undefined ? 'deposit(1);' : r.seed === 1 ? 'withdraw(2);' : 'deposit(1);'], 5);
    const extended = signalled();
    const svc = new CompletionService(engine, settings(), { onExtended: extended.fire });
    const first = await svc.complete(request('', { explicit: true }), live());
    assert.deepEqual(first, { texts: ['deposit(1);'], source: 'engine' });
    assert.equal(engine.requests.length, 1, 'shown before any alternative was generated');
    assert.deepEqual(await extended.next, ['file:///main.ts', fixture.length]);
    // The host re-triggers (explicitly: VS Code's trigger command): served the alternatives from the cache.
    assert.deepEqual(await svc.complete(request('', { explicit: true }), live()), { texts: ['deposit(1);', 'withdraw(2);'], source: 'cache' });
    assert.ok(engine.requests.slice(1).every((r) => r.temperature > 0), 'alternatives are sampled');
  });

  it('a manual trigger after an automatic one shows the cached completion at once and samples the others', async () => {
    const engine = new FakeCompletionEngine((r) => [r.seed === undefined ? 'deposit(1);' : `withdraw(${r.seed});`]);
    const extended = signalled();
    const svc = new CompletionService(engine, settings(), { onExtended: extended.fire });
    await svc.complete(request(), live());
    assert.deepEqual(await svc.complete(request('', { explicit: true }), live()), { texts: ['deposit(1);'], source: 'cache' });
    await extended.next;
    const res = await svc.complete(request('', { explicit: true }), live());
    assert.deepEqual(res?.texts, ['deposit(1);', 'withdraw(1);', 'withdraw(2);']);
    assert.deepEqual(engine.requests.map((r) => r.seed), [undefined, 1, 2]);
  });

  it('alternatives stop when the user moves on', async () => {
    const engine = new FakeCompletionEngine((r) => (r.seed === undefined ? ['deposit(1);'] : ['with', 'draw', '(2);', ' // more']), 20);
    const svc = new CompletionService(engine, settings(), { onExtended: () => true });
    await svc.complete(request('', { explicit: true }), live());
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (engine.requests.length === 2) { clearInterval(t); resolve(); } }, 2); });
    await svc.complete(request('d'), live()); // typing goes on: served from the cache, and the sampling stops
    await svc.idle();
    assert.equal(engine.aborted, 1);
    assert.equal(engine.requests.length, 2);
  });

  it('a request VS Code cancels stops its generation in the engine, and its text never comes back', async () => {
    const engine = new FakeCompletionEngine(() => ['dep', 'osit', '(10);', ' more', ' text'], 20);
    const extended: string[] = [];
    const generating = signalled();
    const svc = new CompletionService(engine, settings({ timeBudgetMs: 50 }), {
      cancelGraceMs: 0, onExtended: (k) => extended.push(k) > 0, onGenerating: (on) => { if (on) generating.fire(); },
    });
    const a = new AbortController();
    const firstP = svc.complete(request(), a.signal);
    await generating.next;
    a.abort(); // the user pressed Escape or moved away: no request takes the generation over
    assert.equal(await firstP, undefined);
    await svc.idle();
    assert.equal(engine.aborted, 1, 'aborted in the engine');
    assert.deepEqual(extended, [], 'not re-triggered');
    // Asked again at the same place later: a new generation, nothing of the cancelled one.
    const again = await svc.complete(request(), live());
    assert.equal(engine.requests.length, 2);
    assert.equal(again?.source, 'engine');
  });

  it('a dismissed suggestion (Escape) stops growing: its generation is aborted and not re-shown', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit(', '10', ');', ' // done'], 30);
    const extended: string[] = [];
    const svc = new CompletionService(engine, settings({ timeBudgetMs: 50 }), { onExtended: (k) => extended.push(k) > 0 });
    const partial = await svc.complete(request(), live());
    assert.ok(partial, 'a partial suggestion was shown');
    svc.dismiss();
    await svc.idle();
    assert.equal(engine.aborted, 1);
    assert.deepEqual(extended, []);
    // The same for a manual trigger: no alternatives are sampled after a dismissed first suggestion.
    const manual = await svc.complete(request('', { explicit: true, prefix: 'x.' }), live());
    assert.ok(manual);
    svc.dismiss();
    await svc.idle();
    assert.equal(engine.requests.length, 2);
    assert.deepEqual(extended, []);
  });

  it('a failing engine reaches the user once, and again only after it worked in between', async () => {
    let fail = true;
    const engine: CompletionEngine = {
      generate: (req, signal) => {
        if (!fail) return new FakeCompletionEngine(() => ['deposit(10);']).generate(req, signal);
        const summary = Promise.reject(new Error('no model is loaded'));
        summary.catch(() => undefined);
        return Object.assign((async function* () { await summary; yield ''; })(), { summary });
      },
    };
    const errors: string[] = [];
    const failures: string[] = [];
    const log = { ...silentLog, error: (m: string) => errors.push(m) };
    const svc = new CompletionService(engine, settings(), { log, onFailure: (m) => failures.push(m) });
    for (const typed of ['', 'd', 'de']) {
      assert.equal(await svc.complete(request(typed), live()), undefined);
      await svc.idle();
    }
    assert.deepEqual(failures, ['no model is loaded']);
    assert.equal(errors.length, 1, 'logged once, not once per keystroke');
    fail = false;
    await svc.complete(request('w'), live());
    await svc.idle();
    fail = true;
    await svc.complete(request('x'), live());
    await svc.idle();
    assert.deepEqual(failures, ['no model is loaded', 'no model is loaded']);
  });

  it('generates nothing while the engine is not ready', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit(10);']);
    const svc = new CompletionService(engine, settings(), { ready: () => false });
    assert.equal(await svc.complete(request(), live()), undefined);
    assert.equal(engine.requests.length, 0);
  });

  it('passes the window\'s document offset and version and the keystroke time to the engine, and measures keystroke to suggestion', async () => {
    const engine = new FakeCompletionEngine(() => ['deposit(10);']);
    const svc = new CompletionService(engine, settings());
    const requestedAt = Date.now() - 40;
    await svc.complete(request('', { documentOffset: 50_000, documentVersion: 7, requestedAt }), live());
    const r = engine.requests[0];
    assert.deepEqual([r.documentOffset, r.documentVersion, r.requestedAt], [50_000, 7, requestedAt]);
    const s = svc.stats.snapshot();
    assert.equal(s.keystrokeToShown.samples, 1);
    assert.ok(s.keystrokeToShown.p50 >= 40);
    // A window of a long document is served from the cache by its document offset.
    assert.deepEqual((await svc.complete(request('dep', { documentOffset: 50_003 }), live()))?.texts, ['osit(10);']);
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
