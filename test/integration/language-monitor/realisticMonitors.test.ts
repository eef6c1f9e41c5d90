// The monitors on code shaped like real packages (fixtures/realistic): `#private` members, a JavaScript
// file with an `any` receiver, optional members that need `?.`, `new` over a project with classes it
// does not import, generic type arguments inside argument lists, a default-plus-named import, and the
// end of the completion right after a complete member. Both TypeScript servers, real processes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import type { StepContext } from '../../../model/types.js';
import { ArgumentCountMonitor, DereferenceMonitor, MonitorService, NamedImportMonitor, NewMonitor, type MonitorProcessor } from '../../../language-monitor/index.js';
import { MONITOR_TIMEOUT_MS, serverErrors } from './monitorBound.js';
import { scriptedDecode } from './scriptedDecoder.js';

const ROOT = path.resolve(__dirname, 'fixtures/realistic');
const tokenizer = HfTokenizer.fromDir(defaultModelDir);
const leadingName = (s: string) => /^\s*(#?[\p{ID_Continue}$]*)/u.exec(s)![1];

interface Doc { uri: string; languageId: string; text: string; offset: number }
/** The fixture file with `from` replaced by `to`; the cursor goes where `|` stands in `to`. */
function doc(file: string, from: string, to: string): Doc {
  const full = path.join(ROOT, 'src', file);
  const original = fs.readFileSync(full, 'utf8');
  assert.equal(original.split(from).length, 2, `${from} occurs once in ${file}`);
  const edited = original.replace(from, to);
  const offset = edited.indexOf('|');
  return { uri: pathToFileURL(full).href, languageId: file.endsWith('.js') ? 'javascript' : 'typescript', text: edited.replace('|', ''), offset };
}

for (const server of ['typescript7', 'typescript-language-server'] as const) {
  void describe(`realistic monitors over ${server}`, () => {
    let service: MonitorService;
    const logs: string[] = [];
    before(async () => {
      service = await MonitorService.create({ servers: { typescript: server, javascript: server }, timeoutMs: MONITOR_TIMEOUT_MS, log: (m) => logs.push(m) });
      for (const file of ['counter.ts', 'calls.ts', 'reader.js']) {
        const full = path.join(ROOT, 'src', file);
        assert.ok(await service.prepare({ languageId: file.endsWith('.js') ? 'javascript' : 'typescript', uri: pathToFileURL(full).href, text: fs.readFileSync(full, 'utf8') }));
      }
    });
    after(async () => { await service.dispose(); });
    const start = (d: Doc) => {
      service.resetStatistics();
      const processors = service.createProcessors({ ...d, tokenizer });
      return { processors, processor: processors[0] as MonitorProcessor };
    };

    void test('#private members are candidates and the model may write them after `this.`', async () => {
      const d = doc('counter.ts', 'return this.#count;', 'return this.|;');
      const { processors, processor } = start(d);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof DereferenceMonitor);
      const run = await scriptedDecode(tokenizer, processors, '#count;');
      service.finish(processors);
      for (const name of ['#count', '#zorbleStep', '#resetQuietly', 'increment']) assert.ok(monitor.candidates.includes(name), `${name} in ${monitor.candidates.join(', ')}`);
      assert.ok(run.text.startsWith('#count'), `monitored ${JSON.stringify(run.text)} writes the private member`);
    });

    void test('a half-written private name is fast-forwarded to the one private member it can be', async () => {
      const d = doc('counter.ts', 'return this.#count;', 'return this.|;');
      const { processors } = start(d);
      const run = await scriptedDecode(tokenizer, processors, '#zo');
      service.finish(processors);
      assert.ok(run.text.startsWith('#zorbleStep'), `monitored ${JSON.stringify(run.text)}`);
      assert.ok(run.forced >= 1, 'the rest of #zorbleStep was forced');
    });

    void test('JavaScript: an `any` receiver is left unconstrained and says so', async () => {
      const d = doc('reader.js', 'found: data.zorbleItems', 'found: data.|');
      const { processors, processor } = start(d);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof DereferenceMonitor);
      const run = await scriptedDecode(tokenizer, processors, 'zorbleItems }');
      service.finish(processors);
      assert.equal(leadingName(run.text), 'zorbleItems', `monitored ${JSON.stringify(run.text)}`);
      assert.equal((monitor as { outcome?: string }).outcome, 'unconstrained-any');
      assert.equal(service.statistics().maskedSteps, 0);
    });

    void test('TypeScript: an `any` receiver (no items at all) is reported as such', async () => {
      const d = doc('counter.ts', 'return settings.timeoutMs;', 'const parsed = JSON.parse("{}"); return parsed.|;');
      const { processors, processor } = start(d);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof DereferenceMonitor);
      const run = await scriptedDecode(tokenizer, processors, 'zorbleItems;');
      service.finish(processors);
      assert.equal(leadingName(run.text), 'zorbleItems');
      assert.equal((monitor as { outcome?: string }).outcome, 'unconstrained-any');
    });

    void test('JavaScript: a typed receiver stays constrained to its real members (not the file\'s words)', async () => {
      const d = doc('reader.js', 'const total = counter.increment();', 'const total = counter.|;');
      const { processors, processor } = start(d);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof DereferenceMonitor);
      const run = await scriptedDecode(tokenizer, processors, 'source;');
      service.finish(processors);
      assert.deepEqual([...monitor.candidates].sort(), ['increment', 'reset', 'snapshot']);
      assert.ok(['increment', 'reset', 'snapshot'].includes(leadingName(run.text)), `monitored ${JSON.stringify(run.text)}`);
      assert.equal((monitor as { outcome?: string }).outcome, undefined);
    });

    void test('members that need `?.` are not offered after a plain `.`, and are after `?.`', async () => {
      const plain = doc('counter.ts', 'return settings.timeoutMs;', 'return settings.retry.|;');
      let { processors, processor } = start(plain);
      let monitor = processor.activeMonitor;
      assert.ok(monitor instanceof DereferenceMonitor);
      await scriptedDecode(tokenizer, processors, 'attempts;');
      service.finish(processors);
      assert.ok(!monitor.candidates.includes('attempts'), `after a plain dot: ${monitor.candidates.join(', ')}`);

      ({ processors, processor } = start(doc('counter.ts', 'return settings.timeoutMs;', 'return settings.retry?.|;')));
      monitor = processor.activeMonitor;
      assert.ok(monitor instanceof DereferenceMonitor);
      await scriptedDecode(tokenizer, processors, 'attempts;');
      service.finish(processors);
      assert.deepEqual([...monitor.candidates].sort(), ['attempts', 'backoffMs']);
    });

    void test('new: constructible names only (classes, values with construct signatures), never enums, functions or `Math`', async () => {
      const d = doc('calls.ts', 'export const counter = new TallyCounter(1);', 'export const counter = new |;');
      const { processors, processor } = start(d);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof NewMonitor);
      const run = await scriptedDecode(tokenizer, processors, 'Math(');
      service.finish(processors);
      const candidates = new Set(monitor.candidates);
      for (const name of ['TallyCounter', 'Map', 'Promise']) assert.ok(candidates.has(name), `${name} can be constructed`);
      for (const name of ['Math', 'JSON', 'Flavor', 'PlumbusKind', 'makePlumbus', 'PLUMBUS_DEFAULT', 'Settings', 'pairUp']) assert.ok(!candidates.has(name), `${name} cannot`);
      // Auto-imports: only classes (the decision is in NewMonitor's comment); typescript-language-server is
      // configured without module exports, so it offers none.
      if (server === 'typescript7') assert.ok(candidates.has('PlumbusRegistry'), 'a class of the project that is not imported yet');
      assert.ok(candidates.has(leadingName(run.text)) && leadingName(run.text) !== 'Math', `monitored ${JSON.stringify(run.text)}`);
    });

    void test('arguments: commas inside type arguments of an argument are not argument separators', async () => {
      const d = doc('calls.ts', 'export const timeout = configure(settings);', 'export const timeout = configure(|);');
      const { processors, processor } = start(d);
      assert.ok(processor.activeMonitor instanceof ArgumentCountMonitor);
      const wish = "new Map<string, /* a, b */ number>([['a', 1]]) as never, 2)";
      const run = await scriptedDecode(tokenizer, processors, wish, { stop: /never/, maxTokens: 30 });
      service.finish(processors);
      assert.ok(run.text.startsWith("new Map<string, /* a, b */ number>([['a', 1]]) as never"), `monitored ${JSON.stringify(run.text)}`);
    });

    void test('arguments: `new X<A, B>(` is an argument list with the constructor\'s arity', async () => {
      const d = doc('calls.ts', "export const lookup = new Map<string, number>([['a', 1]]);", 'export const lookup = new Map<string, number>(|);');
      const { processors, processor } = start(d);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof ArgumentCountMonitor, 'the cursor is in a constructor\'s argument list');
      const run = await scriptedDecode(tokenizer, processors, "[['a', 1]], 2)", { stop: /\)/, maxTokens: 16 });
      service.finish(processors);
      assert.equal(monitor.arity, 1);
      assert.ok(!run.text.includes(']], '), `monitored ${JSON.stringify(run.text)} passes no second argument`);
    });

    void test('named imports after a default import are monitored', async () => {
      const d = doc('calls.ts', "import { TallyCounter, configure, type Settings } from './counter';", "import Counter, { TallyCounter, | } from './counter';");
      const { processors, processor } = start(d);
      const monitor = processor.activeMonitor;
      assert.ok(monitor instanceof NamedImportMonitor, 'the cursor is at a named import');
      const run = await scriptedDecode(tokenizer, processors, 'configureAll }');
      service.finish(processors);
      for (const name of ['configure', 'Flavor', 'Settings']) assert.ok(monitor.candidates.includes(name), name);
      assert.ok(monitor.candidates.includes(leadingName(run.text)), `monitored ${JSON.stringify(run.text)}`);
    });

    void test('end of sequence is legal right after a complete member', async () => {
      assert.ok(tokenizer.eosId !== undefined);
      const d = doc('reader.js', 'const total = counter.increment();', 'const total = counter.|;');
      const { processors, processor } = start(d);
      const tokens: number[] = [];
      const ctx: StepContext = { promptTokens: [], generatedTokens: tokens, generatedText: '', step: 0, signal: new AbortController().signal };
      const logits = new Float32Array(tokenizer.vocabSize);
      await processor.process(logits, ctx); // waits for the answer
      for (const id of tokenizer.encode('reset')) { tokens.push(id); processors[0].onToken?.(id, ctx); }
      logits.fill(0);
      await processor.process(logits, ctx);
      service.finish(processors);
      assert.ok(Number.isFinite(logits[tokenizer.eosId]), 'EOS may end the completion after `reset`');
      assert.ok(Number.isFinite(logits[tokenizer.encode('(')[0]]), '`(` may follow');
      assert.ok(!Number.isFinite(logits[tokenizer.encode('x')[0]]), '`resetx` is no member');
    });

    void test('no server errors were logged', () => { assert.deepEqual(serverErrors(logs), []); });
  });
}
