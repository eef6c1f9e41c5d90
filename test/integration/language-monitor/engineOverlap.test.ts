// Through the completion engine with the real model: the query for the `.` at the cursor goes out when
// the processors are created, before the prompt is encoded; the prompt's forward pass then blocks the
// thread for 3× the bound (stretched here so that it does on any machine); the answer, which came
// back during the block, constrains the first generated token. TypeScript 7, default bound.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompletionEngine } from '../../../engine/completionEngine.js';
import { MonitorService } from '../../../language-monitor/index.js';
import { CodeModel } from '../../../model/index.js';
import type { KvCache } from '../../../model/kvCache.js';
import type { ForwardOptions } from '../../../model/onnxSession.js';
import { needsModel, testModelDir } from '../model/testModel.js';
import { blockThread, ENGINE_ROOT, INVENTORY_MEMBERS, leadingName } from './engineFixture.js';

describe('engine: the answer to the cursor\'s trigger survives a blocking prompt pass', { skip: needsModel }, () => {
  let model: CodeModel;
  let monitor: MonitorService;
  const file = path.join(ENGINE_ROOT, 'src', 'main.ts');
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf('obj.count();') + 'obj.'.length;

  before(async () => {
    model = await CodeModel.load(testModelDir, { threads: 1 });
    monitor = await MonitorService.create({ servers: { typescript: 'typescript7' } });
  });
  after(async () => {
    await monitor.dispose();
    await model.dispose();
  });

  it('outcome constrained, the first token a member of Inventory', async () => {
    const engine = new CompletionEngine({ model, monitor });
    assert.ok(await engine.warm({ file, languageId: 'typescript', text, workspaceRoot: ENGINE_ROOT }));
    // Every prompt pass stretched to 3× the bound: a synchronous forward pass of a bigger model.
    const session = model.session as unknown as { forward(t: readonly number[], c: KvCache | null, o?: ForwardOptions): Promise<unknown> };
    const forward = session.forward.bind(session);
    let passes = 0;
    session.forward = async (tokens, cache, options) => {
      const r = await forward(tokens, cache, options);
      if (passes++ === 0) blockThread(3 * monitor.timeoutMs);
      return r;
    };
    try {
      const r = await engine.complete({ file, languageId: 'typescript', prefix: text.slice(0, at), suffix: text.slice(at), workspaceRoot: ENGINE_ROOT, maxTokens: 6, temperature: 0, heal: false, pie: false });
      assert.ok(r.monitor, 'the monitor took part');
      assert.equal(r.monitor.triggers[0]?.kind, 'dereference');
      assert.equal(r.monitor.triggers[0]?.outcome, 'constrained', JSON.stringify(r.monitor));
      assert.ok(INVENTORY_MEMBERS.includes(leadingName(r.text)), `completion ${JSON.stringify(r.text)}`);
    } finally {
      session.forward = forward;
    }
  });
});
