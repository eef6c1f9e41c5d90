// MonitorService as the completion engine uses it (engine/completionEngine.ts, EngineMonitor): finish()
// reports every trigger, syncDocument() keeps the server's copy of an open document in step with the
// editor, closeDocument() closes it, and a completion's rollback restores the editor's latest text.
// TypeScript 7 (`tsc --lsp --stdio`), a real process, at the default bound.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver-protocol';
import { defaultModelDir, HfTokenizer } from '../../../model/index.js';
import { MonitorService, type LspSession, type MonitorProcessor } from '../../../language-monitor/index.js';
import { edited, ENGINE_ROOT_URI, fixture, INVENTORY_MEMBERS, leadingName } from './engineFixture.js';
import { scriptedDecode } from './scriptedDecoder.js';

const tokenizer = HfTokenizer.fromDir(defaultModelDir);

void describe('MonitorService implements the engine contract (typescript7)', () => {
  let service: MonitorService;
  let session: LspSession;
  const changes: { uri: string; changes: TextDocumentContentChangeEvent[] }[] = [];
  const closes: string[] = [];
  const main = fixture('main.ts');

  before(async () => {
    service = await MonitorService.create({ servers: { typescript: 'typescript7' } });
    assert.ok(await service.prepare({ languageId: 'typescript', uri: main.uri, text: main.text, rootUri: ENGINE_ROOT_URI }));
    session = service.sessionFor('typescript', main.uri, ENGINE_ROOT_URI) as LspSession;
    // Spy on what goes to the server (the session still sends it).
    const change = session.changeDocument.bind(session);
    session.changeDocument = (uri, c, text) => { changes.push({ uri, changes: c }); change(uri, c, text); };
    const close = session.closeDocument.bind(session);
    session.closeDocument = (uri) => { closes.push(uri); close(uri); };
  });
  after(async () => { await service.dispose(); });

  const complete = async (d: { uri: string; languageId: string; text: string; offset: number }, wish: string) => {
    const processors = service.createProcessors({ ...d, tokenizer, rootUri: ENGINE_ROOT_URI });
    const run = await scriptedDecode(tokenizer, processors, wish);
    return { run, processors, processor: processors[0] as MonitorProcessor };
  };

  void test('finish() reports each trigger: kind, legal candidates, answer ms and outcome, and the steps it masked', async () => {
    const { run, processors } = await complete(edited('main.ts', 'const total = obj.count();', 'const total = obj.|'), 'zorbleCount();');
    const report = service.finish(processors);
    assert.ok(INVENTORY_MEMBERS.includes(leadingName(run.text)), `monitored ${JSON.stringify(run.text)}`);
    assert.ok(report, 'finish returns a report');
    const [trigger] = report.triggers;
    assert.equal(trigger.kind, 'dereference');
    assert.equal(trigger.outcome, 'constrained');
    assert.equal(trigger.candidates, INVENTORY_MEMBERS.length, 'the members of Inventory (its private field is not offered)');
    assert.equal(typeof trigger.ms, 'number');
    assert.ok(report.maskedSteps >= 1 || report.forcedTokens >= 1);
    assert.ok(report.changed >= 1 || report.forcedTokens >= 1, 'the wished name was not a member: the mask changed the choice');

    const args = await complete(edited('main.ts', "save(store, 'main');", 'save(|'), 'store, 1, 2, 3);');
    const argsReport = service.finish(args.processors);
    const first = argsReport.triggers[0];
    assert.deepEqual({ kind: first.kind, outcome: first.outcome, candidates: first.candidates }, { kind: 'arguments', outcome: 'constrained', candidates: 2 });
  });

  void test('syncDocument: didOpen the first time, then one incremental didChange per edit; the server answers from the editor text', async () => {
    const other = fixture('inventory.ts');
    service.syncDocument({ languageId: 'typescript', uri: other.uri, text: other.text, rootUri: ENGINE_ROOT_URI });
    assert.equal(session.documentText(other.uri), other.text, 'opened with the editor text');
    service.syncDocument({ languageId: 'typescript', uri: main.uri, text: main.text, rootUri: ENGINE_ROOT_URI });
    changes.length = 0;
    // The user adds a local class in main.ts (never saved): the server must see it.
    const added = main.text.replace('export function run', 'class Zorble { flimflam(): number { return 1; } }\nconst zorble = new Zorble();\nexport function run');
    service.syncDocument({ languageId: 'typescript', uri: main.uri, text: added, rootUri: ENGINE_ROOT_URI });
    assert.equal(session.documentText(main.uri), added);
    assert.equal(changes.length, 1);
    const [change] = changes[0].changes;
    assert.ok('range' in change, 'an incremental change, not the whole text');
    assert.ok(change.text.length < 100 && change.text.includes('Zorble'), JSON.stringify(change));

    const at = added.replace('const total = obj.count();', 'const total = zorble.|');
    const offset = at.indexOf('|');
    const { run, processors, processor } = await complete({ uri: main.uri, languageId: 'typescript', text: at.replace('|', ''), offset }, 'zorp();');
    const monitor = processor.activeMonitor;
    service.finish(processors);
    assert.ok(run.text.startsWith('flimflam'), `monitored ${JSON.stringify(run.text)} (candidates: ${String((monitor as { candidates?: string[] } | undefined)?.candidates)})`);
    // Back to the fixture's own text for the next tests.
    service.syncDocument({ languageId: 'typescript', uri: main.uri, text: main.text, rootUri: ENGINE_ROOT_URI });
  });

  void test('the rollback after a completion restores the latest synced text, not the one the completion started from', async () => {
    service.syncDocument({ languageId: 'typescript', uri: main.uri, text: main.text, rootUri: ENGINE_ROOT_URI });
    // Token healing: the engine's monitor document lacks the healed tail (`obj.cou` without `cou`).
    const healed = edited('main.ts', 'const total = obj.count();', 'const total = obj.|();');
    const editorText = healed.text.slice(0, healed.offset) + 'cou' + healed.text.slice(healed.offset);
    service.syncDocument({ languageId: 'typescript', uri: main.uri, text: editorText, rootUri: ENGINE_ROOT_URI });
    let { processors } = await complete(healed, 'count');
    service.finish(processors);
    assert.equal(session.documentText(main.uri), editorText, 'the editor text (with `cou`), not the monitor document');

    // The user types while a completion runs: the rollback must not bring the older text back.
    const before = edited('main.ts', 'const total = obj.count();', 'const total = obj.|');
    service.syncDocument({ languageId: 'typescript', uri: main.uri, text: before.text, rootUri: ENGINE_ROOT_URI });
    processors = service.createProcessors({ ...before, tokenizer, rootUri: ENGINE_ROOT_URI });
    const typed = before.text.slice(0, before.offset) + 'res' + before.text.slice(before.offset);
    service.syncDocument({ languageId: 'typescript', uri: main.uri, text: typed, rootUri: ENGINE_ROOT_URI });
    await scriptedDecode(tokenizer, processors, 'restock(');
    service.finish(processors);
    assert.equal(session.documentText(main.uri), typed);
    service.syncDocument({ languageId: 'typescript', uri: main.uri, text: main.text, rootUri: ENGINE_ROOT_URI });
  });

  void test('closeDocument sends didClose; a later sync opens the document again', () => {
    const other = fixture('inventory.ts');
    service.syncDocument({ languageId: 'typescript', uri: other.uri, text: other.text, rootUri: ENGINE_ROOT_URI });
    service.closeDocument(other.uri);
    assert.deepEqual(closes, [other.uri]);
    assert.equal(session.documentText(other.uri), undefined);
    service.syncDocument({ languageId: 'typescript', uri: other.uri, text: other.text, rootUri: ENGINE_ROOT_URI });
    assert.equal(session.documentText(other.uri), other.text);
  });
});
