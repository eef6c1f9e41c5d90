import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { EngineClient, type EngineState } from '../../../extension/completion/engineClient.js';
import { collect } from '../../../extension/completion/postprocess.js';
import type { GenerateRequest } from '../../../extension/completion/types.js';

const fixtures = path.join(__dirname, 'fixtures');
const request = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  languageId: 'typescript', prefix: 'acc.', suffix: '', maxTokens: 5, temperature: 0, singleLine: false, monitor: false, pie: false, ...over,
});

describe('EngineClient (worker thread)', () => {
  const client = new EngineClient(path.join(fixtures, 'tsWorker.mjs'), undefined, { workerData: { entry: path.join(fixtures, 'fakeEngineWorker.ts') } });
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

  it('a failed load rejects with the worker\'s message and sets the error state', async () => {
    await assert.rejects(client.load({ dir: '/models/missing', variant: 'fp32', threads: 0 }), /config\.json: not found/);
    assert.equal(client.state.kind, 'error');
    await assert.rejects(client.generate(request(), new AbortController().signal).summary, /no model is loaded/);
  });
});
