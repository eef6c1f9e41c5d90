// The `new` monitor (only constructible classes) and the argument-count monitor (no argument past the
// callee's arity; done once the list closes) over real TypeScript servers, driven by a greedy scripted
// decoder that wishes for the wrong thing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { ArgumentCountMonitor, MonitorService, NewMonitor, type MonitorProcessor } from '../../../language-monitor/index.js';
import { MONITOR_TIMEOUT_MS, serverErrors } from './monitorBound.js';
import { offsetAfter, scriptedDecode } from './scriptedDecoder.js';

const FILE = path.resolve(__dirname, '../../fixtures/language-monitor/ts-project/src/calls.ts');
const uri = pathToFileURL(FILE).href;
const text = fs.readFileSync(FILE, 'utf8');
const tokenizer = HfTokenizer.fromDir(defaultModelDir);
const leadingName = (s: string) => /^\s*([\p{ID_Continue}$]*)/u.exec(s)![1];

/** Commas at bracket depth 0 before the list's closing `)` (or the end), and whether it closed. */
function scanArguments(s: string): { commas: number; closed: boolean } {
  let depth = 0;
  let commas = 0;
  for (const c of s) {
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c) && --depth < 0) return { commas, closed: true };
    else if (c === ',' && depth === 0) commas++;
  }
  return { commas, closed: false };
}
const topLevelCommas = (s: string) => scanArguments(s).commas;

for (const server of ['typescript7', 'typescript-language-server'] as const) {
  void describe(`new and argument monitors over ${server}`, () => {
    let service: MonitorService;
    const logs: string[] = [];
    before(async () => {
      service = await MonitorService.create({ servers: { typescript: server }, timeoutMs: MONITOR_TIMEOUT_MS, log: (m) => logs.push(m) });
      assert.ok(await service.prepare({ languageId: 'typescript', uri, text }), 'server started');
    });
    after(async () => { await service.dispose(); });
    const start = (offset: number) => {
      service.resetStatistics();
      const processors = service.createProcessors({ languageId: 'typescript', uri, text, offset, tokenizer });
      return { processors, processor: processors[0] as MonitorProcessor };
    };

    void test('new: unconstrained the wished name is an interface; monitored it is a class that exists', async () => {
      const offset = offsetAfter(text, 'const made = new ');
      const wish = 'NotAClass(';
      assert.equal(leadingName((await scriptedDecode(tokenizer, [], wish)).text), 'NotAClass');
      const { processors, processor } = start(offset);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof NewMonitor, 'the cursor is at a new trigger');
      const run = await scriptedDecode(tokenizer, processors, wish);
      service.finish(processors);
      const candidates = new Set(monitor.candidates);
      for (const cls of ['QuokkaStore', 'WombatCache', 'Map']) assert.ok(candidates.has(cls), `${cls} can be constructed`);
      for (const other of ['NotAClass', 'mixThree', 'store', 'made', 'GRUNDLE_LIMIT']) assert.ok(!candidates.has(other), `${other} cannot`);
      const name = leadingName(run.text);
      assert.ok(candidates.has(name) && name !== 'NotAClass', `monitored output ${JSON.stringify(run.text)} names a class`);
      assert.equal(service.statistics().triggers.new, 1);
      assert.ok(service.statistics().maskedSteps + service.statistics().fastForwards >= 1);
    });

    void test('arguments: a third argument is allowed, a fourth is not, and the monitor ends at the close', async () => {
      const offset = offsetAfter(text, 'mixThree(1, 2, ');
      const wish = '3, 4); const x = [1, 2';
      const free = await scriptedDecode(tokenizer, [], wish, { stop: /\)/, maxTokens: 10 });
      assert.equal(topLevelCommas(free.text), 1, `unconstrained ${JSON.stringify(free.text)} passes a fourth argument`);
      const { processors, processor } = start(offset);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof ArgumentCountMonitor, 'the cursor is in an argument list');
      const run = await scriptedDecode(tokenizer, processors, wish, { stop: /\)/, maxTokens: 10 });
      assert.equal(monitor.arity, 3, 'arity from signature help');
      assert.ok(run.text.startsWith('3'), run.text);
      assert.equal(topLevelCommas(run.text), 0, `monitored ${JSON.stringify(run.text)} passes no fourth argument`);
      assert.ok(service.statistics().maskedSteps >= 1);
      assert.equal(processor.activeMonitor instanceof ArgumentCountMonitor, !scanArguments(run.text).closed, 'constrained exactly until the list closes');
      service.finish(processors);
    });

    void test('arguments: the list cannot close before every required parameter has an argument', async () => {
      // Unconstrained, `mixThree(7, 8)` closes with two of its three required arguments (TS2554).
      const offset = offsetAfter(text, 'mixThree(7, ');
      const wish = '8); const y = (1';
      const free = await scriptedDecode(tokenizer, [], wish, { stop: /\)/, maxTokens: 10 });
      assert.ok(scanArguments(free.text).closed && topLevelCommas(free.text) === 0, `unconstrained ${JSON.stringify(free.text)} closes short`);
      const { processors, processor } = start(offset);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof ArgumentCountMonitor, 'the cursor is in an argument list');
      const run = await scriptedDecode(tokenizer, processors, wish, { stop: /[),]/, maxTokens: 10 });
      service.finish(processors);
      assert.equal(monitor.requiredArity, 3, 'required arguments from signature help');
      assert.ok(run.text.startsWith('8'), run.text);
      const scan = scanArguments(run.text);
      assert.ok(!scan.closed || scan.commas >= 1, `monitored ${JSON.stringify(run.text)} does not close the list after the second argument`);
      assert.ok(service.statistics().maskedSteps >= 1);
    });

    void test('arguments: optional and default parameters are not required, and the list may close', async () => {
      const offset = offsetAfter(text, "padLeft('x', ");
      const wish = '4); const z = 1';
      const { processors, processor } = start(offset);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof ArgumentCountMonitor);
      const run = await scriptedDecode(tokenizer, processors, wish, { stop: /\)/, maxTokens: 10 });
      service.finish(processors);
      assert.equal(monitor.requiredArity, 1, '`width?: number` and `fill = \' \'` are optional');
      assert.equal(monitor.arity, 3);
      assert.ok(run.text.startsWith('4)'), `monitored ${JSON.stringify(run.text)} closes after two of three`);
    });

    void test('arguments: a callee without parameters gets its `)` forced, and the monitor ends there', async () => {
      const offset = offsetAfter(text, 'store.getTelemetry(');
      const wish = "'zorble'), [1, 2";
      const { processors, processor } = start(offset);
      const run = await scriptedDecode(tokenizer, processors, wish, { stop: /\)/, maxTokens: 6 });
      assert.equal(service.statistics().triggers.arguments, 1);
      service.finish(processors);
      assert.equal(run.text, ')', `monitored ${JSON.stringify(run.text)} closes the empty list`);
      assert.equal(run.forced, 1, 'the `)` was forced');
      assert.equal(processor.activeMonitor, undefined, 'the monitor ended at the close');
      assert.deepEqual(serverErrors(logs), []);
    });
  });
}
