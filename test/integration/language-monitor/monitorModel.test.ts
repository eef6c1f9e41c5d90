// The real ONNX model, greedy, at a dereference whose receiver's type lives in another file:
// without the monitor it names a member that does not exist; with it, one that does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CodeModel, defaultModelDir } from '../../../model/index.js';
import { MonitorService, itemIdentifier } from '../../../language-monitor/index.js';
import { offsetAfter } from './scriptedDecoder.js';

const FIXTURES = path.resolve(__dirname, '../../fixtures/language-monitor');
const leadingIdentifier = (s: string) => /^[\p{ID_Continue}$]*/u.exec(s)![0];

let model: CodeModel;
let service: MonitorService;
before(async () => {
  model = await CodeModel.load(defaultModelDir);
  service = await MonitorService.create({});
});
after(async () => { await service.dispose(); await model.dispose(); });

for (const [languageId, rel] of [['typescript', 'ts-project/src/main.ts'], ['python', 'py-project/main.py']] as const) {
  void describe(`real model, ${languageId}`, () => {
    const file = path.join(FIXTURES, rel);
    const uri = pathToFileURL(file).href;
    const text = fs.readFileSync(file, 'utf8');
    const offset = offsetAfter(text, 'store.');

    void test('greedy without the monitor invents a member; with it the output is a member that exists', async () => {
      assert.ok(await service.prepare({ languageId, uri, text }));
      const session = service.sessionFor(languageId, uri)!;
      const answer = await session.completion(uri, { line: text.slice(0, offset).split('\n').length - 1, character: offset - text.lastIndexOf('\n', offset - 1) - 1 }, 60_000);
      const members = new Set((answer.items ?? []).map(itemIdentifier).filter((x): x is string => !!x));
      assert.ok(members.size >= 3, 'the server knows the receiver');

      const options = { maxTokens: 8, temperature: 0, stop: [{ kind: 'endOfLine' as const }] };
      const free = await model.complete(text.slice(0, offset), text.slice(offset), options);
      const freeName = leadingIdentifier(free.text);
      assert.ok(!members.has(freeName), `unmonitored output ${JSON.stringify(free.text)} names no existing member`);

      const processors = service.createProcessors({ languageId, uri, text, offset, tokenizer: model.tokenizer });
      const guided = await model.complete(text.slice(0, offset), text.slice(offset), { ...options, processors });
      service.finish(processors);
      const name = leadingIdentifier(guided.text);
      assert.ok(members.has(name), `monitored output ${JSON.stringify(guided.text)} starts with an existing member`);
      assert.ok(service.statistics().maskedSteps + service.statistics().fastForwards >= 1);
    });
  });
}
