// Tokens that merge the dot with a name (`.count`, `.invoke`: Qwen2-style byte-level BPE): the
// dereference monitor triggers inside such a token and constrains them exactly as it constrains `.`
// followed by the name, also when token healing re-types `store.inv` as `store` + `.inv`.
// TypeScript 7, a real process, at the default bound; the vocabulary is built by dotMergedTokenizer.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TokenHealingProcessor } from '../../../model/tokenHealing.js';
import type { HfTokenizer } from '../../../model/index.js';
import type { StepContext } from '../../../model/types.js';
import { DereferenceMonitor, MonitorService, type MonitorProcessor } from '../../../language-monitor/index.js';
import { buildDotMergedTokenizer } from './dotMergedTokenizer.js';
import { edited, ENGINE_ROOT_URI, INVENTORY_MEMBERS } from './engineFixture.js';
import { scriptedDecode } from './scriptedDecoder.js';

const IDENT = /^[A-Za-z0-9_$]$/;

void describe('dot-merged tokens (Qwen2-style vocabulary, typescript7)', () => {
  let service: MonitorService;
  let tokenizer: HfTokenizer;
  let dir: string;
  // `return total + store|;`: right before the `.` (the receiver is an Inventory).
  const site = edited('main.ts', 'return total + store.inventoryValue();', 'return total + store|;');
  const dotted = edited('main.ts', 'return total + store.inventoryValue();', 'return total + store.|;');
  const bytesOf = (id: number) => Buffer.from(tokenizer.tokenBytes(id)).toString('latin1');
  const idOf = (text: string) => {
    const ids = tokenizer.encode(text);
    assert.equal(ids.length, 1, `${text} is one token`);
    return ids[0];
  };
  const ctx = (): StepContext => ({ promptTokens: [], generatedTokens: [], generatedText: '', step: 0, signal: new AbortController().signal });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-dotbpe-'));
    tokenizer = await buildDotMergedTokenizer(dir);
    service = await MonitorService.create({ servers: { typescript: 'typescript7' } });
    assert.ok(await service.prepare({ languageId: 'typescript', uri: site.uri, text: site.text, rootUri: ENGINE_ROOT_URI }));
  });
  after(async () => {
    await service.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  void test('the vocabulary merges the dot with names', () => {
    assert.deepEqual(tokenizer.encode('store.counter();').map(bytesOf), ['store', '.count', 'er', '();']);
  });

  void test('before the `.`: a `.name` token is legal exactly when `.` followed by `name` is', async () => {
    // The members after a real `.` (the reference).
    const reference = service.createProcessors({ ...dotted, tokenizer, rootUri: ENGINE_ROOT_URI });
    const deref = (reference[0] as MonitorProcessor).activeMonitor;
    assert.ok(deref instanceof DereferenceMonitor);
    await scriptedDecode(tokenizer, reference, 'count;');
    service.finish(reference);
    const members = [...deref.candidates];
    assert.deepEqual([...members].sort(), [...INVENTORY_MEMBERS].sort());

    const processors = service.createProcessors({ ...site, tokenizer, rootUri: ENGINE_ROOT_URI });
    const logits = new Float32Array(tokenizer.vocabSize);
    logits[idOf('.invoke')] = 10; // the model wants a `.name` token that is not a member
    await processors[0].process(logits, ctx());
    const report = service.finish(processors);
    // A token `.X` is legal iff X leads to a member: X is a prefix of one, or one followed by a byte that
    // cannot continue a name (what the mask after a plain `.` demands of the next token).
    const legal = (tail: string) => tail === '' || members.some((m) => m.startsWith(tail))
      || members.some((m) => tail.startsWith(m) && !IDENT.test(tail[m.length]));
    let dotTokens = 0;
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      if (tokenizer.specialIds.has(id)) continue;
      const text = bytesOf(id);
      if (text.startsWith('.')) {
        dotTokens++;
        assert.equal(Number.isFinite(logits[id]), legal(text.slice(1)), `${JSON.stringify(text)}`);
      } else {
        assert.ok(Number.isFinite(logits[id]), `${JSON.stringify(text)} does not start a dereference: left alone`);
      }
    }
    assert.ok(dotTokens > 30);
    assert.ok(report.maskedSteps === 1 && report.changed === 1, JSON.stringify(report));
  });

  void test('a `.count` token starts the dereference monitor with `count` typed: `counter` is not a member', async () => {
    const unmonitored = await scriptedDecode(tokenizer, [], '.counter();', { stop: /;/ });
    assert.ok(unmonitored.text.startsWith('.counter'), unmonitored.text);
    // The reference monitor document is already at the dot-free cursor; the model writes `.count` itself.
    const processors = service.createProcessors({ ...site, tokenizer, rootUri: ENGINE_ROOT_URI });
    const run = await scriptedDecode(tokenizer, processors, '.counter();', { stop: /;/ });
    const report = service.finish(processors);
    assert.ok(/^\.count(?![\p{ID_Continue}$])/u.test(run.text), `monitored ${JSON.stringify(run.text)}`);
    assert.ok(report.triggers.some((t) => t.kind === 'dereference' && t.outcome === 'constrained'), JSON.stringify(report.triggers));
  });

  void test('after a receiver the model wrote itself, the `.name` token it wants next is constrained too', async () => {
    const at = edited('main.ts', 'return total + store.inventoryValue();', 'return total + |;');
    const unmonitored = await scriptedDecode(tokenizer, [], 'store.invoke();', { stop: /;/ });
    assert.ok(unmonitored.text.startsWith('store.invoke'), unmonitored.text);
    const processors = service.createProcessors({ ...at, tokenizer, rootUri: ENGINE_ROOT_URI });
    const run = await scriptedDecode(tokenizer, processors, 'store.invoke();', { stop: /;/ });
    service.finish(processors);
    assert.ok(run.text.startsWith('store') && !run.text.startsWith('store.invoke'), `monitored ${JSON.stringify(run.text)}`);
    const member = /^store\.([\p{ID_Continue}$]+)/u.exec(run.text)?.[1];
    if (member !== undefined) assert.ok(INVENTORY_MEMBERS.includes(member), `monitored ${JSON.stringify(run.text)}`);
  });

  void test('token healing re-types `store.inv` as `store` + `.inv`: `.invoke` is blocked, a member that starts with inv is written', async () => {
    const healer = () => new TokenHealingProcessor(tokenizer, '.inv');
    const unmonitored = await scriptedDecode(tokenizer, [healer()], '.invoke();', { stop: /;/ });
    assert.ok(unmonitored.text.startsWith('.invoke'), unmonitored.text);
    const processors = service.createProcessors({ ...site, tokenizer, rootUri: ENGINE_ROOT_URI });
    const run = await scriptedDecode(tokenizer, [healer(), ...processors], '.invoke();', { stop: /;/ });
    const report = service.finish(processors);
    const member = /^\.([\p{ID_Continue}$]+)/u.exec(run.text)?.[1];
    assert.ok(member && ['invalidate', 'inventoryValue'].includes(member), `monitored ${JSON.stringify(run.text)}`);
    assert.ok(report.triggers.some((t) => t.kind === 'dereference' && t.outcome === 'constrained'), JSON.stringify(report.triggers));
  });
});
