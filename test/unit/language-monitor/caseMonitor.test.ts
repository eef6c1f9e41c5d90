import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hoverTypeName } from '../../../language-monitor/monitors.js';

void test('hoverTypeName reads a plain type name from either server\'s hover text', () => {
  assert.equal(hoverTypeName('(parameter) shade: Shade'), 'Shade');
  assert.equal(hoverTypeName('\n```typescript\n(parameter) shade: Shade\n```\n'), 'Shade');
  assert.equal(hoverTypeName('const s: ns.Shade'), 'ns.Shade');
  assert.equal(hoverTypeName('(property) Box.shade?: Shade'), 'Shade');
  assert.equal(hoverTypeName('(parameter) s: string'), undefined, 'primitives have no members to list');
  assert.equal(hoverTypeName("(parameter) m: 'a' | 'b'"), undefined);
  assert.equal(hoverTypeName('(parameter) m: Map<string, number>'), undefined);
  assert.equal(hoverTypeName('no type here'), undefined);
});
