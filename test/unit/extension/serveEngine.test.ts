// The worker's message loop (serveEngine) with a scripted model: documents reach a model loaded later,
// a warm-up yields to the real request that follows it, and queue time is reported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GenerateRequest, GenerateSummary } from '../../../extension/completion/types.js';
import type { DocumentEvent, FromWorker, ToWorker } from '../../../extension/engineWorker/protocol.js';
import { serveEngine, type Port } from '../../../extension/engineWorker/serveEngine.js';
import type { WorkerModel } from '../../../extension/engineWorker/workerModel.js';

class FakePort implements Port {
  readonly sent: FromWorker[] = [];
  private listener: ((m: ToWorker) => void) | undefined;
  private waiters: { pred: (m: FromWorker) => boolean; resolve: (m: FromWorker) => void }[] = [];
  postMessage(message: FromWorker): void {
    this.sent.push(message);
    this.waiters = this.waiters.filter((w) => (w.pred(message) ? (w.resolve(message), false) : true));
  }
  on(_event: 'message', listener: (message: ToWorker) => void): void {
    this.listener = listener;
  }
  send(message: ToWorker): void {
    this.listener!(message);
  }
  next(pred: (m: FromWorker) => boolean): Promise<FromWorker> {
    const seen = this.sent.find(pred);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}

/** A model whose warm-up runs until it is aborted (as a long prompt's chunks would). */
class FakeWorkerModel implements WorkerModel {
  readonly info = { name: 'fake', dir: '/fake', promptFormat: 'plain' };
  readonly documents: DocumentEvent[] = [];
  readonly log: string[] = [];
  document(event: DocumentEvent): void {
    this.documents.push(event);
  }
  warm(_request: GenerateRequest, signal: AbortSignal): Promise<boolean> {
    this.log.push('warm started');
    return new Promise((resolve) => signal.addEventListener('abort', () => { this.log.push('warm aborted'); resolve(false); }));
  }
  complete(request: GenerateRequest, _signal: AbortSignal, onText: (text: string) => void): Promise<GenerateSummary> {
    this.log.push(`complete ${request.prefix}`);
    onText('x');
    return Promise.resolve({ stopReason: 'eos', tokens: 1, promptTokens: 1, msFirstToken: 1, msTotal: 1 });
  }
  clearCaches(): void {}
  restartLanguageServers(): Promise<void> { return Promise.resolve(); }
  dispose(): Promise<void> { return Promise.resolve(); }
}

const request = (prefix: string, over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  languageId: 'typescript', filePath: '/w/a.ts', prefix, suffix: '', maxTokens: 4, temperature: 0, singleLine: false, monitor: false, pie: true, ...over,
});

describe('serveEngine', () => {
  it('passes document events to the loaded model, and drops those that come before a model (the host reopens documents on load)', async () => {
    const port = new FakePort();
    const model = new FakeWorkerModel();
    serveEngine(port, () => Promise.resolve(model));
    port.send({ type: 'document', event: { kind: 'open', filePath: '/w/a.ts', languageId: 'typescript', version: 1, text: 'abc' } });
    port.send({ type: 'load', spec: { dir: '/fake', variant: 'fp32', threads: 1 } });
    await port.next((m) => m.type === 'loaded');
    assert.deepEqual(model.documents, []);
    const change = { kind: 'change', filePath: '/w/a.ts', version: 2, changes: [{ offset: 3, length: 0, text: 'd' }] } as const;
    port.send({ type: 'document', event: change });
    assert.deepEqual(model.documents, [change]);
  });

  it('a warm-up yields to the request that follows it, and the request reports its queue time', async () => {
    const port = new FakePort();
    const model = new FakeWorkerModel();
    serveEngine(port, () => Promise.resolve(model));
    port.send({ type: 'load', spec: { dir: '/fake', variant: 'fp32', threads: 1 } });
    await port.next((m) => m.type === 'loaded');
    port.send({ type: 'warm', request: request('warm') });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(model.log, ['warm started']);
    port.send({ type: 'generate', id: 7, request: request('real', { requestedAt: Date.now() - 50 }) });
    const done = await port.next((m) => m.type === 'done' && m.id === 7);
    assert.deepEqual(model.log, ['warm started', 'warm aborted', 'complete real']);
    assert.ok(done.type === 'done' && (done.summary.msQueue ?? -1) >= 50, 'queue time counts from the keystroke');
  });
});
