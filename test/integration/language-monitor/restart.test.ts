// A crashed server is restarted with backoff, and the completion after the restart is monitored again:
// with a scripted server that crashes (failure path) and with the real TypeScript 7 server killed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { LspSession, MonitorService } from '../../../language-monitor/index.js';
import { offsetAfter, scriptedDecode } from './scriptedDecoder.js';

const FAKE = path.resolve(__dirname, '../../fixtures/language-monitor/fake-servers/fakeServer.js');
const TS_MAIN = path.resolve(__dirname, '../../fixtures/language-monitor/ts-project/src/main.ts');
const tokenizer = HfTokenizer.fromDir(defaultModelDir);
let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-restart-')); fs.writeFileSync(path.join(dir, 'package.json'), '{}'); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

void test('a server that crashes on every request is restarted with doubling delays, then given up', async () => {
  const logs: string[] = [];
  const session = new LspSession({ name: 'fake-crash', command: process.execPath, args: [FAKE, 'crash'] }, pathToFileURL(dir).href,
    { initialBackoffMs: 10, maxBackoffMs: 50, maxRestarts: 4, log: (m) => logs.push(m) });
  const uri = pathToFileURL(path.join(dir, 'a.ts')).href;
  session.openDocument(uri, 'typescript', 'x.');
  const delays: number[] = [];
  for (let i = 1; i <= 5; i++) {
    await session.whenReady(i);
    const answer = await session.completion(uri, { line: 0, character: 2 }, 5_000);
    assert.equal(answer.outcome, 'error', 'the request dies with the server');
    if (i <= 4) delays.push(session.lastRestartDelayMs);
  }
  await assert.rejects(session.whenReady(6), /failed/);
  assert.deepEqual(delays, [10, 20, 40, 50], 'the delay doubles per consecutive crash, up to the maximum');
  assert.equal(session.state, 'failed');
  assert.equal((await session.completion(uri, { line: 0, character: 2 }, 5_000)).outcome, 'notReady');
  assert.equal(logs.filter((l) => /exited/.test(l)).length, 1, logs.join('\n'));
  await session.dispose();
});

void test('after a crash mid-completion the restarted server constrains the next completion', async () => {
  const marker = path.join(dir, 'crashed-once');
  const logs: string[] = [];
  const service = await MonitorService.create({
    servers: { typescript: { command: process.execPath, args: [FAKE, 'crash-once', marker] } },
    log: (m) => logs.push(m), session: { initialBackoffMs: 20 },
  });
  const file = path.join(dir, 'once.ts');
  const text = 'const store = make();\nstore.';
  fs.writeFileSync(file, text);
  const uri = pathToFileURL(file).href;
  assert.ok(await service.prepare({ languageId: 'typescript', uri, text }));
  const session = service.sessionFor('typescript', uri) as LspSession;
  const complete = async () => {
    const processors = service.createProcessors({ languageId: 'typescript', uri, text, offset: text.length, tokenizer });
    const run = await scriptedDecode(tokenizer, processors, 'getValue(', { maxTokens: 6 });
    service.finish(processors);
    return run.text;
  };
  assert.ok((await complete()).startsWith('getValue'), 'the crashed completion went on unconstrained');
  assert.ok(fs.existsSync(marker), 'the server did crash');
  assert.equal(service.statistics().maskedSteps + service.statistics().fastForwards, 0);
  await session.whenReady(2);
  assert.match(await complete(), /^(alpha|beta)\b/, 'monitored again after the restart');
  assert.equal(session.starts, 2);
  assert.equal(session.lastRestartDelayMs, 20);
  assert.equal(logs.filter((l) => /exited/.test(l)).length, 1, logs.join('\n'));
  await service.dispose();
});

void test('the real TypeScript 7 server, killed, is restarted with its documents and monitors again', async () => {
  const text = fs.readFileSync(TS_MAIN, 'utf8');
  const uri = pathToFileURL(TS_MAIN).href;
  const offset = offsetAfter(text, 'store.');
  const logs: string[] = [];
  // A restarted server loads its project again: its first answer may take longer than the default bound.
  const service = await MonitorService.create({ servers: { typescript: 'typescript7' }, timeoutMs: 60_000, log: (m) => logs.push(m), session: { initialBackoffMs: 20 } });
  assert.ok(await service.prepare({ languageId: 'typescript', uri, text }));
  const session = service.sessionFor('typescript', uri) as LspSession;
  const pid = session.pid!;
  process.kill(pid, 'SIGKILL');
  await session.whenReady(2);
  assert.notEqual(session.pid, pid);
  const processors = service.createProcessors({ languageId: 'typescript', uri, text, offset, tokenizer });
  const run = await scriptedDecode(tokenizer, processors, 'getValue(');
  service.finish(processors);
  const name = /^[\p{ID_Continue}$]+/u.exec(run.text)![0];
  assert.ok(['title', 'zyntharLoad', 'blorpSave', 'getTelemetry'].includes(name), `${name} is a member`);
  assert.ok(service.statistics().maskedSteps >= 1);
  assert.equal(logs.filter((l) => /exited/.test(l)).length, 1, logs.join('\n'));
  await service.dispose();
});
