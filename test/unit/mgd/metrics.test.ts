import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../bench/mgd/completer.js';
import { firstLine, identifiers, introducedErrors, lex, lineScores, matchScores, pairedBootstrap, spliceLine } from '../../../bench/mgd/metrics.js';

void describe('mgd metrics: lexing and identifiers', () => {
  void it('lexes TypeScript tokens without trivia', () => {
    assert.deepEqual(lex('get(id) // note').map((t) => t.text), ['get', '(', 'id', ')']);
  });

  void it('takes a #private name as an identifier, also first in the text', () => {
    assert.deepEqual(identifiers('#entries.push(item)'), ['#entries', 'push', 'item']);
    assert.equal(matchScores('#entries.length;', '#entries.push(item);').nim, 1);
  });

  void it('treats member names spelled like keywords as identifiers, but not reserved words elsewhere', () => {
    assert.deepEqual(identifiers('delete(key) ? this.default : null'), ['delete', 'key', 'default']);
    assert.deepEqual(identifiers('then((x) => x as Foo)'), ['then', 'x', 'x', 'Foo']);
  });
});

void describe('mgd metrics: NIM, ISM, PM', () => {
  const truth = 'addStockItem(item);';

  void it('scores the authors\' own completion as a full match', () => {
    assert.deepEqual(matchScores(truth, truth), { nim: 1, ism: 1, pm: 1 });
  });

  void it('scores a wrong first identifier as no match on every measure', () => {
    assert.deepEqual(matchScores('addItem(item);', truth), { nim: 0, ism: 0, pm: 0 });
  });

  void it('gives partial credit for a matching prefix', () => {
    // identifiers: [addStockItem, item] vs [addStockItem, other]; tokens: 5 in the truth, 2 shared.
    const s = matchScores('addStockItem(other);', truth);
    assert.equal(s.nim, 1);
    assert.equal(s.ism, 1 / 2);
    assert.equal(s.pm, 2 / 5);
  });

  void it('only scores the first line of the generation, ignoring trailing whitespace', () => {
    assert.equal(firstLine('foo()\nbar()'), 'foo()');
    assert.deepEqual(matchScores('addStockItem(item);   \n  warehouse.clear();', truth), { nim: 1, ism: 1, pm: 1 });
  });

  void it('scores an empty generation as zero', () => {
    assert.deepEqual(matchScores('', truth), { nim: 0, ism: 0, pm: 0 });
  });
});

void describe('mgd metrics: splice and bootstrap', () => {
  void it('replaces the rest of the site line, keeping the following lines', () => {
    const text = 'a.foo(1);\nb();\n';
    assert.equal(spliceLine(text, 2, text.indexOf('\n'), 'bar(2);\nzzz'), 'a.bar(2);\nb();\n');
  });

  void it('gives a zero-width interval when both arms agree and a positive one when "with" always wins', () => {
    const same = pairedBootstrap([1, 0, 1, 0], [1, 0, 1, 0], 7);
    assert.deepEqual(same, { mean: 0, lo: 0, hi: 0 });
    const win = pairedBootstrap([0, 0, 0, 0], [1, 1, 1, 1], 7);
    assert.deepEqual(win, { mean: 1, lo: 1, hi: 1 });
  });

  void it('brackets the observed difference, is deterministic by seed, and pairs the arms', () => {
    const a = [0, 1, 0, 1, 0, 1, 0, 0, 1, 0];
    const b = [1, 1, 0, 1, 1, 1, 0, 1, 1, 0];
    const iv = pairedBootstrap(a, b, 3);
    assert.ok(Math.abs(iv.mean - 0.3) < 1e-12);
    assert.ok(iv.lo <= iv.mean && iv.mean <= iv.hi);
    assert.ok(iv.lo >= 0, 'with never loses a site, so no resample can show a negative difference');
    assert.deepEqual(pairedBootstrap(a, b, 3), iv);
    assert.throws(() => pairedBootstrap([1], [1, 0], 1));
  });
});

void describe('mgd metrics: introduced errors', () => {
  const a = "7 TS2322: Type 'string' is not assignable to type 'number'.";
  const b = "6 TS2551: Property 'toFixd' does not exist on type 'number'. Did you mean 'toFixed'?";

  void it('counts an error the baseline lacks even when another one vanished', () => {
    assert.deepEqual(introducedErrors([a], [b]), [b]);
    assert.deepEqual(introducedErrors([a], []), []);
    assert.deepEqual(introducedErrors([a, b], [b, a]), []);
  });

  void it('compares as a multiset: a second copy of a baseline error is new', () => {
    assert.deepEqual(introducedErrors([a], [a, a]), [a]);
    assert.deepEqual(introducedErrors([a, a], [a]), []);
  });
});

void describe('mgd metrics: EM and ES of the whole completed line', () => {
  const head = '  warehouse.';
  const truth = 'addStockItem(item);';

  void it('matches exactly the authors\' line, white space at the ends aside, and only that', () => {
    assert.deepEqual(lineScores(head, 'addStockItem(item);  \n  next();', truth), { em: 1, es: 1 });
    assert.equal(lineScores(head, 'addStockItem(item)', truth).em, 0);
  });

  void it('gives partial credit by edit distance over the whole line, the shared head included', () => {
    // '  warehouse.addStockItem(item)' vs '  warehouse.addStockItem(item);' trimmed: one deletion in 30 characters.
    assert.equal(lineScores(head, 'addStockItem(item)', truth).es, 1 - 1 / 'warehouse.addStockItem(item);'.length);
    const wrong = lineScores(head, 'totalQuantity();', truth);
    assert.ok(wrong.es > 0 && wrong.es < lineScores(head, 'addStockItm(item);', truth).es, 'a typo is nearer than another member');
    assert.equal(lineScores('', '', 'x;').es, 0);
  });
});

void describe('mgd configurations', () => {
  void it('names a prompt mode with or without project context', () => {
    assert.deepEqual(parseConfig('fim'), { name: 'fim', mode: 'fim', context: false });
    assert.deepEqual(parseConfig('fim+context'), { name: 'fim+context', mode: 'fim', context: true });
    assert.deepEqual(parseConfig('left+context'), { name: 'left+context', mode: 'left', context: true });
  });
});
