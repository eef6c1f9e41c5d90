// Failure paths with scripted servers (custom-server settings, real processes, real protocol):
// decoding finishes unconstrained and each failure is logged once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { MonitorService } from '../../../language-monitor/index.js';
import { scriptedDecode } from './scriptedDecoder.js';

const FAKE = path.resolve(__dirname, '../../fixtures/language-monitor/fake-servers/fakeServer.js');
const tokenizer = HfTokenizer.fromDir(defaultModelDir);
let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-fake-')); fs.writeFileSync(path.join(dir, 'package.json'), '{}'); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function runWith(mode: string, timeoutMs = 300) {
  const logs: string[] = [];
  const service = await MonitorService.create({
    servers: { typescript: { command: process.execPath, args: [FAKE, mode] } },
    timeoutMs,
    log: (m) => logs.push(m),
    session: { initialBackoffMs: 20, maxRestarts: 2 },
  });
  const file = path.join(dir, `${mode}.ts`);
  const text = 'const store = make();\nstore.';
  fs.writeFileSync(file, text);
  const uri = pathToFileURL(file).href;
  assert.ok(await service.prepare({ languageId: 'typescript', uri, text }));
  const results = [];
  for (let i = 0; i < 2; i++) {
    const processors = service.createProcessors({ languageId: 'typescript', uri, text, offset: text.length, tokenizer });
    results.push(await scriptedDecode(tokenizer, processors, 'getValue(', { maxTokens: 6 }));
    service.finish(processors);
  }
  const stats = service.statistics();
  await service.dispose();
  return { logs, results, stats };
}

void test('a server that crashes mid-request: decoding finishes unconstrained, one crash log, restart attempted', async () => {
  const { logs, results, stats } = await runWith('crash');
  for (const r of results) assert.ok(r.text.startsWith('getValue'), r.text);
  assert.equal(stats.maskedSteps, 0);
  assert.equal(logs.filter((l) => /exited/.test(l)).length, 1, logs.join('\n'));
});

void test('a server that never answers: each trigger waits at most the bound, then goes on unconstrained; logged once', async () => {
  const { logs, results, stats } = await runWith('hang', 150);
  for (const r of results) assert.ok(r.text.startsWith('getValue'), r.text);
  assert.ok(stats.timeouts >= 1);
  assert.equal(logs.filter((l) => /slower than/.test(l)).length, 1, logs.join('\n'));
});

void test('a server that returns garbage: ignored, unconstrained, logged once', async () => {
  const { logs, results, stats } = await runWith('garbage');
  for (const r of results) assert.ok(r.text.startsWith('getValue'), r.text);
  assert.ok(stats.failures >= 1);
  assert.equal(logs.filter((l) => /not a CompletionItem/.test(l)).length, 1, logs.join('\n'));
});

void test('a custom server that answers constrains decoding to its items', async () => {
  const { results, stats } = await runWith('ok');
  for (const r of results) assert.ok(/^(alpha|beta)\b/.test(r.text), r.text);
  assert.ok(stats.maskedSteps + stats.fastForwards >= 1);
});
