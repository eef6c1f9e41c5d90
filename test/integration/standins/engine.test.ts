// The one completion engine (prompt cache with PIE, monitor) on the stand-ins of the Hub's exports:
// each family and layout completes with FIM through the engine, an edit above the cursor takes PIE's
// path, prefix reuse gives exactly what full recomputation gives, and the monitor (TypeScript 7 server
// on the demo project) keeps the first identifier after `cart.` to a member Cart really has, through each
// family's own tokenizer (Qwen2's merges a dot with a name: `.get`, `.length`).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { itemIdentifier } from '../../../language-monitor/index.js';
import type { ModelVariant } from '../../../model/onnxSession.js';
import { completeAt, openEngine, prepareMonitor, type CliEngine } from '../../../cli/monitored.js';

const fixtures = path.resolve(__dirname, '../../fixtures/models');
const project = path.resolve(__dirname, '../../../cli/demo-project');
const mainFile = path.join(project, 'main.ts');
const mainText = fs.readFileSync(mainFile, 'utf8');
const cartText = fs.readFileSync(path.join(project, 'cart.ts'), 'utf8');

const cases: { fixture: string; variant: ModelVariant; exact: boolean }[] = [
  { fixture: 'qwen2', variant: 'default', exact: true },
  { fixture: 'qwen2', variant: 'q4', exact: true },
  { fixture: 'qwen2', variant: 'fp16', exact: false },
  { fixture: 'deepseek-coder', variant: 'default', exact: true },
  { fixture: 'deepseek-coder', variant: 'quantized', exact: false },
  { fixture: 'starcoder2', variant: 'default', exact: true },
  { fixture: 'starcoder2', variant: 'quantized', exact: false },
  { fixture: 'starcoder2-nopos', variant: 'default', exact: true },
  { fixture: 'gptj', variant: 'default', exact: true },
];

const leadingIdentifier = (text: string): string => /^[A-Za-z_$][\w$]*/.exec(text)?.[0] ?? '';

for (const c of cases) {
  describe(`engine on stand-in ${c.fixture} (${c.variant})`, () => {
    let cli: CliEngine;
    let members: Set<string>;
    before(async () => {
      cli = await openEngine({ modelDir: path.join(fixtures, c.fixture), variant: c.variant, threads: 1, monitor: true, monitorTimeoutMs: 10_000 });
      await prepareMonitor(cli.engine, mainFile, mainText);
      // What the server itself lists after `cart.` (the members a monitored completion may start with).
      const at = mainText.indexOf('cart.add(') + 'cart.'.length;
      const text = mainText.slice(0, at) + mainText.slice(mainText.indexOf('\n', at));
      const uri = pathToFileURL(mainFile).href;
      const session = cli.monitor!.sessionFor('typescript', uri)!;
      session.openDocument(uri, 'typescript', text);
      const before = text.slice(0, at);
      const answer = await session.completion(uri, { line: before.split('\n').length - 1, character: at - (before.lastIndexOf('\n') + 1) }, 10_000);
      assert.equal(answer.outcome, 'ok');
      members = new Set((answer.items ?? []).map(itemIdentifier).filter((x): x is string => !!x));
      assert.ok(members.has('add') && members.has('totalCents'), `Cart's members from the server: ${[...members].join(', ')}`);
    });
    after(() => cli?.dispose());

    it('completes with FIM; an edit above the cursor is served by PIE; prefix reuse equals full recomputation', async () => {
      const file = path.join(project, `standin-${c.fixture}-${c.variant}.ts`); // a cache key only: never written
      const at = cartText.indexOf('this.inventory.') + 'this.inventory.'.length;
      const options = { maxTokens: 6, temperature: 0, monitor: false, heal: false, stop: [] } as const;
      const first = await completeAt(cli.engine, { file, text: cartText, offset: at }, { ...options, cache: 'pie' });
      assert.match(first.format, c.fixture === 'gptj' ? /^plain$/ : /^fim:/);
      assert.equal(first.prompt.path, 'full');
      assert.equal(first.tokens.length, 6);
      // Insert a line near the top: everything after it moves.
      const top = cartText.indexOf('\n') + 1;
      const edited = cartText.slice(0, top) + '// edited\n' + cartText.slice(top);
      const offset = at + '// edited\n'.length;
      const second = await completeAt(cli.engine, { file, text: edited, offset }, { ...options, cache: 'pie' });
      assert.equal(second.prompt.path, 'pie', second.prompt.reason);
      assert.ok(second.prompt.rotatedTokens > 0);
      assert.ok(second.prompt.encodedTokens < second.promptTokens, `PIE encoded ${second.prompt.encodedTokens} of ${second.promptTokens}`);
      const prefix = await completeAt(cli.engine, { file: `${file}.prefix`, text: cartText, offset: at }, { ...options, cache: 'prefix' });
      const prefixAgain = await completeAt(cli.engine, { file: `${file}.prefix`, text: edited, offset }, { ...options, cache: 'prefix' });
      assert.equal(prefixAgain.prompt.path, 'prefix', prefixAgain.prompt.reason);
      const full = await completeAt(cli.engine, { file: `${file}.none`, text: edited, offset }, { ...options, cache: 'none' });
      assert.equal(prefix.tokens.length, 6);
      // int8/fp16 round differently when a prompt is encoded in other chunks: only float32/q4 are exact.
      if (c.exact) assert.deepEqual(prefixAgain.tokens, full.tokens);
    });

    it('with the monitor, the completion after `cart.` starts with a member of Cart', async () => {
      const at = mainText.indexOf('cart.add(') + 'cart.'.length;
      const text = mainText.slice(0, at) + mainText.slice(mainText.indexOf('\n', at));
      const r = await completeAt(cli.engine, { file: mainFile, text, offset: at }, { maxTokens: 8, temperature: 0, monitor: true, cache: 'none' });
      const report = r.monitor as { triggers: { outcome: string }[] } | undefined;
      assert.ok(report && report.triggers.length >= 1, 'the monitor took part');
      assert.equal(report.triggers[0].outcome, 'constrained');
      const id = leadingIdentifier(r.text);
      assert.ok(members.has(id), `completion ${JSON.stringify(r.text)} starts with ${JSON.stringify(id)}, not a member of Cart`);
    });

    it('project context: the declarations main.ts imports reach the prompt in the family\'s own format', async () => {
      const at = mainText.indexOf('cart.add(') + 'cart.'.length;
      const req = {
        file: mainFile, languageId: 'typescript', prefix: mainText.slice(0, at), suffix: mainText.slice(at), workspaceRoot: project,
        maxTokens: 4, temperature: 0, monitor: false, cache: 'none', context: { budgetTokens: 300, readFiles: true },
      } as const;
      await cli.engine.prepareContext(req);
      const prompt = cli.engine.promptFor(req);
      assert.deepEqual(prompt.context?.chunks.map((k) => `${k.source}:${k.path}`).sort(), ['declaration:cart.ts', 'declaration:inventory.ts']);
      const tok = cli.model.tokenizer;
      const text = tok.decode(prompt.ids);
      assert.match(text, /class Cart[\s\S]*totalCents\(\): number;/, 'Cart\'s signatures, bodies elided');
      const count = (t: string): number => prompt.ids.filter((id) => id === tok.tokenId(t)).length;
      if (c.fixture === 'qwen2') {
        assert.equal(prompt.ids[0], tok.tokenId('<|repo_name|>'), 'Qwen2.5-Coder\'s repository format starts the prompt');
        assert.equal(count('<|file_sep|>'), 3, 'one <|file_sep|> per chunk and one for the current file');
        assert.ok(prompt.ids.indexOf(tok.tokenId('<|fim_prefix|>')!) > prompt.ids.lastIndexOf(tok.tokenId('<|file_sep|>')!), 'the chunks come before the FIM markers');
      } else if (c.fixture.startsWith('starcoder2')) {
        assert.equal(prompt.ids[0], tok.tokenId('<repo_name>'));
        assert.equal(count('<file_sep>'), 3);
      } else {
        assert.match(text, /\/\/ cart\.ts\n/, 'a comment with the path before each chunk');
      }
      const r = await cli.engine.complete(req);
      assert.equal(r.context?.chunks.length, 2);
      assert.equal(r.promptTokens, prompt.ids.length);
    });
  });
}
