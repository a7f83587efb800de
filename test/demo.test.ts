import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runDemo, type DemoReport } from '../src/cli/demo.ts';

/** Every job ran to the end on its runner; no runner was killed while busy or judged lost. */
function assertNoJobHarmed(report: DemoReport): void {
  assert.equal(report.jobs.succeeded, report.jobs.submitted, JSON.stringify(report.jobs));
  assert.equal(report.jobs.failed, 0);
  assert.equal(report.runners.busyKilled, 0);
  assert.equal(report.runners.lost, 0);
}

// End to end on the real architecture: simulator, controller, process provider, fake runners.
describe('jitpool demo', { timeout: 240_000 }, () => {
  it('runs 120 jobs over three label sets: all complete, none lost, nothing leaked', async () => {
    const report = await runDemo({ jobs: 120, seed: 7, logLevel: 'error' });
    assert.equal(report.sandbox, 'bwrap', 'the demo runs its runners in the process sandbox');
    assert.equal(report.jobs.submitted, 120);
    assert.equal(report.jobs.completed, 120);
    assert.equal(report.jobs.lost, 0);
    assert.equal(report.runners.leaked, 0);
    assert.ok(report.runners.launched >= 1);
    assert.ok(report.apiCallsPerJob > 0);
    assert.equal(report.apiCalls.byEndpoint['POST /orgs/{org}/actions/runners/generate-jitconfig'], report.runners.launched);
    assertNoJobHarmed(report);
  });

  it('runs the workload with webhooks switched off: the poller alone finds every job', async () => {
    const report = await runDemo({ jobs: 40, seed: 3, logLevel: 'error', pollOnly: true, pollIntervalSeconds: 2 });
    assert.equal(report.jobs.completed, 40);
    assert.equal(report.jobs.lost, 0);
    assert.equal(report.runners.leaked, 0);
    assert.ok((report.apiCalls.byEndpoint['GET /repos/{owner}/{repo}/actions/runs'] ?? 0) > 0, 'the poller polled');
    assertNoJobHarmed(report);
  });

  it('with 30 % of webhook deliveries dropped, every job still completes (the poller finds them)', async (t) => {
    const progress: string[] = [];
    const report = await runDemo({ jobs: 60, seed: 5, logLevel: 'error', dropWebhooks: 0.3, keepState: true, onProgress: (line) => progress.push(line) });
    t.after(() => { if (report.stateDir) rmSync(report.stateDir, { recursive: true, force: true }); });
    assert.equal(report.jobs.completed, 60);
    assert.equal(report.jobs.lost, 0);
    assert.equal(report.runners.leaked, 0);
    assertNoJobHarmed(report);
    // The report says what the flags did, with the seed and the duration.
    assert.ok(report.faults.dropped > 0, JSON.stringify(report.faults));
    assert.ok(report.webhooks.isEnabled && report.webhooks.sent > 0);
    assert.equal(report.seed, 5);
    assert.ok(report.durationMs > 0);
    // --keep-state: the report names the directory, and the store is in it.
    assert.ok(report.stateDir && existsSync(join(report.stateDir, 'jitpool.sqlite')), report.stateDir);
    // The progress has a queued figure and ends on the state the report gives (not one job short).
    assert.ok(progress.length > 0 && progress.every((line) => / queued \d+ /.test(line)), progress.at(-1));
    assert.match(progress.at(-1)!, / submitted 60\/60 {2}queued 0 {2}running 0 {2}done 60 /);
  });

  it('under injected faults (10 % 5xx, a 429 burst, 200 ms latency) every job completes', async () => {
    const report = await runDemo({ jobs: 60, seed: 9, logLevel: 'error', faults: '5xx=0.1,429burst=1,latency=200ms' });
    assert.equal(report.jobs.completed, 60);
    assert.equal(report.jobs.lost, 0);
    assert.equal(report.runners.leaked, 0);
    assertNoJobHarmed(report);
  });

  it('in scale-set mode (GitHub assigns jobs to the pools\' sets; no webhooks), also under faults, every job completes', async () => {
    const report = await runDemo({ jobs: 60, seed: 9, logLevel: 'error', intake: 'scale-set', faults: '5xx=0.1,429burst=1,latency=200ms' });
    assert.equal(report.intake, 'scale-set');
    assert.equal(report.jobs.completed, 60);
    assert.equal(report.jobs.lost, 0);
    assert.equal(report.runners.leaked, 0);
    // Every runner was registered through its scale set (the count includes calls answered with an injected 5xx).
    assert.ok((report.actionsServiceCalls.byEndpoint['POST /_apis/runtime/runnerscalesets/{id}/generatejitconfig'] ?? 0) >= report.runners.launched);
    assert.equal(report.apiCalls.byEndpoint['POST /orgs/{org}/actions/runners/generate-jitconfig'], undefined, 'no runner registered through REST');
    assertNoJobHarmed(report);
  });
});
