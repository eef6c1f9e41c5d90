// Token healing composed with the real monitor (TypeScript 7 server) on the demo project: at
// `this.inv|` the prompt drops the partial identifier, the monitor works on the document without it,
// and the output must re-spell it as the start of a member the server lists.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { completeAt, languageIdFor, prepareMonitor } from '../../../cli/monitored.js';
import { CompletionEngine } from '../../../engine/completionEngine.js';
import { itemIdentifier, MonitorService } from '../../../language-monitor/index.js';
import { CodeModel } from '../../../model/index.js';
import { needsModel, testModelDir } from '../model/testModel.js';

const file = path.resolve(__dirname, '../../../cli/demo-project/cart.ts');
const source = fs.readFileSync(file, 'utf8');

describe('healing + monitor', { skip: needsModel }, () => {
  let model: CodeModel;
  let monitor: MonitorService;
  let engine: CompletionEngine;
  before(async () => {
    // The default bound, as users get it: the project is loaded first (prepareMonitor), as the CLI does.
    [model, monitor] = await Promise.all([CodeModel.load(testModelDir), MonitorService.create()]);
    engine = new CompletionEngine({ model, monitor });
  });
  after(async () => {
    await engine?.dispose();
  });

  it('languageIdFor maps extensions to the servers\' languages', () => {
    assert.equal(languageIdFor('a/b.ts'), 'typescript');
    assert.equal(languageIdFor('b.TSX'), 'typescriptreact');
    assert.equal(languageIdFor('c.py'), 'python');
    assert.equal(languageIdFor('d.rs'), undefined);
  });

  it('at `this.inv|` the healed output starts with a member of the receiver that begins with the typed text', async () => {
    const anchor = 'const product = this.inv';
    const offset = source.indexOf(anchor) + anchor.length;
    const text = source.slice(0, offset) + source.slice(source.indexOf('\n', offset)); // the rest of the line hidden
    assert.ok(await prepareMonitor(engine, file, text));
    // The server's members of `this.` here (computed, not assumed).
    const dot = offset - 'inv'.length;
    const session = monitor.sessionFor('typescript', pathToFileURL(file).href)!;
    const lineStart = text.lastIndexOf('\n', dot - 1) + 1;
    const answer = await session.completion(pathToFileURL(file).href, { line: text.slice(0, dot).split('\n').length - 1, character: dot - lineStart }, 60_000);
    const members = (answer.items ?? []).map(itemIdentifier).filter((x): x is string => !!x);
    const wanted = members.filter((m) => m.startsWith('inv'));
    assert.ok(wanted.length >= 1, `the server lists a member starting with "inv": ${members.join(', ')}`);

    monitor.resetStatistics();
    const result = await completeAt(engine, { file, text, offset }, { maxTokens: 8, temperature: 0, stop: [{ kind: 'endOfLine' }], heal: true });
    assert.ok(result.monitor, 'the monitor took part');
    assert.ok(result.healed.endsWith('inv'), `healed ${JSON.stringify(result.healed)}`);
    assert.ok(!result.text.startsWith('inv'), 'the typed text is not repeated');
    const written = 'inv' + result.text;
    assert.ok(wanted.some((m) => written.startsWith(m) && !/[\p{ID_Continue}$]/u.test(written[m.length] ?? '')),
      `${JSON.stringify(written)} is a member of the receiver (${wanted.join(', ')})`);
    const stats = monitor.statistics();
    assert.ok(stats.triggers.dereference >= 1 && stats.timeouts === 0);
  });
});
