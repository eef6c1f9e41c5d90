import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ENGINE_MALLOC_ENV, ENGINE_V8_FLAGS, EngineClient, type EngineState } from '../../../extension/completion/engineClient.js';
import { collect } from '../../../extension/completion/postprocess.js';
import type { GenerateRequest } from '../../../extension/completion/types.js';

const fixtures = path.join(__dirname, 'fixtures');
const request = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  languageId: 'typescript', prefix: 'acc.', suffix: '', maxTokens: 5, temperature: 0, singleLine: false, monitor: false, pie: false, ...over,
});

/** Resolves when `client` next reports ready (a restarted engine has loaded the model again). */
const nextReady = (client: EngineClient): Promise<void> => new Promise((resolve) => {
  const sub = client.onStateChange((s) => { if (s.kind === 'ready') { sub.dispose(); resolve(); } });
});

const fakeEngine = (): EngineClient => new EngineClient(path.join(fixtures, 'fakeEngineWorker.ts'), undefined, { execArgv: ['--import', 'tsx'] });

describe('EngineClient (engine process)', () => {
  const client = fakeEngine();
  after(() => client.dispose());

  it('reports loading then ready, and streams text from the worker', async () => {
    const states: EngineState['kind'][] = [];
    client.onStateChange((s) => states.push(s.kind));
    const info = await client.load({ dir: '/models/fake', variant: 'fp32', threads: 0 });
    assert.equal(info.name, 'fake');
    assert.deepEqual(states, ['loading', 'ready']);
    const stream = client.generate(request(), new AbortController().signal);
    assert.equal(await collect(stream), 'deposit(amount);');
    assert.equal((await stream.summary).tokens, 5);
  });

  it('aborting the signal stops the generation in the worker', async () => {
    const c = new AbortController();
    const stream = client.generate(request({ prefix: 'slow', maxTokens: 1000 }), c.signal);
    let text = '';
    for await (const t of stream) {
      text += t;
      if (text.length > 10) c.abort();
    }
    const s = await stream.summary;
    assert.equal(s.stopReason, 'aborted');
    assert.ok(s.tokens < 1000);
  });

  it('a consumer that stops reading early stops the worker too', async () => {
    const stream = client.generate(request({ prefix: 'slow', maxTokens: 1000 }), new AbortController().signal);
    for await (const t of stream) if (t === ')') break;
    assert.equal((await stream.summary).stopReason, 'aborted');
  });

  it('the engine process runs with the allocator settings and a bounded V8 young generation', async () => {
    await client.load({ dir: '/models/fake', variant: 'fp32', threads: 0 });
    const pid = (client as unknown as { worker: { pid: number } }).worker.pid;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const flag of ENGINE_V8_FLAGS) assert.ok(cmdline.includes(flag), `${flag} in ${cmdline.join(' ')}`);
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    for (const [k, v] of Object.entries(ENGINE_MALLOC_ENV)) assert.ok(env.includes(`${k}=${v}`), `${k}=${v}`);
  });

  it('a failed load rejects with the worker\'s message and sets the error state', async () => {
    await assert.rejects(client.load({ dir: '/models/missing', variant: 'fp32', threads: 0 }), /config\.json: not found/);
    assert.equal(client.state.kind, 'error');
    await assert.rejects(client.generate(request(), new AbortController().signal).summary, /no model is loaded/);
  });

  it('a crashed worker fails its requests, is replaced by one that loads the same model, and one that keeps crashing stays down', async () => {
    const crashing = fakeEngine();
    try {
      const crashes: { message: string; restarting: boolean }[] = [];
      crashing.onCrash((c) => crashes.push(c));
      await crashing.load({ dir: '/models/fake', variant: 'fp32', threads: 0 });
      for (let i = 1; i <= 3; i++) {
        const ready = nextReady(crashing);
        await assert.rejects(crashing.generate(request({ prefix: 'crash' }), new AbortController().signal).summary, /exited with code 3/);
        assert.deepEqual(crashes.at(-1), { message: 'the engine process exited with code 3', restarting: true }, `crash ${i}: restarting`);
        await ready;
        const stream = crashing.generate(request(), new AbortController().signal);
        assert.equal(await collect(stream), 'deposit(amount);', `after crash ${i} the new worker completes`);
      }
      await assert.rejects(crashing.generate(request({ prefix: 'crash' }), new AbortController().signal).summary, /exited with code 3/);
      assert.equal(crashes.at(-1)?.restarting, false, 'the fourth crash in a row is not restarted');
      assert.equal(crashing.state.kind, 'error');
      await assert.rejects(crashing.generate(request(), new AbortController().signal).summary, /has stopped/, 'a request after that fails at once instead of waiting forever');
    } finally {
      await crashing.dispose();
    }
  });

  it('a native crash (SIGSEGV) ends the engine process only: the host goes on and a new engine completes', async () => {
    const engine = fakeEngine();
    try {
      const crashes: { message: string; restarting: boolean }[] = [];
      engine.onCrash((c) => crashes.push(c));
      await engine.load({ dir: '/models/fake', variant: 'fp32', threads: 0 });
      const ready = nextReady(engine);
      await assert.rejects(engine.generate(request({ prefix: 'segv' }), new AbortController().signal).summary, /killed by SIGSEGV/);
      assert.deepEqual(crashes, [{ message: 'the engine process was killed by SIGSEGV', restarting: true }]);
      await ready;
      assert.equal(await collect(engine.generate(request(), new AbortController().signal)), 'deposit(amount);');
    } finally {
      await engine.dispose();
    }
  });

  it('dispose ends the engine process', async () => {
    const engine = fakeEngine();
    await engine.load({ dir: '/models/fake', variant: 'fp32', threads: 0 });
    const pid = (engine as unknown as { worker: { pid: number } }).worker.pid;
    await engine.dispose();
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'no such process any more');
  });
});
