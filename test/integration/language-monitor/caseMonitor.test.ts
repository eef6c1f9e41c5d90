// The `case` monitor over real TypeScript servers: in a switch over an enum or a union of string
// literals, a greedy decoder that wishes for a label that does not exist writes one that does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { CaseMonitor, MonitorService, type MonitorProcessor } from '../../../language-monitor/index.js';
import { MONITOR_TIMEOUT_MS, serverErrors } from './monitorBound.js';
import { offsetAfter, scriptedDecode } from './scriptedDecoder.js';

const FILE = path.resolve(__dirname, '../../fixtures/language-monitor/ts-project/src/switches.ts');
const uri = pathToFileURL(FILE).href;
const base = fs.readFileSync(FILE, 'utf8');
const tokenizer = HfTokenizer.fromDir(defaultModelDir);

/** The fixture with an unfinished `case ` typed after `needle` (the user's buffer, not the file). */
function withCaseAfter(needle: string): { text: string; offset: number } {
  const at = offsetAfter(base, needle);
  const text = `${base.slice(0, at)}    case ${base.slice(at)}`;
  return { text, offset: at + '    case '.length };
}

// A label is a quoted literal or a dotted name; decoding stops at the first byte after it.
const LABEL = /^\s*('[^']*'|"[^"]*"|[\p{ID_Continue}$.]+)/u;
const stop = /^\s*('[^']*'|"[^"]*"|[\p{ID_Continue}$.]+)[^\p{ID_Continue}$.]/u;
const SCENARIOS = [
  // Shade.Cerulean is already handled in the fixture, so only the other two members are legal.
  { name: 'an enum', needle: "return 'blue';\n", wish: 'Shade.Magenta: ', legal: ['Shade.Vermilion', 'Shade.Chartreuse'] },
  { name: 'a union of string literals', needle: "return 'cheerful';\n", wish: "'melancholic': ", legal: ["'phlegmatic'", "'choleric'", '"phlegmatic"', '"choleric"'] },
];

for (const server of ['typescript7', 'typescript-language-server'] as const) {
  void describe(`case monitor over ${server}`, () => {
    let service: MonitorService;
    const logs: string[] = [];
    before(async () => {
      service = await MonitorService.create({ servers: { typescript: server }, timeoutMs: MONITOR_TIMEOUT_MS, log: (m) => logs.push(m) });
      assert.ok(await service.prepare({ languageId: 'typescript', uri, text: base }), 'server started');
    });
    after(async () => { await service.dispose(); });

    for (const s of SCENARIOS) {
      void test(`${s.name}: unconstrained the wished label does not exist; monitored the label is a member`, async () => {
        const { text, offset } = withCaseAfter(s.needle);
        const free = await scriptedDecode(tokenizer, [], s.wish, { stop, maxTokens: 12 });
        const freeLabel = LABEL.exec(free.text)?.[1];
        assert.ok(freeLabel && !s.legal.includes(freeLabel), `unmonitored label ${JSON.stringify(free.text)} is not a member`);

        service.resetStatistics();
        const processors = service.createProcessors({ languageId: 'typescript', uri, text, offset, tokenizer });
        const processor = processors[0] as MonitorProcessor;
        assert.ok(processor.activeMonitor instanceof CaseMonitor, 'the cursor is at a case trigger');
        const analysis = processor.activeMonitor;
        const run = await scriptedDecode(tokenizer, processors, s.wish, { stop, maxTokens: 12 });
        const session = service.sessionFor('typescript', uri)!;
        service.finish(processors);
        assert.deepEqual([...analysis.candidates].sort(), [...s.legal].sort(), 'the legal labels came from the server');
        const label = LABEL.exec(run.text)?.[1];
        assert.ok(label && s.legal.includes(label), `monitored output ${JSON.stringify(run.text)} is a legal label`);
        const stats = service.statistics();
        assert.equal(stats.triggers.case, 1);
        assert.ok(stats.maskedSteps + stats.fastForwards >= 1, 'the monitor constrained decoding');
        assert.equal(session.documentText(uri), text, 'the shadow probes were rolled back');
        assert.deepEqual(serverErrors(logs), []);
      });
    }

    void test('a switch over a plain string is not constrained', async () => {
      const text = 'export function f(s: string): number {\n  switch (s) {\n    case ';
      service.resetStatistics();
      const processors = service.createProcessors({ languageId: 'typescript', uri, text, offset: text.length, tokenizer });
      const run = await scriptedDecode(tokenizer, processors, "'anything': ", { stop, maxTokens: 12 });
      service.finish(processors);
      assert.equal(LABEL.exec(run.text)?.[1], "'anything'");
      assert.equal(service.statistics().triggers.case, 1);
      assert.equal(service.statistics().maskedSteps + service.statistics().fastForwards, 0);
    });
  });
}
