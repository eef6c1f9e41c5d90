// The one completion engine with the real default model: work stops within one forward pass when the
// user moves on, an aborted prompt leaves nothing corrupt behind, the prompt window and the KV-cache byte
// cap hold, and the monitor sees the whole mirrored document when the editor sends only a window.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompletionEngine, type EngineMonitor } from '../../../engine/completionEngine.js';
import { CodeModel } from '../../../model/index.js';
import type { KvCache } from '../../../model/kvCache.js';
import type { ForwardOptions } from '../../../model/onnxSession.js';
import { needsModel, testModelDir } from '../model/testModel.js';

const demo = path.resolve(__dirname, '../../../cli/demo-project');
const cart = fs.readFileSync(path.join(demo, 'cart.ts'), 'utf8');
const inventory = fs.readFileSync(path.join(demo, 'inventory.ts'), 'utf8');
/** A long real document (the demo project's files, several times over): ~2,000 tokens before the cursor. */
const longDoc = [cart, inventory, cart, inventory, cart, inventory].join('\n');
const cursor = longDoc.lastIndexOf('this.inventory.') + 'this.inventory.'.length;

/** Counts forward passes and the tokens in each; `onPass` runs after each one. */
function countPasses(model: CodeModel, onPass?: (n: number) => void): { passes: number[]; restore(): void } {
  const session = model.session as unknown as { forward(t: readonly number[], c: KvCache | null, o?: ForwardOptions): Promise<unknown> };
  const original = session.forward.bind(session);
  const passes: number[] = [];
  session.forward = async (tokens, cache, options) => {
    const r = await original(tokens, cache, options);
    passes.push(tokens.length);
    onPass?.(passes.length);
    return r;
  };
  return { passes, restore: () => { session.forward = original; } };
}

describe('CompletionEngine with the real model', { skip: needsModel }, () => {
  let model: CodeModel;
  before(async () => {
    model = await CodeModel.load(testModelDir, { threads: 1 });
  });
  after(() => model?.dispose());

  const request = (file: string, over: Partial<Parameters<CompletionEngine['complete']>[0]> = {}) => ({
    file, languageId: 'typescript', prefix: longDoc.slice(0, cursor), suffix: longDoc.slice(cursor), maxTokens: 8, temperature: 0, monitor: false, ...over,
  });

  it('an abort during a long prompt stops it after the forward pass that is running, and the next request is exact', async () => {
    const engine = new CompletionEngine({ model, ownsModel: false, prefillChunkTokens: 128 });
    try {
      const controller = new AbortController();
      const counter = countPasses(model, (n) => { if (n === 1) controller.abort(); });
      let r;
      try {
        r = await engine.complete(request('/tmp/typeguide-engine-abort.ts'), { signal: controller.signal });
      } finally {
        counter.restore();
      }
      assert.ok(r.promptTokens > 512, `a long prompt (${r.promptTokens} tokens)`);
      assert.equal(r.stopReason, 'aborted');
      assert.equal(r.text, '');
      assert.equal(counter.passes.length, 1, `one pass of at most 128 tokens ran, then the abort took effect: ${counter.passes.join(',')}`);
      assert.ok(counter.passes[0] <= 128);

      // The finished chunk is kept (typing fast aborts every prompt before its end: the work carries over),
      // and the same request now gives exactly what a fresh engine gives.
      const again = await engine.complete(request('/tmp/typeguide-engine-abort.ts'));
      assert.equal(again.prompt.path, 'prefix', `${again.prompt.path}: ${again.prompt.reason}`);
      assert.equal(again.prompt.keptTokens, counter.passes[0], 'the rows of the pass that ran are reused');
      const fresh = new CompletionEngine({ model, ownsModel: false });
      try {
        const reference = await fresh.complete(request('/tmp/typeguide-engine-abort-fresh.ts', { cache: 'none' }));
        assert.equal(again.text, reference.text);
        assert.equal(again.stopReason === 'aborted', false);
      } finally {
        await fresh.dispose();
      }
    } finally {
      await engine.dispose();
    }
  });

  it('a warmed prompt makes the next completion at that cursor a cache reuse, with the same text', async () => {
    const engine = new CompletionEngine({ model, ownsModel: false });
    try {
      const req = request('/tmp/typeguide-engine-warm.ts');
      assert.equal(await engine.warmPrompt(req), true);
      const r = await engine.complete(req);
      assert.equal(r.prompt.path, 'reuse', `${r.prompt.path}: ${r.prompt.reason}`);
      assert.equal(r.prompt.encodedTokens, 0);
      const cold = new CompletionEngine({ model, ownsModel: false });
      try {
        assert.equal(r.text, (await cold.complete({ ...req, cache: 'none' })).text);
      } finally {
        await cold.dispose();
      }
      // An aborted warm-up keeps nothing half-built and says so.
      const controller = new AbortController();
      controller.abort();
      assert.equal(await engine.warmPrompt(request('/tmp/typeguide-engine-warm-2.ts'), controller.signal), false);
      assert.equal((await engine.complete(request('/tmp/typeguide-engine-warm-2.ts', { maxTokens: 1 }))).prompt.path, 'full');
    } finally {
      await engine.dispose();
    }
  });

  it('typing at the cursor in a document longer than the window reuses the cached prompt: the window does not slide per keystroke', async () => {
    const engine = new CompletionEngine({ model, ownsModel: false });
    try {
      const file = '/tmp/typeguide-engine-typing.ts';
      const line = '    const total = this.lines.reduce((sum, line) => sum + line.cents, 0);';
      const start = longDoc.indexOf('\n', cursor) + 1;
      const first = await engine.complete(request(file, { prefix: longDoc.slice(0, start), suffix: longDoc.slice(start), maxTokens: 1 }));
      assert.ok(longDoc.length > 4 * engine.promptWindowTokens && first.promptTokens >= engine.promptWindowTokens * 0.4, `${first.promptTokens} prompt tokens`);
      const paths: string[] = [];
      let moved = 0;
      for (let n = 1; n <= line.length; n++) {
        const r = await engine.complete(request(file, { prefix: longDoc.slice(0, start) + line.slice(0, n), suffix: longDoc.slice(start), maxTokens: 1 }));
        paths.push(`${r.prompt.path}:${r.prompt.encodedTokens}`);
        // 'reuse' while the typed tail is short (the generator encodes it with the last token), then 'prefix'
        // once, catching up the ~9 tokens of that tail (PromptCache's lazyTailTokens).
        const appended = (r.prompt.path === 'prefix' || r.prompt.path === 'reuse') && r.prompt.encodedTokens <= 12;
        // The window's start moves by a whole block at most once in a line's worth of typing (never a full encode).
        if (!appended) moved++;
        assert.ok(appended || (moved === 1 && r.prompt.path !== 'full'), `after ${JSON.stringify(line.slice(0, n))}: ${paths.join(' ')}`);
      }
    } finally {
      await engine.dispose();
    }
  });

  it('after an edit past the cursor (PIE), typing at the cursor appends to the repositioned cache instead of re-encoding the prompt', async () => {
    const engine = new CompletionEngine({ model, ownsModel: false });
    try {
      const file = '/tmp/typeguide-engine-pie-append.ts';
      const at = cursor - 'this.inventory.'.length;
      const lineEnd = longDoc.indexOf('\n', cursor);
      const first = await engine.complete(request(file, { prefix: longDoc.slice(0, at), suffix: longDoc.slice(at), maxTokens: 1 }));
      assert.equal(first.prompt.path, 'full');
      // The rest of the line after the cursor deleted (as before retyping a member): the suffix changes.
      const edited = await engine.complete(request(file, { prefix: longDoc.slice(0, at), suffix: longDoc.slice(lineEnd), maxTokens: 1 }));
      assert.equal(edited.prompt.path, 'pie', `${edited.prompt.path}: ${edited.prompt.reason}`);
      const typed = 'this.';
      for (let n = 1; n <= typed.length; n++) {
        const r = await engine.complete(request(file, { prefix: longDoc.slice(0, at) + typed.slice(0, n), suffix: longDoc.slice(lineEnd), maxTokens: 1 }));
        assert.ok((r.prompt.path === 'pie' || r.prompt.path === 'reuse') && r.prompt.encodedTokens <= 4,
          `after typing ${JSON.stringify(typed.slice(0, n))}: ${r.prompt.path}, ${r.prompt.encodedTokens} encoded (${r.prompt.reason})`);
      }
    } finally {
      await engine.dispose();
    }
  });

  it('an abort while decoding stops at the next token', async () => {
    const engine = new CompletionEngine({ model, ownsModel: false });
    try {
      const controller = new AbortController();
      let tokens = 0;
      const r = await engine.complete(request('/tmp/typeguide-engine-decode.ts', { maxTokens: 64, stop: [] }), {
        signal: controller.signal,
        onToken: () => { if (++tokens === 3) controller.abort(); },
      });
      assert.equal(r.stopReason, 'aborted');
      assert.ok(r.tokens.length <= 4, `${r.tokens.length} tokens after an abort at the third`);
    } finally {
      await engine.dispose();
    }
  });

  it('trims the allocator once it is idle after completions and warm-ups, not while one runs', { skip: process.platform !== 'linux' }, async () => {
    const engine = new CompletionEngine({ model, ownsModel: false, trimIdleMs: 60 });
    try {
      assert.equal(engine.memoryTrims().enabled, true);
      const running = engine.complete(request('/tmp/typeguide-engine-trim.ts', { maxTokens: 16, stop: [] }));
      await new Promise((r) => setTimeout(r, 100));
      await engine.warmPrompt(request('/tmp/typeguide-engine-trim2.ts', { maxTokens: 1 }));
      await running;
      assert.equal(engine.memoryTrims().trims, 0, 'nothing trimmed while work was in flight or right after it');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(engine.memoryTrims().trims, 1, 'one trim for the idle period');
      const off = new CompletionEngine({ model, ownsModel: false, trimMemory: false });
      assert.equal(off.memoryTrims().enabled, false);
      await off.dispose();
    } finally {
      await engine.dispose();
    }
  });

  it('parks the documents not in use as float16 by default and completes the same text after widening one', async () => {
    const engine = new CompletionEngine({ model, ownsModel: false });
    const exact = new CompletionEngine({ model, ownsModel: false, parkFloat16: false });
    try {
      const a = request('/tmp/typeguide-engine-park-a.ts', { maxTokens: 6 });
      const first = await engine.complete(a);
      await engine.complete(request('/tmp/typeguide-engine-park-b.ts', { maxTokens: 2 }));
      for (let i = 0; i < 40 && engine.cacheUsage().parked === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(engine.cacheUsage().parked, 1, 'a is parked while b is in use');
      assert.equal(engine.cacheUsage().documents, 2);
      const again = await engine.complete(a);
      assert.equal(again.prompt.path, 'reuse', again.prompt.reason);
      assert.equal(again.text, first.text, 'the widened cache completes as the float32 one did');
      assert.equal(again.text, (await exact.complete(a)).text, 'and as an engine that never parks');
      assert.equal(exact.cacheUsage().parked, 0);
    } finally {
      await engine.dispose();
      await exact.dispose();
    }
  });

  it('keeps the prompt inside its window and the cached KV inside its byte cap', async () => {
    const c = model.config;
    const bytesPerToken = 2 * c.numLayers * c.numKvHeads * c.headDim * (model.session.kvDtype === 'float16' ? 2 : 4);
    const cap = 700 * bytesPerToken;
    const engine = new CompletionEngine({ model, ownsModel: false, cacheBytes: cap });
    try {
      assert.ok(engine.promptWindowTokens <= 700, `the window (${engine.promptWindowTokens}) fits one document's cache in the cap`);
      for (const name of ['a', 'b', 'c']) {
        const r = await engine.complete(request(`/tmp/typeguide-engine-${name}.ts`, { maxTokens: 2 }));
        assert.ok(r.promptTokens <= engine.promptWindowTokens, `${r.promptTokens} prompt tokens`);
        assert.ok(engine.cacheUsage().bytes <= cap, `${engine.cacheUsage().bytes} bytes cached > cap ${cap}`);
      }
      assert.ok(engine.cacheUsage().documents >= 1, 'something is kept');
    } finally {
      await engine.dispose();
    }
  });

  it('the monitor sees the whole mirrored document when the request carries only a window around the cursor', async () => {
    const seen: { text: string; offset: number }[] = [];
    const recorder: EngineMonitor = {
      supports: () => true,
      prepare: () => Promise.resolve(true),
      createProcessors: (req) => { seen.push({ text: req.text, offset: req.offset }); return []; },
      finish: () => undefined,
      dispose: () => Promise.resolve(),
    };
    const engine = new CompletionEngine({ model, ownsModel: false, monitor: recorder });
    try {
      const file = path.join(demo, 'cart.ts');
      engine.documents.open({ filePath: file, languageId: 'typescript', version: 1, text: cart });
      // The user types `// x` at the start of the file: an incremental change, as VS Code reports it.
      engine.documents.change(file, 2, [{ offset: 0, length: 0, text: '// x\n' }]);
      const text = '// x\n' + cart;
      const at = text.indexOf('this.inventory.') + 'this.inventory.'.length;
      const windowStart = at - 120;
      await engine.complete({
        file, languageId: 'typescript', prefix: text.slice(windowStart, at), suffix: text.slice(at, at + 80), documentOffset: at, maxTokens: 2, temperature: 0,
      });
      assert.equal(seen.length, 1);
      assert.equal(seen[0].text, text, 'the whole document, with the change applied');
      assert.equal(seen[0].offset, at);

      // A window that does not match the mirror (the host and the mirror disagree) falls back to the window itself.
      await engine.complete({ file, languageId: 'typescript', prefix: 'const q = store.', suffix: '\n', documentOffset: at, maxTokens: 1, temperature: 0 });
      assert.equal(seen[1].text, 'const q = store.\n');
      assert.equal(seen[1].offset, 'const q = store.'.length);
    } finally {
      await engine.dispose();
    }
  });
});
