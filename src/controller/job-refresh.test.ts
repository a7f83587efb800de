import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, silentLogger } from '../core/index.ts';
import { createGitHubClient, staticToken } from '../github/index.ts';
import type { ComputeInfo } from '../providers/index.ts';
import { startSimulator } from '../sim/index.ts';
import { Store, type JobRecord, type RunnerRecord } from '../store/index.ts';
import { MAX_REFRESHES_PER_POOL, dueJobRefreshes, jobStateOf, refreshDelayMs, refreshJob } from './job-refresh.ts';
import { plan, type Observed, type PoolPlanSpec } from './plan.ts';

const NOW = 1_000_000_000;
const POOL: PoolPlanSpec = { name: 'linux', labels: ['self-hosted', 'linux'], scope: { kind: 'org', org: 'acme' }, minIdle: 0, max: 3, bootTimeoutMs: 300_000, jobTimeoutMs: 7_200_000, idleGraceMs: 3_600_000 };

function job(id: number, patch: Partial<JobRecord> = {}): JobRecord {
  return {
    id, runId: id, owner: 'acme', repo: 'app', name: `job ${id}`, labels: ['self-hosted', 'linux'], state: 'queued', conclusion: null, pool: 'linux',
    runnerName: null, queuedAtMs: NOW - 600_000, startedAtMs: null, completedAtMs: null, updatedAtMs: NOW - 600_000, ...patch,
  };
}

const idle: RunnerRecord = {
  id: 'r1', name: 'jp-linux-r1', pool: 'linux', state: 'idle', labels: POOL.labels.slice(), githubRunnerId: 1, computeId: 'jp-linux-r1', jobId: null,
  createdAtMs: NOW - 10_000, updatedAtMs: NOW - 10_000, stateSinceMs: NOW - 10_000, exitCode: null, lastError: null, outputTail: null, version: 0, teardown: null,
};
const compute: ComputeInfo = { computeId: 'jp-linux-r1', runnerId: 'r1', runnerName: 'jp-linux-r1', pool: 'linux', controllerId: 't', state: 'running', exitCode: null, isOnline: true, createdAtMs: NOW };

function observed(openJobs: JobRecord[], patch: Partial<Observed> = {}): Observed {
  return {
    nowMs: NOW, controllerLabel: 'jitpool-t', pools: [POOL], runners: [idle], openJobs, compute: [compute], registrations: null, inFlight: new Set(),
    health: {}, staleJobMs: 60_000, ghostMinAgeMs: 600_000, ...patch,
  };
}

describe('planning job refreshes and demand', () => {
  const cases: Array<[string, JobRecord[], number, number]> = [
    // name, jobs, expected refreshes, expected launches
    ['a long-queued job next to an idle runner is re-read once it is stale', [job(1)], 1, 0],
    ['not before its persisted next refresh', [job(1, { refreshAttempts: 3, nextRefreshAtMs: NOW + 1 })], 0, 0],
    ['again once its next refresh is due', [job(1, { refreshAttempts: 3, nextRefreshAtMs: NOW })], 1, 0],
    ['a fresh job is not re-read', [job(1, { updatedAtMs: NOW - 1000 })], 0, 0],
    ['an unservable job is never re-read and never demand', [job(1, { unservableReason: 'runner group "Default" does not allow public repositories' }), job(2, { unservableReason: 'x' })], 0, 0],
    ['a few per pass however many are stale', Array.from({ length: 40 }, (_, i) => job(i + 1)), MAX_REFRESHES_PER_POOL, 2],
  ];
  for (const [name, jobs, refreshes, launches] of cases) {
    it(name, () => {
      const actions = plan(observed(jobs));
      assert.equal(actions.filter((a) => a.kind === 'refreshJob').length, refreshes);
      assert.equal(actions.filter((a) => a.kind === 'launch').length, launches);
    });
  }

  it('unservable jobs are not demand: the idle runner is scaled down, nothing is launched', () => {
    const actions = plan(observed([job(1, { unservableReason: 'no runner group serves acme/site' })], { pools: [{ ...POOL, idleGraceMs: 0 }] }));
    assert.deepEqual(actions.map((a) => a.kind), ['teardown']);
    assert.match((actions[0] as { reason: string }).reason, /idle beyond demand \(0 queued/);
  });

  it('the longest overdue jobs go first, round-robin across repositories', () => {
    const due = dueJobRefreshes([job(1, { nextRefreshAtMs: NOW - 10 }), job(2, { nextRefreshAtMs: NOW - 5000 }), job(3)], NOW, 60_000);
    assert.deepEqual(due.map((j) => j.id), [3, 2, 1]);
    const many = [...Array.from({ length: 30 }, (_, i) => job(i + 1, { repo: 'big' })), job(100, { repo: 'a' }), job(101, { repo: 'b' })];
    const picked = dueJobRefreshes(many, NOW, 60_000);
    assert.equal(picked.length, MAX_REFRESHES_PER_POOL);
    assert.deepEqual(picked.slice(0, 3).map((j) => j.repo).sort(), ['a', 'b', 'big']);
  });

  it('the delay grows from one minute to a cap of thirty', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map((n) => refreshDelayMs(n) / 60_000), [1, 2, 4, 8, 16, 30, 30, 30]);
  });

  it('pending (a concurrency group) is not queued; requested is', () => {
    assert.equal(jobStateOf('pending'), 'waiting');
    assert.equal(jobStateOf('requested'), 'queued');
    assert.equal(jobStateOf('in_progress'), 'in_progress');
  });
});

describe('refreshJob against the simulator', () => {
  it('persists the next attempt before the call; a 404 retires the job, and the whole repository when it is gone (one lookup)', { timeout: 60_000 }, async (t) => {
    const sim = await startSimulator();
    t.after(() => sim.close());
    const clock = new ManualClock(NOW);
    const store = Store.open(':memory:', clock);
    const github = createGitHubClient({ baseUrl: sim.url, tokens: staticToken('ghp_refresh_test_token'), logger: silentLogger(), retryBaseMs: 1 });
    const deps = { store, github, clock, logger: silentLogger() };
    const record = (id: number, repo: string, runId = id) => store.observeJob({ ...job(id, { repo, runId }) }, 'linux', 'test');

    const queued = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'gpu'], durationMs: 1 });
    record(queued.id, 'app', queued.runId);
    await refreshJob(deps, { jobId: queued.id, owner: 'acme', repo: 'app' });
    assert.equal(store.getJob(queued.id)?.state, 'queued');
    assert.equal(store.getJob(queued.id)?.refreshAttempts, 1);
    assert.equal(store.getJob(queued.id)?.nextRefreshAtMs, NOW + 60_000);

    // A job whose run was deleted: only it is retired.
    sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted'], durationMs: 1 });
    record(77, 'app');
    await refreshJob(deps, { jobId: 77, owner: 'acme', repo: 'app' });
    assert.equal(store.getJob(77)?.state, 'gone');
    assert.equal(store.getJob(queued.id)?.state, 'queued');

    // A deleted repository: every open job of it is retired, with one repository lookup.
    const lost = [sim.queueJob({ owner: 'acme', repo: 'gone', labels: ['self-hosted'], durationMs: 1 }), sim.queueJob({ owner: 'acme', repo: 'gone', labels: ['self-hosted'], durationMs: 1 })];
    for (const j of lost) record(j.id, 'gone', j.runId);
    sim.deleteRepository('acme', 'gone');
    await Promise.all(lost.map((j) => refreshJob(deps, { jobId: j.id, owner: 'acme', repo: 'gone' })));
    for (const j of lost) assert.equal(store.getJob(j.id)?.state, 'gone');
    assert.equal(sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}'], 2, 'one lookup for acme/app (exists), one for acme/gone');
    const gone = store.listTransitions().filter((tr) => tr.toState === 'gone');
    assert.equal(gone.length, 3);
    assert.match(gone.at(-1)!.reason ?? '', /repository acme\/gone not found/);
    // Retired jobs are never refreshed again.
    await refreshJob(deps, { jobId: lost[0]!.id, owner: 'acme', repo: 'gone' });
    assert.equal(sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}/actions/jobs/{job_id}'], 4);
  });
});
