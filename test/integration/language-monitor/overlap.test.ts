// Overlap without loss: the engine creates the processors (sending the query for a trigger at the
// cursor) before it encodes the prompt, and onnxruntime encodes it synchronously on this thread. A reply
// that reached the pipe within the bound must be used however long the thread was blocked; requests
// that time out or are aborted are cancelled on the server ($/cancelRequest). Default bound throughout.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { MonitorService, type MonitorProcessor } from '../../../language-monitor/index.js';
import { blockThread, edited, ENGINE_ROOT_URI, fixture, INVENTORY_MEMBERS, leadingName } from './engineFixture.js';
import { scriptedDecode } from './scriptedDecoder.js';

const tokenizer = HfTokenizer.fromDir(defaultModelDir);

void describe('a reply that arrived while a forward pass blocked the thread is used (typescript7)', () => {
  let service: MonitorService;
  before(async () => {
    service = await MonitorService.create({ servers: { typescript: 'typescript7' } });
    const main = fixture('main.ts');
    assert.ok(await service.prepare({ languageId: 'typescript', uri: main.uri, text: main.text, rootUri: ENGINE_ROOT_URI }));
  });
  after(async () => { await service.dispose(); });

  for (const at of ['the cursor', 'a generated `.`'] as const) {
    void test(`trigger at ${at}, then a synchronous block of 3× the bound: constrained, the mask applied`, async () => {
      service.resetStatistics();
      const d = at === 'the cursor'
        ? edited('main.ts', 'const total = obj.count();', 'const total = obj.|')
        : edited('main.ts', 'const total = obj.count();', 'const total = |');
      const processors = service.createProcessors({ ...d, tokenizer, rootUri: ENGINE_ROOT_URI });
      const processor = processors[0] as MonitorProcessor;
      if (at === 'a generated `.`') {
        // The model wrote `obj.`: the query goes out with that token, then the next forward pass blocks.
        for (const id of tokenizer.encode('obj.')) processor.onToken(id);
        assert.ok(processor.activeMonitor, 'the generated `.` triggered');
      }
      blockThread(3 * service.timeoutMs); // the prompt's (or the next token's) forward pass
      const run = await scriptedDecode(tokenizer, processors, 'zorbleCount();');
      const report = service.finish(processors);
      const stats = service.statistics();
      assert.equal(stats.timeouts, 0, 'the reply was read, not timed out');
      assert.ok(stats.maskedSteps + stats.fastForwards >= 1, 'the mask was applied');
      const name = leadingName(at === 'the cursor' ? run.text : run.text.replace(/^obj\./, ''));
      assert.ok(INVENTORY_MEMBERS.includes(name), `monitored ${JSON.stringify(run.text)}`);
      assert.equal(report.triggers[0]?.outcome, 'constrained');
    });
  }
});

void describe('$/cancelRequest for requests that time out or are aborted', () => {
  const SERVER = path.resolve(__dirname, 'fixtures/recordingServer.js');
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-cancel-')); fs.writeFileSync(path.join(dir, 'package.json'), '{}'); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const received = (log: string) => fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { method: string; id?: number; params?: { id: number } });

  for (const how of ['timeout', 'abort'] as const) {
    void test(`a completion request that ${how === 'timeout' ? 'times out' : 'is aborted'} is cancelled on the server`, async () => {
      const log = path.join(dir, `${how}.jsonl`);
      const service = await MonitorService.create({ servers: { typescript: { command: process.execPath, args: [SERVER, log] } } });
      try {
        const file = path.join(dir, `${how}.ts`);
        const text = 'const store = make();\nstore.';
        fs.writeFileSync(file, text);
        const uri = pathToFileURL(file).href;
        assert.ok(await service.prepare({ languageId: 'typescript', uri, text, warmupMs: 0 }));
        const controller = new AbortController();
        const processors = service.createProcessors({ languageId: 'typescript', uri, text, offset: text.length, tokenizer, signal: controller.signal });
        if (how === 'abort') controller.abort();
        const run = await scriptedDecode(tokenizer, processors, 'getValue(', { maxTokens: 4 });
        const report = service.finish(processors);
        assert.ok(run.text.startsWith('get'), 'decoding went on unconstrained');
        if (how === 'timeout') assert.equal(report.triggers[0]?.outcome, 'timeout');
        await service.dispose(); // the server has read everything sent before its shutdown
        const messages = received(log);
        const requests = messages.filter((m) => m.method === 'textDocument/completion' || m.method === 'textDocument/signatureHelp');
        assert.equal(requests[0]?.method, 'textDocument/completion', 'the completion was sent');
        // Every request the server never answered was cancelled (the `(` of `getValue(` asks for
        // signature help too; that one is cancelled when the completion ends), each once.
        const cancels = messages.filter((m) => m.method === '$/cancelRequest').map((m) => m.params?.id);
        assert.deepEqual(cancels, requests.map((m) => m.id));
      } finally {
        await service.dispose();
      }
    });
  }
});
