import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HfTokenizer } from '../../../model/tokenizer.js';
import { needsModel, sampleCode, testModelDir } from './testModel.js';

describe('HfTokenizer on the shipped tokenizer', { skip: needsModel }, () => {
  const tok = () => HfTokenizer.fromDir(testModelDir);

  it('round-trips real code with unicode, CRLF and tabs exactly', () => {
    const t = tok();
    const ids = t.encode(sampleCode);
    assert.ok(ids.length > 20 && ids.length < sampleCode.length);
    assert.equal(t.decode(ids), sampleCode);
  });

  it('keeps literal special-token text in source as ordinary tokens', () => {
    const t = tok();
    const ids = t.encode(sampleCode);
    assert.ok(t.specialIds.size > 0);
    assert.ok(ids.every((id) => !t.specialIds.has(id)), 'no special id inside source text');
  });

  it('token bytes concatenate to the UTF-8 bytes of the text, even inside multi-byte characters', () => {
    const t = tok();
    const ids = t.encode(sampleCode);
    const bytes = Buffer.concat(ids.map((id) => t.tokenBytes(id)));
    assert.deepEqual(bytes, Buffer.from(sampleCode, 'utf8'));
  });

  it('has the FIM markers and an EOS token', () => {
    const t = tok();
    assert.notEqual(t.eosId, undefined);
    for (const m of ['<fim_prefix>', '<fim_suffix>', '<fim_middle>']) assert.notEqual(t.specialTokenId(m), undefined, m);
    assert.equal(t.decode([]), '');
    assert.deepEqual(t.encode(''), []);
  });
});
