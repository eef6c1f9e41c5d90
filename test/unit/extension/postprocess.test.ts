import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  collect, completionFilters, dropLineSuffixOverlap, fromArray, isMidLine, isUseful, pipe, stopAtBlockEnd,
  stopAtLineEnd, stopAtRepeatedSuffix, trimTrailingWhitespace,
} from '../../../extension/completion/postprocess.js';

/** Streams `text` one character at a time, the worst case for filters that look across chunks. */
const chars = (text: string): AsyncIterable<string> => fromArray([...text]);
const run = (text: string, ...t: Parameters<typeof pipe>[1]): Promise<string> => collect(pipe(chars(text), t));

describe('postprocess filters', () => {
  it('stopAtLineEnd keeps only the first line', async () => {
    assert.equal(await run('foo(bar);\nnext();', stopAtLineEnd()), 'foo(bar);');
    assert.equal(await run('\nnext();', stopAtLineEnd()), '');
  });

  it('stopAtBlockEnd stops before a line that leaves the cursor block', async () => {
    const prefix = 'function f() {\n  const a = 1;\n  ';
    assert.equal(await run('return a;\n}\n\nfunction g() {}', stopAtBlockEnd(prefix)), 'return a;');
  });

  it('stopAtBlockEnd keeps the closing bracket of a block the completion opened, then stops', async () => {
    const prefix = 'class A {\n  m() ';
    const text = '{\n    return 1;\n  }\n  n() {\n    return 2;\n  }';
    assert.equal(await run(text, stopAtBlockEnd(prefix)), '{\n    return 1;\n  }');
  });

  it('stopAtBlockEnd stops before a comment that follows a blank line (the next section), not before one inside the code', async () => {
    const prefix = 'const acc = new Account();\nacc.';
    assert.equal(await run('balance.toFixed(2);\n\n/**\n * A suite of tests\n', stopAtBlockEnd(prefix)), 'balance.toFixed(2);');
    assert.equal(await run('deposit(1);\n// and again\nacc.deposit(2);', stopAtBlockEnd(prefix)), 'deposit(1);\n// and again\nacc.deposit(2);');
    const inBlock = 'function f() ';
    assert.equal(await run('{\n  a();\n\n  // then b\n  b();\n}', stopAtBlockEnd(inBlock)), '{\n  a();\n\n  // then b\n  b();\n}');
  });

  it('stopAtBlockEnd lets statements at the same level through', async () => {
    const prefix = 'function f() {\n  ';
    assert.equal(await run('a();\n  b();\n}', stopAtBlockEnd(prefix)), 'a();\n  b();');
  });

  it('stopAtRepeatedSuffix stops before re-generating the next line after the cursor', async () => {
    const suffix = '\n  return total;\n}';
    assert.equal(await run('total += x;\n  return total;\n}', stopAtRepeatedSuffix(suffix)), 'total += x;\n');
  });

  it('dropLineSuffixOverlap removes a re-typed closing text', async () => {
    assert.equal(await run('x, y)', dropLineSuffixOverlap(');\nrest')), 'x, y');
    assert.equal(await run('x, y', dropLineSuffixOverlap(');')), 'x, y');
    assert.equal(await run('a.b', dropLineSuffixOverlap('\nfoo')), 'a.b');
  });

  it('trimTrailingWhitespace never ends in blanks but keeps inner whitespace', async () => {
    assert.equal(await run('a  b \n\n ', trimTrailingWhitespace()), 'a  b');
  });

  it('chained filters stream: text is readable before the stream ends', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* source(): AsyncGenerator<string> {
      yield 'const x = ';
      await gate;
      yield '1;';
    }
    const it = pipe(source(), completionFilters('', '', false))[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.value, 'const x =');
    release();
    assert.equal(await collect({ [Symbol.asyncIterator]: () => it }), ' 1;');
  });

  it('isMidLine and isUseful', () => {
    assert.equal(isMidLine(')\nmore'), true);
    assert.equal(isMidLine('   \nmore'), false);
    assert.equal(isUseful('  ', ''), false);
    assert.equal(isUseful('foo()', '\n  foo();'), false, 'merely repeats the text after the cursor');
    assert.equal(isUseful('bar()', '\n  foo();'), true);
  });
});
