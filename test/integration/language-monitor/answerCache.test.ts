// The answer cache must not outlive the text it answered: a member the user just added to a class in
// another file (synced from the editor, never saved) is legal at the next completion. And it still
// serves what it should: the same trigger with nothing edited is answered from the cache.
// TypeScript 7, a real process, at the default bound.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { MonitorService, type MonitorProcessor } from '../../../language-monitor/index.js';
import { edited, ENGINE_ROOT_URI, fixture, INVENTORY_MEMBERS, leadingName } from './engineFixture.js';
import { scriptedDecode } from './scriptedDecoder.js';

const tokenizer = HfTokenizer.fromDir(defaultModelDir);

void describe('answer cache staleness (typescript7)', () => {
  let service: MonitorService;
  const inventory = fixture('inventory.ts');
  const site = edited('main.ts', 'const total = obj.count();', 'const total = obj.|');

  before(async () => {
    service = await MonitorService.create({ servers: { typescript: 'typescript7' } });
    assert.ok(await service.prepare({ languageId: 'typescript', uri: site.uri, text: site.text, rootUri: ENGINE_ROOT_URI }));
    service.syncDocument({ languageId: 'typescript', uri: inventory.uri, text: inventory.text, rootUri: ENGINE_ROOT_URI });
  });
  after(async () => { await service.dispose(); });

  const complete = async (wish: string) => {
    service.resetStatistics();
    const processors = service.createProcessors({ ...site, tokenizer, rootUri: ENGINE_ROOT_URI });
    const monitor = (processors[0] as MonitorProcessor).activeMonitor as { candidates: readonly string[] } | undefined;
    const run = await scriptedDecode(tokenizer, processors, wish);
    const report = service.finish(processors);
    return { name: leadingName(run.text), candidates: [...(monitor?.candidates ?? [])], report, stats: { ...service.statistics() } };
  };

  void test('a method added in another file between two completions is allowed at the second', async () => {
    const first = await complete('zorbleTally();');
    assert.ok(INVENTORY_MEMBERS.includes(first.name), `before the edit: ${first.name}`);
    assert.ok(!first.candidates.includes('zorbleTally'));

    const again = await complete('zorbleTally();');
    assert.equal(again.stats.cacheHits, 1, 'nothing was edited: the second completion is answered from the cache');

    const added = inventory.text.replace('  invalidate(): void {', '  zorbleTally(): number {\n    return this.items.size;\n  }\n\n  invalidate(): void {');
    service.syncDocument({ languageId: 'typescript', uri: inventory.uri, text: added, rootUri: ENGINE_ROOT_URI });
    const second = await complete('zorbleTally();');
    assert.ok(second.candidates.includes('zorbleTally'), `after the edit: ${second.candidates.join(', ')}`);
    assert.equal(second.name, 'zorbleTally');
    assert.equal(second.report.triggers[0]?.outcome, 'constrained');
  });

  void test('"no signature here" is kept too: the same argument list is not asked again', async () => {
    // A callee the server knows nothing about: signatureHelp answers, with no signature.
    const unknown = edited('main.ts', 'const total = obj.count();', 'const total = notDeclaredAnywhere(|');
    const run = async () => {
      service.resetStatistics();
      const processors = service.createProcessors({ ...unknown, tokenizer, rootUri: ENGINE_ROOT_URI });
      await scriptedDecode(tokenizer, processors, 'a, b);');
      service.finish(processors);
      return { ...service.statistics() };
    };
    const first = await run();
    assert.equal(first.triggers.arguments, 0, 'a list the server has no signature for is not reported');
    assert.equal(first.queries, 1, 'asked once');
    assert.equal(first.timeouts, 0);
    const second = await run();
    assert.equal(second.queries, 0, 'the second completion at the same text does not ask again');
    assert.equal(second.cacheHits, 1);
  });

  void test('an edit elsewhere in the same file (after the cursor) is a different question too', async () => {
    const main = fixture('main.ts');
    // A local class declared far below the cursor changes what `zorble.` means; the text before it is the same.
    const withClass = (body: string) => {
      const text = main.text.replace('const total = obj.count();', 'const total = zorble.|') + `\n// ${'-'.repeat(600)}\nclass Zorble { ${body} }\nconst zorble = new Zorble();\n`;
      return { uri: main.uri, languageId: 'typescript', text: text.replace('|', ''), offset: text.indexOf('|') };
    };
    const run = async (d: { uri: string; languageId: string; text: string; offset: number }) => {
      const processors = service.createProcessors({ ...d, tokenizer, rootUri: ENGINE_ROOT_URI });
      const out = await scriptedDecode(tokenizer, processors, 'wibble();');
      service.finish(processors);
      return leadingName(out.text);
    };
    assert.equal(await run(withClass('flimflam(): number { return 1; }')), 'flimflam');
    assert.equal(await run(withClass('flimflam(): number { return 1; } wibble(): void {}')), 'wibble');
  });
});
