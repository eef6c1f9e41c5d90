// The worker's real model path (CodeModelWorker, in-process) with the real default model: token
// healing as the CLI does it, the monitor on the document without the healed text, and PIE's prompt
// cache with PSM, SPM and left-to-right prompts. Expectations are computed from the model's own
// prompts and completions, never from a known output.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/index.js';
import { CodeModelWorker } from '../../../extension/engineWorker/codeModelWorker.js';
import type { EngineMonitor } from '../../../engine/completionEngine.js';
import { MonitorService } from '../../../language-monitor/index.js';
import type { GenerateRequest, GenerateSummary } from '../../../extension/completion/types.js';
import { exactVariant, needsModel, testModelDir } from '../model/testModel.js';

const cartFile = path.resolve(__dirname, '../../../cli/demo-project/cart.ts');
const cart = fs.readFileSync(cartFile, 'utf8');
const quiet = (): void => {};

/** The cart with `typed` written after `anchor`, the cursor after it and the rest of that line hidden. */
function cartAt(anchor: string, typed = ''): { prefix: string; suffix: string } {
  const offset = cart.indexOf(anchor) + anchor.length;
  assert.ok(offset >= anchor.length, `fixture has ${anchor}`);
  return { prefix: cart.slice(0, offset) + typed, suffix: cart.slice(cart.indexOf('\n', offset)) };
}

const request = (at: { prefix: string; suffix: string }, over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  languageId: 'typescript', filePath: cartFile, ...at, maxTokens: 8, temperature: 0, singleLine: false, monitor: false, pie: false, ...over,
});

async function complete(worker: CodeModelWorker, req: GenerateRequest): Promise<{ text: string; streamed: string[]; summary: GenerateSummary }> {
  const streamed: string[] = [];
  const summary = await worker.complete(req, new AbortController().signal, (t) => streamed.push(t));
  return { text: streamed.join(''), streamed, summary };
}

/** A model folder that is the test model with config.json's `fim_order` set (the weights are linked, not copied). */
function modelWithFimOrder(order: 'psm' | 'spm' | 'none'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `typeguide-fim-${order}-`));
  for (const name of fs.readdirSync(testModelDir)) {
    if (name !== 'config.json') fs.symlinkSync(path.join(testModelDir, name), path.join(dir, name));
  }
  const config = JSON.parse(fs.readFileSync(path.join(testModelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, fim_order: order }));
  return dir;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

// The worker and the in-process model both load the float32 export of the shipped weights (the worker's
// 'fp32' is the engine's 'default'): these tests compare the cached and uncached paths token for token,
// which needs exact arithmetic. What ships (q8) is compared the same way in engineWorker.test.ts.
describe('CodeModelWorker with the real model', { skip: needsModel }, () => {
  let model: CodeModel;
  before(async () => {
    model = await CodeModel.load(testModelDir, { threads: 1, variant: exactVariant });
  });
  after(() => model?.dispose());

  describe('token healing', () => {
    let worker: CodeModelWorker;
    before(async () => {
      worker = await CodeModelWorker.load({ dir: testModelDir, variant: 'fp32', threads: 1 }, quiet);
    });
    after(() => worker?.dispose());

    for (const [anchor, typed] of [['const product = ', 'await '], ['const product = this.inv', ''], ['return this.lines.len', '']]) {
      it(`at \`${anchor}${typed}|\` completes like CodeModel with heal, returning only what follows the cursor`, async () => {
        const at = cartAt(anchor, typed);
        const prompt = model.buildPrompt(at.prefix, at.suffix, { maxTokens: 8, heal: true });
        assert.ok(prompt.healed !== '' && at.prefix.endsWith(prompt.healed), `something is healed at ${JSON.stringify(anchor)}`);
        const { text, summary } = await complete(worker, request(at));
        assert.equal(summary.healed, prompt.healed);
        assert.equal(summary.promptTokens, prompt.ids.length);
        const cli = await model.complete(at.prefix, at.suffix, { maxTokens: 8, temperature: 0, heal: true, stop: [{ kind: 'eos' }, { kind: 'endOfBlock' }] });
        assert.equal(text, cli.text, 'the streamed text is the CLI\'s healed completion');
        // The generated tokens spell the healed text first; the caller gets the rest only.
        const spelled = model.tokenizer.decode(cli.tokens);
        if (spelled.length >= prompt.healed.length) {
          assert.ok(spelled.startsWith(prompt.healed));
          assert.ok(spelled.slice(prompt.healed.length).startsWith(text));
        }
      });
    }

    it('heal: false keeps the unhealed prompt', async () => {
      const at = cartAt('const product = this.inv');
      const { text, summary } = await complete(worker, request(at, { heal: false }));
      assert.equal(summary.healed, undefined);
      assert.equal(summary.promptTokens, model.buildPrompt(at.prefix, at.suffix, { maxTokens: 8 }).ids.length);
      const plain = await model.complete(at.prefix, at.suffix, { maxTokens: 8, temperature: 0, stop: [{ kind: 'eos' }, { kind: 'endOfBlock' }] });
      assert.equal(text, plain.text);
    });

    it('PIE\'s prompt cache serves healed prompts with the same text, and typing inside the healed word reuses the cache', async () => {
      const doc = '/tmp/typeguide-heal-pie.ts';
      const first = cartAt('const product = this.inv');
      const plain = await complete(worker, request(first));
      const cached = await complete(worker, request(first, { pie: true, filePath: doc }));
      assert.equal(cached.text, plain.text);
      assert.equal(cached.summary.piePath, 'full');

      const typed = { prefix: first.prefix + 'e', suffix: first.suffix };
      const before = model.buildPrompt(first.prefix, first.suffix, { maxTokens: 8, heal: true }).ids;
      const now = model.buildPrompt(typed.prefix, typed.suffix, { maxTokens: 8, heal: true }).ids;
      const next = await complete(worker, request(typed, { pie: true, filePath: doc }));
      const expectedEncoded = now.length - 1 - commonPrefix(before.slice(0, -1), now.slice(0, -1));
      if (now.length === before.length && expectedEncoded === 0) {
        // The typed letter is inside the healed word: the prompt did not change at all.
        assert.equal(next.summary.piePath, 'reuse');
        assert.equal(next.summary.pieEncodedTokens, 0);
      } else {
        assert.ok(next.summary.piePath && next.summary.piePath !== 'full', `${next.summary.piePath}`);
      }
      assert.equal(next.text, (await complete(worker, request(typed))).text);
    });
  });

  describe('monitor with healing', () => {
    /** The real MonitorService, recording the documents the engine builds processors for. */
    class RecordingMonitor implements EngineMonitor {
      readonly seen: Parameters<EngineMonitor['createProcessors']>[0][] = [];
      constructor(readonly inner: MonitorService) {}
      supports(languageId: string): boolean { return this.inner.supports(languageId); }
      prepare(req: Parameters<EngineMonitor['prepare']>[0]): Promise<boolean> { return this.inner.prepare(req); }
      createProcessors(req: Parameters<EngineMonitor['createProcessors']>[0]): ReturnType<EngineMonitor['createProcessors']> {
        this.seen.push(req);
        return this.inner.createProcessors(req);
      }
      finish(processors: Parameters<EngineMonitor['finish']>[0]): ReturnType<EngineMonitor['finish']> { return this.inner.finish(processors); }
      dispose(): Promise<void> { return this.inner.dispose(); }
    }

    let worker: CodeModelWorker;
    let monitor: RecordingMonitor;
    before(async () => {
      monitor = new RecordingMonitor(await MonitorService.create());
      worker = await CodeModelWorker.load({ dir: testModelDir, variant: 'fp32', threads: 1 }, quiet, monitor);
    });
    after(() => worker?.dispose());

    it('builds the monitor\'s processors on the document without the healed text', async () => {
      const at = cartAt('const product = this.inv');
      const healed = model.buildPrompt(at.prefix, at.suffix, { maxTokens: 8, heal: true }).healed;
      assert.ok(healed.endsWith('inv'));
      const { summary } = await complete(worker, request(at, { monitor: true, workspaceRoot: path.dirname(cartFile) }));
      const seen = monitor.seen.at(-1)!;
      assert.equal(seen.text.slice(0, seen.offset), at.prefix.slice(0, at.prefix.length - healed.length));
      assert.ok(seen.text.slice(0, seen.offset).endsWith('this.'), 'the monitor sees the cursor right after the dot');
      assert.equal(seen.text.slice(seen.offset), at.suffix);
      assert.equal(summary.healed, healed);
      assert.notEqual(summary.monitorTriggers, undefined, 'the language server took part');
    });
  });

  it('in an untrusted workspace the worker has no language monitor, whatever a request asks', async () => {
    const worker = await CodeModelWorker.load({ dir: testModelDir, variant: 'fp32', threads: 1, trusted: false }, quiet);
    try {
      assert.equal(worker.engine.hasMonitor, false, 'no monitor (so no server is ever started)');
      const at = cartAt('const product = this.inv');
      worker.document({ kind: 'open', filePath: cartFile, languageId: 'typescript', version: 1, text: at.prefix + at.suffix, workspaceRoot: path.dirname(cartFile) });
      const { summary } = await complete(worker, request(at, { monitor: true, workspaceRoot: path.dirname(cartFile), context: { budgetTokens: 200, readFiles: true } }));
      assert.equal(summary.monitorTriggers, undefined, 'nothing monitored');
      assert.equal(summary.context?.bySource.declaration, undefined, 'no declarations (they need a server)');
    } finally {
      await worker.dispose();
    }
  });

  // In SPM order the prefix ends the prompt and without FIM the prompt is the prefix only: typing at the
  // cursor appends to the prompt, so PIE's cache reuses everything before the typed text.
  for (const order of ['spm', 'none'] as const) {
    describe(`fim_order ${order}`, () => {
      let dir: string;
      let worker: CodeModelWorker;
      let ordered: CodeModel;
      before(async () => {
        dir = modelWithFimOrder(order);
        worker = await CodeModelWorker.load({ dir, variant: 'fp32', threads: 1 }, quiet);
        ordered = await CodeModel.load(dir, { threads: 1, variant: exactVariant });
      });
      after(async () => {
        await worker?.dispose();
        await ordered?.dispose();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      });

      it('builds the prompt in that order', () => {
        const at = cartAt('const product = this.');
        const ids = ordered.buildPrompt(at.prefix, at.suffix, { maxTokens: 8 }).ids;
        const tok = (t: string) => ordered.tokenizer.tokenId(t)!;
        if (order === 'spm') {
          assert.equal(worker.info.promptFormat, `fim:${ordered.fim!.family}`);
          assert.equal(ordered.fim!.order, 'spm');
          assert.deepEqual(ids.slice(0, 2), [tok(ordered.fim!.prefixToken), tok(ordered.fim!.suffixToken)]);
          const middle = ids.indexOf(tok(ordered.fim!.middleToken));
          assert.equal(ordered.tokenizer.decode(ids.slice(2, middle)), at.suffix);
          const prefixPart = ordered.tokenizer.decode(ids.slice(middle + 1));
          assert.ok(prefixPart.length > 0 && at.prefix.endsWith(prefixPart), 'the prefix ends the prompt');
        } else {
          assert.equal(worker.info.promptFormat, 'plain');
          assert.equal(ordered.tokenizer.decode(ids), at.prefix);
        }
      });

      it('gives the same text with and without PIE\'s prompt cache', async () => {
        const doc = `/tmp/typeguide-${order}-same.ts`;
        for (const anchor of ['const product = this.', 'const product = this.inv', '    return ']) {
          const at = cartAt(anchor);
          const plain = await complete(worker, request(at));
          const cached = await complete(worker, request(at, { pie: true, filePath: doc }));
          assert.equal(cached.text, plain.text, `at ${JSON.stringify(anchor)}`);
          const direct = await ordered.complete(at.prefix, at.suffix, { maxTokens: 8, temperature: 0, heal: true, stop: [{ kind: 'eos' }, { kind: 'endOfBlock' }] });
          assert.equal(plain.text, direct.text);
        }
      });

      it('a keystroke at the cursor costs only the changed tokens at the prompt\'s end, plus one', async () => {
        const doc = `/tmp/typeguide-${order}-typing.ts`;
        const start = cartAt('  totalCents(): number {\n');
        const line = '    const total = this.lines.length;';
        let previous = ordered.buildPrompt(start.prefix, start.suffix, { maxTokens: 1, heal: true }).ids;
        assert.equal((await complete(worker, request(start, { pie: true, filePath: doc, maxTokens: 1 }))).summary.piePath, 'full');
        for (let n = 1; n <= line.length; n++) {
          const at = { prefix: start.prefix + line.slice(0, n), suffix: start.suffix };
          const ids = ordered.buildPrompt(at.prefix, at.suffix, { maxTokens: 1, heal: true }).ids;
          const { summary } = await complete(worker, request(at, { pie: true, filePath: doc, maxTokens: 1 }));
          const kept = commonPrefix(previous.slice(0, -1), ids.slice(0, -1));
          const what = `after typing ${JSON.stringify(line.slice(0, n))}: ${summary.piePath} encoded ${summary.pieEncodedTokens}`;
          assert.ok(summary.piePath === 'prefix' || summary.piePath === 'reuse', what);
          // The cache never re-encodes the document before the line: a short typed tail is left to the
          // generator's pass (encoded with the last token, 'reuse'), a longer one caught up ('prefix').
          assert.ok((summary.pieEncodedTokens ?? 0) <= ordered.tokenizer.encode(line.slice(0, n)).length + 2, what);
          // Only the current line's tokens can change: the document before it stays cached.
          assert.ok(ids.length - kept <= ordered.tokenizer.encode(line.slice(0, n)).length + 2, what);
          previous = ids;
        }
      });

      if (order === 'none') {
        it('ignores the text after the cursor: editing it reuses the cached prompt', async () => {
          const doc = '/tmp/typeguide-none-suffix.ts';
          const at = cartAt('const product = this.');
          const first = await complete(worker, request(at, { pie: true, filePath: doc }));
          const edited = await complete(worker, request({ prefix: at.prefix, suffix: at.suffix + '\n// more\n' }, { pie: true, filePath: doc }));
          assert.equal(edited.summary.piePath, 'reuse');
          assert.equal(edited.summary.pieEncodedTokens, 0);
          assert.equal(edited.text, first.text);
        });
      }
    });
  }
});
