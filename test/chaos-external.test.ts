import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isChaosClean, runChaos } from '../bench/chaos.ts';
import { pidsWithArgv } from '../src/providers/process-test-helpers.ts';

// The controller is SIGKILLed mid-boot and mid-job while its runners run on the external provider
// (the example garm-protocol script): instances outlive it, the restarted controller finds them
// through ListInstances and its records, adopts or replaces them, and every job completes.
describe('chaos on the external provider: kill -9 loses nothing and kills no busy runner', { timeout: 600_000 }, () => {
  it('completes every job, leaks no instance or registration, never above max', async () => {
    const report = await runChaos({ kills: 6, jobs: 40, seed: 5, provider: 'external' });
    assert.equal(report.jobs.submitted, 40);
    assert.ok(isChaosClean(report), JSON.stringify(report));
    assert.deepEqual(pidsWithArgv('external-instances'), [], 'no instance process is left');
  });
});
