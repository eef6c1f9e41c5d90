import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { needsModel, testModelDir } from '../model/testModel.js';

const repo = path.resolve(__dirname, '../../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-cli-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const source = 'interface Point { x: number; y: number }\r\nconst p: Point = { x: 1, y: 2 };\r\nconsole.log(p.);\r\n';
const at = () => `${source.split('\r\n').findIndex((l) => l.includes('p.)')) + 1}:${'console.log(p.'.length + 1}`;
const file = path.join(dir, 'sample.ts');
fs.writeFileSync(file, source);

function complete(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'cli/complete.ts'), ...args], { cwd: repo, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run complete', { skip: needsModel }, () => {
  it('--json prints the completion and its numbers', () => {
    const r = complete('--file', file, '--at', at(), '--model', testModelDir, '--max-tokens', '6', '--json', '--monitor', 'off');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const k of ['completion', 'tokens', 'promptTokens', 'msFirstToken', 'msTotal', 'model']) assert.ok(k in out, k);
    assert.equal(typeof out.completion, 'string');
    assert.ok((out.tokens as number) <= 6);
    assert.ok((out.promptTokens as number) > 10);
    assert.equal(out.model, testModelDir);
    assert.equal(out.monitor, null);
  });

  it('--monitor on (the default) asks the TypeScript server at the default bound: every trigger in --json, only members of the receiver', () => {
    const r = complete('--file', file, '--at', at(), '--model', testModelDir, '--max-tokens', '6', '--json');
    assert.equal(r.code, 0, r.stderr);
    type Trigger = { kind: string; candidates: number; ms: number | null; outcome: string };
    const out = JSON.parse(r.stdout) as { completion: string; monitor: { languageId: string; triggers: Trigger[]; maskedSteps: number; changed: number; forcedTokens: number } };
    assert.ok(out.monitor, 'the monitor report is printed');
    assert.equal(out.monitor.languageId, 'typescript');
    // `console.log(p.|`: the list console.log( opened is watched too, but takes any number of
    // arguments (`...data`), so it constrains nothing and is not reported.
    assert.ok(!out.monitor.triggers.some((t) => t.kind === 'arguments'), JSON.stringify(out.monitor.triggers));
    const first = out.monitor.triggers[0];
    assert.ok(first, 'the `p.` dereference triggers');
    assert.equal(first.kind, 'dereference');
    assert.equal(first.outcome, 'constrained', JSON.stringify(out.monitor.triggers));
    assert.ok(first.candidates >= 1 && typeof first.ms === 'number');
    for (const k of ['maskedSteps', 'changed', 'forcedTokens'] as const) assert.equal(typeof out.monitor[k], 'number');
    const name = /^[\p{ID_Continue}$]*/u.exec(out.completion)![0];
    assert.ok(name === '' || name === 'x' || name === 'y', `${JSON.stringify(out.completion)} names a member of Point`);
  });

  it('--monitor and --heal take on|off only', () => {
    const r = complete('--file', file, '--at', at(), '--model', testModelDir, '--monitor', 'maybe');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: --monitor: expected on or off/m);
  });

  it('a position past the end is one clear error line and exit code 1', () => {
    const r = complete('--file', file, '--at', '40:1', '--model', testModelDir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: position: line 40 is past the end of the document/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('a non-UTF-8 file and a bad model folder are clear errors', () => {
    const bin = path.join(dir, 'bin.ts');
    fs.writeFileSync(bin, Buffer.from([0xc3, 0x28, 0x61]));
    const a = complete('--file', bin, '--at', '1:1', '--model', testModelDir);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /bin\.ts: is not UTF-8/);
    const b = complete('--file', file, '--at', '1:1', '--model', dir);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /config\.json: cannot read/);
  });
});

interface DemoSide { completion: string; identifier: string; member: boolean | null; tokens: number; msTotal: number; monitor?: { triggers: { kind: string; outcome: string }[] } }
interface DemoRow { path: string; encodedTokens: number; promptTokens: number; readyMs: number; completion: string }

describe('npm run demo', { skip: needsModel }, () => {
  it('completes every site without and with the monitor, then replays keystrokes with and without PIE', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'cli/demo.ts'), '--model', testModelDir, '--max-tokens', '8', '--json'], { cwd: repo, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      results: { at: string; linePrefix: string; members: number; without: DemoSide; with: DemoSide }[];
      keystrokes: { keys: string; pie: { encodedTokens: number; rows: DemoRow[] }; noPie: { encodedTokens: number; rows: DemoRow[] } };
    };
    assert.ok(out.results.length >= 5);
    assert.ok(out.results.every((x) => x.linePrefix.endsWith('.')), 'obj. dereference sites');
    for (const x of out.results) {
      assert.match(x.at, /^\w+\.ts:\d+:\d+$/);
      assert.ok(x.members > 0, `${x.at}: the server lists the receiver's members`);
      for (const side of [x.without, x.with]) assert.ok(side.tokens <= 8 && !side.completion.includes('\n'));
      const triggers = x.with.monitor!.triggers;
      assert.ok(triggers.length >= 1 && triggers[0].outcome === 'constrained', `${x.at}: the monitor constrained at the default bound: ${JSON.stringify(triggers)}`);
      assert.ok(x.with.identifier === '' || x.with.member === true, `${x.at}: monitored ${JSON.stringify(x.with.completion)} names a real member`);
      assert.equal(typeof x.without.member, 'boolean', 'membership is checked against the server list');
    }
    const { keys, pie, noPie } = out.keystrokes;
    assert.equal(pie.rows.length, keys.length + 1, 'one completion on open, then one per keystroke');
    assert.equal(noPie.rows.length, pie.rows.length);
    assert.ok(pie.rows.slice(1).every((x) => x.path === 'pie' || x.path === 'reuse'), pie.rows.map((x) => x.path).join());
    assert.ok(noPie.rows.slice(1).every((x) => x.path !== 'pie'));
    assert.ok(pie.encodedTokens < noPie.encodedTokens, `${pie.encodedTokens} < ${noPie.encodedTokens}`);
    for (let i = 0; i < pie.rows.length; i++) assert.equal(pie.rows[i].promptTokens, noPie.rows[i].promptTokens, 'same prompts either way');
  });
});
