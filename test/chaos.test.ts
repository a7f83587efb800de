import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../bench/chaos.ts';

// The controller process is SIGKILLed at 20 random moments of a 200-job workload and restarted.
describe('chaos: kill -9 loses nothing and leaks nothing', { timeout: 480_000 }, () => {
  it('completes every job with no leaked compute or registration, never above max, no busy runner killed', async () => {
    const report = await runChaos({ kills: 20, jobs: 200, seed: 11 });
    assert.equal(report.jobs.submitted, 200);
    assert.equal(report.jobs.lost, 0, JSON.stringify(report));
    assert.equal(report.leaked.compute, 0, JSON.stringify(report));
    assert.equal(report.leaked.registrations, 0, JSON.stringify(report));
    assert.ok(report.maxConcurrent.seen <= report.maxConcurrent.limit, JSON.stringify(report));
    assert.equal(report.busyRunnersKilled, 0, JSON.stringify(report));
  });
});
