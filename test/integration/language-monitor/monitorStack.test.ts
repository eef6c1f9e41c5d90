// Monitors nest: a dereference inside an argument list (`save(store.`) is monitored while the
// argument-count monitor of `save(` stays active, and that one still holds the list to the callee's
// arity afterwards. TypeScript 7, a real process, at the default bound.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import type { LogitsProcessor } from '../../../model/types.js';
import { MonitorService, type MonitorProcessor } from '../../../language-monitor/index.js';
import { edited, ENGINE_ROOT_URI, INVENTORY_MEMBERS } from './engineFixture.js';
import { scriptedDecode } from './scriptedDecoder.js';

const tokenizer = HfTokenizer.fromDir(defaultModelDir);

/** Commas at bracket depth 0 before the list's closing `)` (strings skipped). */
function topLevelCommas(s: string): number {
  let depth = 0, commas = 0, quote = '';
  for (const c of s) {
    if (quote) { if (c === quote) quote = ''; continue; }
    if (c === "'" || c === '"') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c) && --depth < 0) break;
    else if (c === ',' && depth === 0) commas++;
  }
  return commas;
}

/**
 * A TypeScript 7 session on main.ts with `save(store, 'main');` replaced by `cursorText` (`|` the
 * cursor), opened before the suite's tests and closed after them; `complete` decodes a wished-for text
 * there and records which monitors were active at each step (`arguments+dereference`).
 */
function stackSite(cursorText: string): (wish: string) => Promise<{ run: Awaited<ReturnType<typeof scriptedDecode>>; report: ReturnType<MonitorService['finish']>; stacks: Set<string> }> {
  let service: MonitorService;
  const site = edited('main.ts', "save(store, 'main');", cursorText);
  before(async () => {
    service = await MonitorService.create({ servers: { typescript: 'typescript7' } });
    assert.ok(await service.prepare({ languageId: 'typescript', uri: site.uri, text: site.text, rootUri: ENGINE_ROOT_URI }));
  });
  after(async () => { await service.dispose(); });
  return async (wish) => {
    const processors = service.createProcessors({ ...site, tokenizer, rootUri: ENGINE_ROOT_URI });
    const processor = processors[0] as MonitorProcessor;
    const stacks = new Set<string>();
    const probe: LogitsProcessor = { process: () => { stacks.add((processor.activeMonitors as readonly { kind: string }[] | undefined ?? []).map((m) => m.kind).join('+')); } };
    const run = await scriptedDecode(tokenizer, [...processors, probe], wish, { maxTokens: 24, stop: /\)/ });
    return { run, report: service.finish(processors), stacks };
  };
}

void describe('monitor stack: a dereference inside an argument list (typescript7)', () => {
  const complete = stackSite('save(|');

  void test('`save(store.` is monitored while the argument monitor is active: a member of Inventory', async () => {
    const unmonitored = await scriptedDecode(tokenizer, [], 'store.zorbleThing)', { maxTokens: 24, stop: /\)/ });
    assert.ok(unmonitored.text.startsWith('store.zorbleThing'));
    const { run, report, stacks } = await complete('store.zorbleThing)');
    const member = /^store\.([\p{ID_Continue}$]+)/u.exec(run.text)?.[1];
    assert.ok(member && INVENTORY_MEMBERS.includes(member), `monitored ${JSON.stringify(run.text)}`);
    assert.ok(stacks.has('arguments+dereference'), `both monitors were active at once: ${[...stacks].join(' | ')}`);
    const kinds = report.triggers.map((t) => `${t.kind}:${t.outcome}`);
    assert.ok(kinds.includes('arguments:constrained') && kinds.includes('dereference:constrained'), kinds.join(', '));
  });

  void test('after the nested dereference the argument monitor still blocks a second comma in save(store, label)', async () => {
    const wish = "store.count, 'x', 3)";
    const unmonitored = await scriptedDecode(tokenizer, [], wish, { maxTokens: 24, stop: /\)/ });
    assert.equal(topLevelCommas(unmonitored.text), 2);
    const { run } = await complete(wish);
    assert.ok(run.text.startsWith("store.count, 'x"), `monitored ${JSON.stringify(run.text)}`);
    assert.ok(topLevelCommas(run.text) <= 1, `monitored ${JSON.stringify(run.text)}`);
  });
});

void describe('monitor stack: the cursor inside an argument list the document opened (typescript7)', () => {
  // `save(store.|`: the inner trigger is the dereference at the cursor; the list around it was opened
  // before the completion began, and its arity (save(store, label): exactly two) still holds.
  const complete = stackSite('save(store.|');

  void test('the enclosing list is monitored from the first step, outside the dereference', async () => {
    const wish = "count, 'x', 3)";
    const unmonitored = await scriptedDecode(tokenizer, [], wish, { maxTokens: 24, stop: /\)/ });
    assert.equal(topLevelCommas(unmonitored.text), 2);
    const { run, report, stacks } = await complete(wish);
    assert.ok(stacks.has('arguments+dereference'), `both monitors at the first step: ${[...stacks].join(' | ')}`);
    assert.ok(topLevelCommas(run.text) <= 1, `monitored ${JSON.stringify(run.text)} passes no third argument`);
    const kinds = report.triggers.map((t) => `${t.kind}:${t.outcome}`);
    assert.ok(kinds.includes('arguments:constrained') && kinds.includes('dereference:constrained'), kinds.join(', '));
  });

  void test('nor does it close after the member with the label still missing', async () => {
    const { run } = await complete('count); const more = [1');
    const closedShort = /^[\p{ID_Continue}$]+\s*\)/u.test(run.text);
    assert.ok(!closedShort, `monitored ${JSON.stringify(run.text)} does not close save( with one argument`);
  });
});
