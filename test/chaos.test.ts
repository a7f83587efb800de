import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isChaosClean, runChaos } from '../bench/chaos.ts';

// The controller process is SIGKILLed at 20 random moments of a 200-job workload and restarted,
// while every list endpoint of the simulated GitHub answers slowly (1.5 s, longer than a sync).
describe('chaos: kill -9 with a slow GitHub loses nothing and kills no busy runner', { timeout: 600_000 }, () => {
  it('completes every job on its runner, no leaked compute or registration, never above max (counted from compute)', async () => {
    const report = await runChaos({ kills: 20, jobs: 200, seed: 11, listLatencyMs: 1500 });
    assert.equal(report.jobs.submitted, 200);
    assert.ok(isChaosClean(report), JSON.stringify(report));
  });
});
