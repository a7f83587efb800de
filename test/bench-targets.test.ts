import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeBound, describeVerdict, judgeTargets } from '../bench/targets.ts';

describe('bench targets', () => {
  it('judges each figure against its bound; an unmeasured figure is n/a with its reason, never met', () => {
    const rows = judgeTargets([
      { id: 'a', figure: 'overhead', unit: 'ms', comparison: '<', bound: 20, measured: 35.2 },
      { id: 'b', figure: 'calls', unit: '', comparison: '<=', bound: 1.05, measured: 1.05 },
      { id: 'c', figure: 'ratio', unit: '×', comparison: '>=', bound: 50, measured: 18.6 },
      { id: 'd', figure: 'idle', unit: '', comparison: '=', bound: 0, measured: 0 },
      { id: 'e', figure: 'rss', unit: 'MB', comparison: '<', bound: 150, measured: { reason: 'not separable' } },
      { id: 'f', figure: 'nan', unit: '', comparison: '<', bound: 1, measured: Number.NaN },
    ]);
    assert.deepEqual(rows.map((row) => row.met), [false, true, false, true, null, null]);
    assert.deepEqual(rows.map(describeVerdict), ['MISSED', 'met', 'MISSED', 'met', 'n/a (not separable)', 'n/a (not measured in this run)']);
    assert.equal(rows[4]!.measured, null);
    assert.deepEqual(rows.map(describeBound), ['< 20 ms', '≤ 1.05', '≥ 50 ×', '= 0', '< 150 MB', '< 1']);
  });
});
