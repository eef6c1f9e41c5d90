// Real language servers (TypeScript 7, typescript-language-server + TS 6, pyright) answering the monitor
// on fixture projects whose types live in another file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { MonitorService, type MonitorProcessor } from '../../../language-monitor/index.js';
import { MONITOR_TIMEOUT_MS, serverErrors } from './monitorBound.js';
import { offsetAfter, scriptedDecode } from './scriptedDecoder.js';

const FIXTURES = path.resolve(__dirname, '../../fixtures/language-monitor');
const tokenizer = HfTokenizer.fromDir(defaultModelDir);
const isIdent = (s: string) => /^[\p{ID_Start}_$][\p{ID_Continue}$]*$/u.test(s);

interface Case { server: 'typescript7' | 'typescript-language-server' | 'pyright'; languageId: string; file: string; members: string[]; wish: string }
const CASES: Case[] = [
  { server: 'typescript7', languageId: 'typescript', file: 'ts-project/src/main.ts', members: ['title', 'zyntharLoad', 'blorpSave', 'getTelemetry'], wish: 'getValue(' },
  { server: 'typescript-language-server', languageId: 'typescript', file: 'ts-project/src/main.ts', members: ['title', 'zyntharLoad', 'blorpSave', 'getTelemetry'], wish: 'getValue(' },
  { server: 'pyright', languageId: 'python', file: 'py-project/main.py', members: ['title', 'zynthar_load', 'blorp_save'], wish: 'get_value(' },
];

for (const c of CASES) {
  void describe(`monitor over ${c.server}`, () => {
    let service: MonitorService;
    const file = path.join(FIXTURES, c.file);
    const uri = pathToFileURL(file).href;
    const text = fs.readFileSync(file, 'utf8');
    const offset = offsetAfter(text, 'store.');
    const logs: string[] = [];

    before(async () => {
      service = await MonitorService.create({ servers: { [c.languageId]: c.server }, timeoutMs: MONITOR_TIMEOUT_MS, log: (m) => logs.push(m) });
      assert.ok(await service.prepare({ languageId: c.languageId, uri, text }), 'server started');
    });
    after(async () => { await service.dispose(); });

    void test('unconstrained, the wished-for name is not a member; monitored, the output is a member that exists', async () => {
      const free = await scriptedDecode(tokenizer, [], c.wish);
      const freeName = /^[\p{ID_Continue}$]+/u.exec(free.text)![0];
      assert.ok(!c.members.includes(freeName), `${freeName} is not a member`);

      const processors = service.createProcessors({ languageId: c.languageId, uri, text, offset, tokenizer });
      assert.equal(processors.length, 1);
      const run = await scriptedDecode(tokenizer, processors, c.wish);
      const name = /^[\p{ID_Continue}$]+/u.exec(run.text)![0];
      const monitor = (processors[0] as MonitorProcessor);
      const stats = service.statistics();
      assert.equal(stats.triggers.dereference, 1);
      assert.ok(stats.maskedSteps >= 1, 'the mask was applied');
      // The legal set came from the server: every fixture member is in it, and the output is one of them.
      service.finish(processors);
      assert.ok(c.members.includes(name), `${name} is one of ${c.members.join(', ')}`);
      assert.ok(isIdent(name));
      assert.equal(monitor.activeMonitor, undefined);
      assert.deepEqual(serverErrors(logs), []);
    });

    void test('the server saw the generated text in its shadow copy, and the copy is rolled back after', async () => {
      const at = offsetAfter(text, 'value = ');
      const processors = service.createProcessors({ languageId: c.languageId, uri, text, offset: at, tokenizer });
      const session = service.sessionFor(c.languageId, uri)!;
      const run = await scriptedDecode(tokenizer, processors, 'store.title.', { stop: /title\.$/, maxTokens: 8 });
      assert.equal(run.text, 'store.title.');
      // The second `.` is a trigger: the server was asked with the generated text in its copy.
      assert.ok(session.documentText(uri)!.includes('value = store.title.store.'), session.documentText(uri));
      service.finish(processors);
      assert.equal(session.documentText(uri), text);
      assert.equal(fs.readFileSync(file, 'utf8'), text, 'the file on disk is untouched');
    });

    void test('a partly typed member narrows to one name and is fast-forwarded; a second completion hits the cache', async () => {
      const member = c.members[1]; // zyntharLoad / zynthar_load
      const typed = text.slice(0, offset) + member.slice(0, 3) + text.slice(offset);
      service.resetStatistics();
      const processors = service.createProcessors({ languageId: c.languageId, uri, text: typed, offset: offset + 3, tokenizer });
      const run = await scriptedDecode(tokenizer, processors, 'x');
      service.finish(processors);
      assert.equal(member.slice(0, 3) + /^[\p{ID_Continue}$]*/u.exec(run.text)![0], member);
      const stats = service.statistics();
      assert.ok(stats.fastForwards >= 1 && run.forced >= 1, 'the rest of the name was forced');
      const again = service.createProcessors({ languageId: c.languageId, uri, text: typed, offset: offset + 3, tokenizer });
      await scriptedDecode(tokenizer, again, 'x');
      service.finish(again);
      assert.ok(service.statistics().cacheHits >= 1, 'the answer was reused');
    });
  });
}
