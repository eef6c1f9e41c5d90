// The engine's idle trim: glibc's malloc_trim through koffi really hands freed heap pages back, and the
// scheduler calls it only once the engine is idle, once per idle period.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { IdleTrim, mallocTrim } from '../../../engine/memoryTrim.js';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mallocTrim (glibc through koffi)', { skip: process.platform !== 'linux' }, () => {
  it('gives back the pages of freed blocks in the middle of the heap, which free() alone keeps', () => {
    assert.ok(mallocTrim(), 'koffi and glibc load on Linux');
    // In a child with the collector exposed (so that the freed blocks are really freed): 96 KiB blocks
    // stay below glibc's mmap threshold and live in the heap; every other one is dropped and collected,
    // leaving holes that free() cannot return, as the KV arrays of finished generations do.
    const script = `
      const fs = require('node:fs');
      const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      const { mallocTrim } = require(${JSON.stringify(require.resolve('../../../engine/memoryTrim.ts'))});
      const blocks = [];
      for (let i = 0; i < 1200; i++) { const b = Buffer.alloc(96 * 1024 + 64 * (i % 7), 1); blocks.push(b); }
      for (let i = 0; i < blocks.length; i += 2) blocks[i] = null;
      global.gc(); global.gc();
      const before = rss();
      const trimmed = mallocTrim()();
      const after = rss();
      process.stdout.write(JSON.stringify({ before, after, trimmed, live: blocks[1][100] }));`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { before: number; after: number; trimmed: boolean; live: number };
    assert.ok(out.before - out.after >= 20, `RSS ${out.before.toFixed(0)} → ${out.after.toFixed(0)} MiB: ~56 MiB of holes should go back`);
    assert.equal(out.live, 1, 'live blocks are untouched');
  });
});

/** An IdleTrim whose trim only counts its calls. */
function counting(delayMs: number): { idle: IdleTrim; calls: () => number } {
  let n = 0;
  return { idle: new IdleTrim(() => ++n > 0, delayMs), calls: () => n };
}

describe('IdleTrim', () => {
  it('trims once after the last request ends and the delay passes, never while one is in flight', async () => {
    const { idle, calls } = counting(40);
    idle.begin();
    idle.begin();
    idle.end();
    await wait(80);
    assert.equal(calls(), 0, 'a request is still in flight');
    idle.end();
    await wait(20);
    assert.equal(calls(), 0, 'not before the delay');
    await wait(60);
    assert.equal(calls(), 1);
    await wait(80);
    assert.equal(calls(), 1, 'once per idle period');
    assert.equal(idle.trims, 1);
    idle.dispose();
  });

  it('a request that starts during the delay puts the trim off until it ends', async () => {
    const { idle, calls } = counting(40);
    idle.begin();
    idle.end();
    await wait(20);
    idle.begin();
    await wait(60);
    assert.equal(calls(), 0);
    idle.end();
    await wait(70);
    assert.equal(calls(), 1);
    idle.dispose();
  });

  it('does nothing without malloc_trim, and dispose cancels a pending trim', async () => {
    const none = new IdleTrim(null, 10);
    none.begin();
    none.end();
    assert.equal(none.enabled, false);
    assert.equal(none.fire(), false);
    const { idle, calls } = counting(20);
    idle.begin();
    idle.end();
    idle.dispose();
    await wait(50);
    assert.equal(calls(), 0);
  });
});
