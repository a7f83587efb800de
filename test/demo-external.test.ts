import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runDemo } from '../src/cli/demo.ts';
import { pidsWithArgv } from '../src/providers/process-test-helpers.ts';

// End to end through garm's external-provider protocol: the controller runs the shipped example
// script (examples/external/local-runner.sh) for every runner; each instance calls the pool's
// metadata listener back with its token, fetches its registration and runs the fake runner.
describe('jitpool demo --provider external', { timeout: 300_000 }, () => {
  it('runs 30 jobs: all complete, none lost, nothing leaked, no instance process left', async () => {
    const report = await runDemo({ jobs: 30, seed: 11, logLevel: 'error', provider: 'external' });
    assert.equal(report.provider, 'external');
    assert.equal(report.jobs.completed, 30);
    assert.equal(report.jobs.succeeded, 30, JSON.stringify(report.jobs));
    assert.equal(report.jobs.lost, 0);
    assert.equal(report.runners.leaked, 0);
    assert.equal(report.runners.busyKilled, 0);
    assert.equal(report.runners.lost, 0);
    assert.deepEqual(pidsWithArgv('external-instances'), [], 'every instance was deleted with its processes');
  });
});
