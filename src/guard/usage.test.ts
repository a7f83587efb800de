import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/index.ts';
import { Store } from '../store/index.ts';
import { computeUsage } from './usage.ts';

const MINUTE = 60_000;

describe('computeUsage: runner-minutes, idle share, launches per job', () => {
  it('counts each runner from requested to removed, its busy span, and attributes it to its job\'s repository', () => {
    const clock = new ManualClock();
    const store = Store.open(':memory:', clock);
    store.observeJob({ id: 7, runId: 1, owner: 'acme', repo: 'app', name: 'build', labels: ['linux'], state: 'queued', conclusion: null, runnerName: null, queuedAtMs: clock.now(), startedAtMs: null, completedAtMs: null }, 'linux', 'test');
    // a1: 1 min boot, 4 min busy with job 7, removed 1 min later: 6 runner-minutes, 4 busy.
    store.insertRunner({ id: 'a1', name: 'jp-linux-a1', pool: 'linux', labels: [] }, 'test');
    clock.advance(MINUTE);
    store.updateRunner('a1', { state: 'provisioning' }, 'test');
    store.updateRunner('a1', { state: 'busy', jobId: 7 }, 'test');
    clock.advance(4 * MINUTE);
    store.updateRunner('a1', { state: 'finished' }, 'test');
    clock.advance(MINUTE);
    store.updateRunner('a1', { state: 'removed' }, 'test');
    // b1: a warm runner idle for 4 minutes, never a job; still alive at "now".
    store.insertRunner({ id: 'b1', name: 'jp-gpu-b1', pool: 'gpu', labels: [] }, 'test');
    store.updateRunner('b1', { state: 'provisioning' }, 'test');
    store.updateRunner('b1', { state: 'idle' }, 'test');
    clock.advance(4 * MINUTE);

    const usage = computeUsage(store, 50, clock.now());
    assert.equal(usage.runners, 2);
    assert.equal(usage.jobsRun, 1);
    assert.equal(usage.launchesPerJob, 2);
    assert.deepEqual(usage.byPool.linux, { runners: 1, runnerMinutes: 6, busyMinutes: 4, idleShare: 0.333 });
    assert.deepEqual(usage.byPool.gpu, { runners: 1, runnerMinutes: 4, busyMinutes: 0, idleShare: 1 });
    assert.deepEqual(usage.byRepository['acme/app'], { runners: 1, runnerMinutes: 6, busyMinutes: 4, idleShare: 0.333 });
    assert.equal(usage.byRepository['(no job)']?.runnerMinutes, 4);
    assert.deepEqual(usage.total, { runners: 2, runnerMinutes: 10, busyMinutes: 4, idleShare: 0.6 });
    store.close();
  });

  it('an empty store reports no figures, not zeros divided by zero', () => {
    const store = Store.open(':memory:');
    const usage = computeUsage(store, 50, Date.now());
    assert.equal(usage.launchesPerJob, null);
    assert.equal(usage.total.idleShare, null);
    store.close();
  });
});
