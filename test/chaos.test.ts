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

// The same in scale-set mode: no webhooks, no poller; a killed controller leaves its message session
// (deleted by the next start, or expiring) and its undeleted messages are delivered again.
describe('chaos in scale-set mode: kill -9 loses nothing and kills no busy runner', { timeout: 600_000 }, () => {
  it('completes every job on its runner, nothing leaked, never above max', async () => {
    const report = await runChaos({ kills: 10, jobs: 100, seed: 12, intake: 'scale-set' });
    assert.equal(report.jobs.submitted, 100);
    assert.ok(isChaosClean(report), JSON.stringify(report));
    assert.ok(report.actionsServiceCalls.total > 0, 'the scale-set protocol was spoken');
  });
});
