import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StopChecker } from '../../../model/stopRules.js';

const cut = (c: StopChecker, text: string) => {
  const at = c.check(text);
  return at === undefined ? undefined : text.slice(0, at);
};

describe('StopChecker', () => {
  it('endOfLine cuts at the first line break after content', () => {
    const c = new StopChecker([{ kind: 'endOfLine' }]);
    assert.equal(cut(c, 'length);\n  return'), 'length);');
    assert.equal(cut(c, 'a;\r\nb'), 'a;');
    assert.equal(cut(c, '\n  '), undefined, 'a leading line break alone does not end the completion');
    assert.equal(cut(c, '\n  foo();\nbar'), '\n  foo();');
    const midLine = new StopChecker([{ kind: 'endOfLine' }], '  const x = obj.');
    assert.equal(cut(midLine, '\nfoo'), '', 'after content on the cursor line a line break ends it at once');
    assert.equal(cut(midLine, 'size;\r\n'), 'size;');
  });

  it('strings cut at the earliest occurrence of any', () => {
    const c = new StopChecker([{ kind: 'strings', strings: ['\n\n', '```'] }]);
    assert.equal(cut(c, 'a\nb```c\n\nd'), 'a\nb');
    assert.equal(cut(c, 'a\nb'), undefined);
  });

  it('endOfBlock stops before a line that dedents below the cursor line', () => {
    const linePrefix = '    ';
    const c = new StopChecker([{ kind: 'endOfBlock' }], linePrefix);
    const text = 'return x;\n  }\n  other();\n';
    assert.equal(cut(c, text), 'return x;');
    assert.equal(cut(c, 'return x;\n\n    more();\n'), undefined, 'blank lines and equal indentation go on');
  });

  it('endOfBlock keeps the closing line of a block the cursor line opens', () => {
    const c = new StopChecker([{ kind: 'endOfBlock' }], '  if (ok) {');
    assert.equal(cut(c, '\n    run();\n  }\n  next();\n'), '\n    run();\n  }');
    assert.equal(cut(c, '\n    run();\n  '), undefined, 'an unfinished line does not end the block yet');
  });

  it('endOfBlock takes the reference from the first generated line when the cursor line is blank', () => {
    const c = new StopChecker([{ kind: 'endOfBlock' }], '');
    assert.equal(cut(c, '\tfoo();\n\tbar();\n}\n'), '\tfoo();\n\tbar();');
  });

  it('safeLength holds back what a rule may still cut', () => {
    const s = new StopChecker([{ kind: 'strings', strings: ['<END>'] }]);
    assert.equal(s.safeLength('abc<EN'), 3);
    assert.equal(s.safeLength('abc'), 3);
    const b = new StopChecker([{ kind: 'endOfBlock' }], '  ');
    assert.equal(b.safeLength('x();\n  y'), 4);
  });
});
