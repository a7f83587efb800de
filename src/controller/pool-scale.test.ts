import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePoolScale } from './pool-scale.ts';

describe('resolvePoolScale', () => {
  const current = { minIdle: 1, max: 4 };
  const table: Array<{ name: string; request: Parameters<typeof resolvePoolScale>[1]; expect: ReturnType<typeof resolvePoolScale> }> = [
    { name: 'target inside [min, max] is kept', request: { min: 1, max: 4, target: 3 }, expect: { minIdle: 1, max: 4, target: 3, requestedTarget: 3, isClamped: false } },
    { name: 'target above max is clamped down', request: { min: 1, max: 4, target: 9 }, expect: { minIdle: 1, max: 4, target: 4, requestedTarget: 9, isClamped: true } },
    { name: 'target below min is clamped up', request: { min: 2, max: 4, target: 0 }, expect: { minIdle: 2, max: 4, target: 2, requestedTarget: 0, isClamped: true } },
    { name: 'no target means min', request: { min: 2, max: 5 }, expect: { minIdle: 2, max: 5, target: 2, requestedTarget: 2, isClamped: false } },
    { name: 'unset fields keep the current sizing', request: { target: 3 }, expect: { minIdle: 1, max: 4, target: 3, requestedTarget: 3, isClamped: false } },
    { name: 'a lower max alone pulls min down with it', request: { max: 1 }, expect: { minIdle: 1, max: 1, target: 1, requestedTarget: 1, isClamped: false } },
  ];
  for (const row of table) it(row.name, () => assert.deepEqual(resolvePoolScale(current, row.request), row.expect));

  it('refuses min > max and bad numbers, naming the field', () => {
    assert.throws(() => resolvePoolScale(current, { min: 5, max: 2 }), (err: { code: string; details: { field: string } }) => err.code === 'JP_INPUT_INVALID' && err.details.field === 'min');
    assert.throws(() => resolvePoolScale(current, { min: 6 }), (err: { details: { field: string } }) => err.details.field === 'min', 'min above the current max is refused, not max raised');
    assert.throws(() => resolvePoolScale(current, { max: 0 }), (err: { details: { field: string } }) => err.details.field === 'max');
    assert.throws(() => resolvePoolScale(current, { target: 1.5 }), (err: { details: { field: string } }) => err.details.field === 'target');
    assert.throws(() => resolvePoolScale(current, { min: -1 }), (err: { details: { field: string } }) => err.details.field === 'min');
  });
});
