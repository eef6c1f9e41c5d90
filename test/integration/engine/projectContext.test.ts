// Project context in the prompt, through the one completion engine with the real default model: the budget
// holds, the ring keeps what stays in the same order (so the prompt cache repositions instead of
// re-encoding, and the repositioned cache's next-token distribution is within PIE's bound of a full
// recomputation), and an untrusted workspace (readFiles false) reads nothing and asks no server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CompletionEngine, type EngineMonitor, type EngineRequest } from '../../../engine/completionEngine.js';
import { MonitorService } from '../../../language-monitor/index.js';
import { CodeModel } from '../../../model/index.js';
import { klDivergence } from '../../../model/pie/metrics.js';
import { PromptCache } from '../../../model/pie/promptCache.js';
import { needsModel, testModelDir } from '../model/testModel.js';

const demo = path.resolve(__dirname, '../../../cli/demo-project');
const read = (f: string): string => fs.readFileSync(path.join(demo, f), 'utf8');

type Prompt = ReturnType<CompletionEngine['promptFor']>;
const promptOf = (engine: CompletionEngine, req: EngineRequest): Prompt => engine.promptFor(req);

/** A monitor that only provides declarations (and records what it was asked and what it could read). */
function declarationsOnly(answer: (readFile: (uri: string) => string | undefined) => { uri: string; name: string; startLine: number; endLine: number; text: string; rank: number }[]): EngineMonitor & { calls: number } {
  const m = {
    calls: 0,
    supports: () => true,
    prepare: () => Promise.resolve(true),
    createProcessors: () => [],
    finish: () => undefined,
    dispose: () => Promise.resolve(),
    declarations: (req: { readFile: (uri: string) => string | undefined }) => {
      m.calls++;
      return Promise.resolve(answer(req.readFile));
    },
  };
  return m;
}

describe('project context with the real model', { skip: needsModel }, () => {
  let model: CodeModel;
  before(async () => {
    model = await CodeModel.load(testModelDir, { threads: 1 });
  });
  after(() => model?.dispose());

  const main = read('main.ts');
  const cursor = main.indexOf('cart.add(') + 'cart.'.length;
  const request = (budget: number, over: Partial<EngineRequest> = {}): EngineRequest => ({
    file: path.join(demo, 'main.ts'), languageId: 'typescript', prefix: main.slice(0, cursor), suffix: main.slice(cursor),
    documentOffset: cursor, workspaceRoot: demo, maxTokens: 8, temperature: 0, monitor: false, context: { budgetTokens: budget }, ...over,
  });
  const openAll = (engine: CompletionEngine): void => {
    for (const f of ['cart.ts', 'inventory.ts', 'main.ts']) engine.documents.open({ filePath: path.join(demo, f), languageId: 'typescript', version: 1, text: read(f), workspaceRoot: demo });
  };
  /** Types a line into another open file: its range becomes an 'edit' chunk. */
  const editIn = (engine: CompletionEngine, file: string, version: number, anchor: string, text: string): void => {
    const doc = read(file);
    const at = doc.indexOf(anchor);
    assert.ok(at >= 0, `${anchor} in ${file}`);
    engine.documents.change(path.join(demo, file), version, [{ offset: at, length: 0, text }]);
  };

  it('the context stays within its budget, on top of the window, and a budget of 0 adds nothing', () => {
    const engine = new CompletionEngine({ model, ownsModel: false });
    try {
      openAll(engine);
      editIn(engine, 'cart.ts', 2, 'export class Cart', '// a note\n');
      editIn(engine, 'inventory.ts', 2, 'export class Inventory', '// another note\n');
      const none = promptOf(engine, request(0));
      assert.equal(none.context, undefined, 'budget 0: no context');
      for (const budget of [64, 160, 400]) {
        const p = promptOf(engine, request(budget));
        assert.ok(p.context, 'a context report');
        assert.ok(p.context.tokens <= budget, `${p.context.tokens} tokens within a budget of ${budget}`);
        assert.equal(p.ids.length - none.ids.length, p.context.tokens, 'the prompt grew by exactly the context tokens (the window is the same)');
        if (budget >= 160) assert.ok(p.context.chunks.length >= 1, `some chunk fits ${budget} tokens: ${JSON.stringify(p.context)}`);
        assert.ok(p.context.chunks.every((c) => c.path !== 'main.ts'), 'never the current file itself');
      }
    } finally {
      void engine.dispose();
    }
  });

  it('a chunk entering the ring lands next to the file, keeps the others in order, and PIE repositions the cache within its bound', async () => {
    const engine = new CompletionEngine({ model, ownsModel: false });
    try {
      openAll(engine);
      editIn(engine, 'cart.ts', 2, 'export class Cart', '// carts hold lines\n');
      const first = promptOf(engine, request(400));
      editIn(engine, 'inventory.ts', 2, 'export class Inventory', '// stock by sku\n');
      const second = promptOf(engine, request(400));
      const names = (p: Prompt): string[] => (p.context?.chunks ?? []).map((c) => `${c.source}:${c.path}`);
      const [before, now] = [names(first), names(second)];
      console.log(`ring before: ${before.join(', ')}; after: ${now.join(', ')}`);
      assert.ok(now.includes('edit:inventory.ts') && !before.includes('edit:inventory.ts'), 'the new edit entered the ring');
      assert.equal(now[now.length - 1], 'edit:inventory.ts', 'the newest chunk sits next to the file');
      const stayed = now.filter((n) => before.includes(n));
      assert.ok(stayed.length >= 1, 'some chunk stayed');
      assert.deepEqual(stayed, before.filter((n) => now.includes(n)), 'chunks that stayed keep their order');

      // The prompt cache after the ring change vs the same prompt computed in full.
      const cache = new PromptCache({ config: model.config, forward: (t, c, o) => model.session.forward(t, c, o) });
      try {
        await cache.prepare('main', first.ids);
        const pie = await cache.prepare('main', second.ids);
        assert.equal(pie.path, 'pie', `the ring change is repositioned: ${pie.reason}`);
        assert.ok(pie.keptTokens > first.ids.length / 2, `most of the old prompt is kept (${pie.keptTokens} of ${first.ids.length})`);
        assert.ok(pie.encodedTokens < second.ids.length / 2, `${pie.encodedTokens} of ${second.ids.length} tokens encoded`);
        const last = second.ids[second.ids.length - 1];
        const viaPie = await model.session.forward([last], pie.cache!);
        const full = await model.session.forward(second.ids, null);
        const stale = await model.session.forward(first.ids, null); // the old context: what PIE must beat
        const v = model.config.vocabSize;
        const fullLast = full.logits.subarray(full.logits.length - v);
        const klPie = klDivergence(fullLast, viaPie.logits.subarray(viaPie.logits.length - v));
        const klOld = klDivergence(fullLast, stale.logits.subarray(stale.logits.length - v));
        console.log(`ring change: KL(full ‖ PIE) ${klPie.toExponential(2)}, KL(full ‖ old prompt) ${klOld.toExponential(2)}; PIE ${pie.reason}`);
        assert.ok(klPie < 0.05, `PIE's next-token distribution is within 0.05 nats of full recomputation (${klPie})`);
        assert.ok(klPie < klOld, `and closer to it than the prompt before the change (${klPie} vs ${klOld})`);
        for (const r of [viaPie, full, stale]) r.cache.dispose();
      } finally {
        cache.dispose();
      }
    } finally {
      void engine.dispose();
    }
  });

  it('the engine reports the context and takes the PIE path when the ring changes between completions', async () => {
    const engine = new CompletionEngine({ model, ownsModel: false });
    try {
      openAll(engine);
      editIn(engine, 'cart.ts', 2, 'export class Cart', '// carts hold lines\n');
      const a = await engine.complete(request(400));
      assert.ok(a.context?.chunks.some((c) => c.source === 'edit' && c.path === 'cart.ts'), JSON.stringify(a.context));
      editIn(engine, 'inventory.ts', 2, 'export class Inventory', '// stock by sku\n');
      const b = await engine.complete(request(400));
      assert.ok(b.context?.chunks.some((c) => c.source === 'edit' && c.path === 'inventory.ts'), JSON.stringify(b.context));
      assert.equal(b.prompt.path, 'pie', b.prompt.reason);
      assert.ok(b.prompt.encodedTokens < b.promptTokens / 2, `${b.prompt.encodedTokens} of ${b.promptTokens} encoded`);
    } finally {
      void engine.dispose();
    }
  });

  it('declarations: only files inside the workspace are read, and an untrusted workspace reads nothing and asks no server', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-ctx-'));
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'typeguide-outside-'));
    try {
      fs.writeFileSync(path.join(root, 'ledger.ts'), 'export class Ledger {\n  post(amount: number): void;\n}\n');
      fs.writeFileSync(path.join(outside, 'secret.ts'), 'export const secret = 1;\n');
      fs.symlinkSync(path.join(outside, 'secret.ts'), path.join(root, 'link.ts'));
      const reads: Record<string, string | undefined> = {};
      const monitor = declarationsOnly((readFile) => {
        const out = [];
        for (const f of [path.join(root, 'ledger.ts'), path.join(outside, 'secret.ts'), path.join(root, 'link.ts')]) {
          const text = (reads[path.basename(f)] = readFile(pathToFileURL(f).href));
          if (text) out.push({ uri: pathToFileURL(f).href, name: path.basename(f), startLine: 0, endLine: text.split('\n').length - 1, text, rank: out.length });
        }
        return out;
      });
      const engine = new CompletionEngine({ model, monitor, ownsModel: false });
      try {
        const text = "import { Ledger } from './ledger';\nconst book = new Ledger();\nbook.";
        const req: EngineRequest = { file: path.join(root, 'main.ts'), languageId: 'typescript', prefix: text, suffix: '', workspaceRoot: root, maxTokens: 4, temperature: 0, monitor: false, context: { budgetTokens: 300, readFiles: false } };
        await engine.prepareContext(req);
        const untrusted = await engine.complete(req);
        assert.equal(monitor.calls, 0, 'no server asked in an untrusted workspace');
        assert.equal(untrusted.context?.chunks.length, 0);

        await engine.prepareContext({ ...req, context: { budgetTokens: 300, readFiles: true } });
        assert.equal(monitor.calls, 1);
        assert.match(reads['ledger.ts'] ?? '', /class Ledger/, 'a file inside the workspace is read');
        assert.equal(reads['secret.ts'], undefined, 'a file outside the workspace is never read');
        assert.equal(reads['link.ts'], undefined, 'nor one a link inside it points to');
        const trusted = await engine.complete({ ...req, context: { budgetTokens: 300, readFiles: true } });
        assert.deepEqual(trusted.context?.chunks.map((c) => [c.source, c.path]), [['declaration', 'ledger.ts']]);
      } finally {
        await engine.dispose();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('through the real TypeScript 7 server: the imported class\'s declarations reach the prompt, an unrelated file does not', async () => {
    const root = path.resolve(__dirname, '../../fixtures/language-monitor/context-project');
    const file = path.join(root, 'src', 'main.ts');
    const text = fs.readFileSync(file, 'utf8');
    const monitor = await MonitorService.create({ timeoutMs: 10_000 });
    const engine = new CompletionEngine({ model, monitor, ownsModel: false });
    try {
      // The editor has the unrelated file open too: only what main.ts imports is declared to it.
      engine.documents.open({ filePath: path.join(root, 'src', 'unrelated.ts'), languageId: 'typescript', version: 1, text: fs.readFileSync(path.join(root, 'src', 'unrelated.ts'), 'utf8'), workspaceRoot: root });
      const req: EngineRequest = { file, languageId: 'typescript', prefix: text, suffix: '', workspaceRoot: root, maxTokens: 6, temperature: 0, monitor: false, context: { budgetTokens: 400, readFiles: true } };
      await engine.prepareContext(req);
      const r = await engine.complete(req);
      const declared = (r.context?.chunks ?? []).filter((c) => c.source === 'declaration').map((c) => c.path);
      assert.equal(declared[0], 'src/ledger.ts', `Ledger (used nearest the cursor) comes first: ${JSON.stringify(r.context)}`);
      assert.ok(declared.every((p) => p === 'src/ledger.ts' || p === 'src/money.ts'), `declarations only from imported files: ${declared.join(', ')}`);
      assert.ok(!(r.context?.chunks ?? []).some((c) => c.path.includes('unrelated')), 'nothing from the unrelated file, though it is open');
      const prompt = promptOf(engine, req);
      const decoded = model.tokenizer.decode([...prompt.ids]);
      assert.match(decoded, /class Ledger/, 'the class header is in the prompt');
      assert.doesNotMatch(decoded, /ledger is full/, 'its method bodies are not');
    } finally {
      await engine.dispose();
    }
  });

  it('a warm-up encodes the file before it waits for the declarations, so a keystroke during the wait finds the cache warm', async () => {
    let answered = false;
    const slow = declarationsOnly(() => [{ uri: pathToFileURL(path.join(demo, 'cart.ts')).href, name: 'Cart', startLine: 0, endLine: 3, text: 'export class Cart {\n  add(sku: string, quantity?: number): boolean;\n}', rank: 0 }]);
    const inner = slow.declarations!.bind(slow);
    let asked: () => void = () => undefined;
    const askedOnce = new Promise<void>((r) => { asked = r; });
    slow.declarations = async (req) => {
      asked();
      // A language server still loading the project; an abort ends the wait (as LspSession's requests do).
      await new Promise<void>((r) => {
        const t = setTimeout(r, 400);
        req.signal?.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
      });
      if (req.signal?.aborted) return [];
      answered = true;
      return inner(req);
    };
    const engine = new CompletionEngine({ model, monitor: slow, ownsModel: false });
    try {
      openAll(engine);
      const req = request(300);
      const controller = new AbortController();
      const warming = engine.warmPrompt(req, controller.signal);
      await askedOnce;
      assert.equal(answered, false, 'the server has not answered yet');
      controller.abort(); // the user's keystroke arrives while the server is still busy
      assert.equal(await warming, false);
      const r = await engine.complete(req);
      assert.equal(r.prompt.path, 'reuse', `the window was encoded before the wait: ${r.prompt.reason}`);
      // Once the declarations are in, the next warm-up puts them before the file, repositioning it.
      await engine.warmPrompt(req);
      const again = await engine.complete(req);
      assert.equal(again.prompt.path, 'reuse', `the warm-up encoded the prompt with them: ${again.prompt.reason}`);
      assert.ok(again.context?.chunks.some((c) => c.source === 'declaration'), JSON.stringify(again.context));
    } finally {
      await engine.dispose();
    }
  });
});
