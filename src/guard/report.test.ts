import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeSloReport, type LifecycleSample } from './report.ts';

const ok = (setupS: number): LifecycleSample => ({ createdAtMs: 0, states: ['requested', 'provisioning', 'idle', 'busy', 'finished', 'removed'], busyAtMs: setupS * 1000 });
const failed: LifecycleSample = { createdAtMs: 0, states: ['requested', 'provisioning', 'failed', 'removed'], busyAtMs: null };

describe('computeSloReport', () => {
  it('meets seed 001 §11 with healthy samples', () => {
    const report = computeSloReport(Array.from({ length: 50 }, () => ok(30)), [{ queuedAtMs: 0, startedAtMs: 5000 }]);
    assert.equal(report.isMet, true);
    assert.deepEqual(report.criteria.map((c) => [c.name, c.value, c.samples]), [['lifecycleSuccessRate', 1, 50], ['queueWaitP95Seconds', 5, 1], ['setupLatencyP95Seconds', 30, 50]]);
  });

  it('misses the success rate below 98 %', () => {
    const report = computeSloReport([...Array.from({ length: 48 }, () => ok(10)), failed, failed], []);
    assert.equal(report.isMet, false);
    assert.deepEqual(report.criteria.filter((c) => !c.isMet).map((c) => [c.name, c.value]), [['lifecycleSuccessRate', 0.96]]);
  });

  it('misses p95 queue wait above 120 s and p95 setup above 180 s', () => {
    const jobs = Array.from({ length: 20 }, (_, i) => ({ queuedAtMs: 0, startedAtMs: (i < 18 ? 10 : 200) * 1000 }));
    const report = computeSloReport(Array.from({ length: 20 }, (_, i) => ok(i < 18 ? 60 : 400)), jobs);
    assert.deepEqual(report.criteria.filter((c) => !c.isMet).map((c) => c.name), ['queueWaitP95Seconds', 'setupLatencyP95Seconds']);
  });

  it('no samples cannot miss', () => {
    const report = computeSloReport([], []);
    assert.equal(report.isMet, true);
    assert.ok(report.criteria.every((c) => c.value === null));
  });

  it('routing correctness must be 100 %: one untrusted run on a self-hosted pool misses it', () => {
    assert.equal(computeSloReport([], [], undefined, { audited: 50, mismatches: 0 }).isMet, true);
    const report = computeSloReport([], [], undefined, { audited: 50, mismatches: 1 });
    assert.equal(report.isMet, false);
    assert.deepEqual(report.criteria.filter((c) => !c.isMet).map((c) => [c.name, c.value]), [['routingCorrectness', 0.98]]);
  });
});
