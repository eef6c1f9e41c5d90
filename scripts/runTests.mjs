#!/usr/bin/env node
// Runs every test file under test/unit and test/integration with Node's built-in runner (tsx loader).
// `npm test -- unit` or `npm test -- pie` narrows to files whose path contains the word.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function find(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : find(p);
    return /\.test\.ts$/.test(e.name) ? [p] : [];
  });
}
const filters = process.argv.slice(2);
const files = [...find('test/unit'), ...find('test/integration')].filter((f) => filters.every((w) => f.includes(w))).sort();
if (files.length === 0) { console.error('no test files matched'); process.exit(1); }
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files], { stdio: 'inherit', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } });
process.exit(res.status ?? 1);
