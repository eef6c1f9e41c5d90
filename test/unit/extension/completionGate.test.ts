import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ACTIVATION_LANGUAGES, CompletionGate, effectiveLanguages, FailureNotices, modelLanguages, writeTarget } from '../../../extension/completion/completionGate.js';

describe('CompletionGate', () => {
  const ts = ['typescript', 'javascript'];
  it('snoozes for the given minutes and resumes by itself when the time has passed', () => {
    let now = 1_000_000;
    const gate = new CompletionGate(() => ({ enabled: true, languages: ts }), () => now);
    assert.ok(gate.allows('typescript'));
    const until = gate.snooze(15);
    assert.equal(until, now + 15 * 60_000);
    assert.deepEqual(gate.state(), { kind: 'snoozed', until });
    assert.ok(!gate.allows('typescript'));
    now += 15 * 60_000 - 1;
    assert.ok(!gate.allows('typescript'));
    now += 1;
    assert.ok(gate.allows('typescript'));
    assert.deepEqual(gate.state(), { kind: 'on' });
    gate.snooze(60);
    gate.resume();
    assert.ok(gate.allows('typescript'));
  });

  it('is off when switched off, and only for the configured languages', () => {
    let enabled = true;
    const gate = new CompletionGate(() => ({ enabled, languages: ts }));
    assert.ok(!gate.allows('python'));
    enabled = false;
    assert.deepEqual(gate.state(), { kind: 'off' });
    assert.ok(!gate.allows('typescript'));
  });

  it('keeps a snooze across a reload (the host persists snoozedUntil)', () => {
    const gate = new CompletionGate(() => ({ enabled: true, languages: ts }), () => 10, 5 * 60_000);
    assert.ok(!gate.allows('typescript'));
  });
});

describe('languages', () => {
  it('the built-in model completes TypeScript and JavaScript only: no Python by default', () => {
    assert.deepEqual(modelLanguages('typeguide-default'), ['typescript', 'typescriptreact', 'javascript', 'javascriptreact']);
    assert.ok(modelLanguages('qwen2.5-coder-0.5b').includes('python'));
    assert.deepEqual(effectiveLanguages(undefined, 'typeguide-default'), modelLanguages('typeguide-default'));
    assert.deepEqual(effectiveLanguages({ globalValue: ['python'] }, 'typeguide-default'), ['python']);
    assert.deepEqual(effectiveLanguages({ globalValue: ['python'], workspaceValue: ['go'] }, 'typeguide-default'), ['go']);
  });

  it('the manifest activates on the model languages only, and its default is the built-in model\'s', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
      activationEvents: string[]; contributes: { configuration: { properties: Record<string, { default?: unknown }> } };
    };
    assert.ok(!pkg.activationEvents.some((e) => e === '*' || e === 'onStartupFinished'), `${pkg.activationEvents.join(', ')}`);
    assert.deepEqual(pkg.activationEvents.filter((e) => e.startsWith('onLanguage:')).sort(), ACTIVATION_LANGUAGES.map((l) => `onLanguage:${l}`).sort());
    assert.deepEqual(pkg.contributes.configuration.properties['typeguide.languages'].default, modelLanguages('typeguide-default'));
  });
});

describe('writeTarget', () => {
  it('writes where the effective value is set: workspace over user, language-specific over plain', () => {
    assert.deepEqual(writeTarget(undefined), { scope: 'global', language: false });
    assert.deepEqual(writeTarget({ globalValue: true }), { scope: 'global', language: false });
    assert.deepEqual(writeTarget({ globalValue: true, workspaceValue: false }), { scope: 'workspace', language: false });
    assert.deepEqual(writeTarget({ workspaceValue: false, workspaceFolderValue: true }), { scope: 'workspaceFolder', language: false });
    assert.deepEqual(writeTarget({ workspaceValue: false, globalLanguageValue: true }), { scope: 'global', language: true });
    assert.deepEqual(writeTarget({ workspaceLanguageValue: false, globalLanguageValue: true }), { scope: 'workspace', language: true });
  });
});

describe('FailureNotices', () => {
  it('reports a failure once until it is cleared', () => {
    const notices = new FailureNotices();
    assert.ok(notices.first('no model'));
    assert.ok(!notices.first('no model'));
    assert.ok(notices.first('crash'));
    notices.clear('no model');
    assert.ok(notices.first('no model'));
    notices.clear();
    assert.ok(notices.first('crash'));
  });
});
