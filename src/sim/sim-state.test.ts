import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isJitpoolError, silentLogger } from '../core/index.ts';
import { SimState, type RunnerRecord } from './sim-state.ts';
import type { SimJob, SimScope } from './types.ts';

const ORG: SimScope = { kind: 'org', org: 'acme' };

function onlineRunner(state: SimState, name: string, labels: string[], scope: SimScope = ORG, groupId = 1): RunnerRecord {
  const runner = state.registerRunner({ name, scope, groupId, labels });
  state.markOnline(runner);
  return runner;
}

test('a runner takes another job than the one it was created for (labels ⊇, case-insensitive)', () => {
  const state = new SimState(silentLogger());
  const jobA = state.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'Linux', 'GPU'], durationMs: 1 });
  const jobB = state.queueJob({ owner: 'acme', repo: 'api', labels: ['self-hosted', 'linux'], durationMs: 1 });
  // Launched "for" job B, but job A is older and this runner also covers it.
  const runner = onlineRunner(state, 'for-b', ['SELF-HOSTED', 'linux', 'gpu', 'x64']);
  assert.equal(jobA.status, 'in_progress');
  assert.equal(jobA.runnerId, runner.id);
  assert.equal(jobB.status, 'queued');
  assert.equal(runner.isBusy, true);
});

test('a runner whose labels do not cover the job is not assigned', () => {
  const state = new SimState(silentLogger());
  const runner = onlineRunner(state, 'small', ['self-hosted', 'linux']);
  const job = state.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux', 'gpu'], durationMs: 1 });
  assert.equal(job.status, 'queued');
  assert.equal(runner.isBusy, false);
});

test('a repo-scoped runner serves only its repo; an org runner serves the org; the enterprise serves all', () => {
  const state = new SimState(silentLogger());
  const repoRunner = onlineRunner(state, 'repo-only', ['self-hosted'], { kind: 'repo', owner: 'acme', repo: 'app' });
  const other = state.queueJob({ owner: 'acme', repo: 'api', labels: ['self-hosted'], durationMs: 1 });
  assert.equal(other.status, 'queued');
  const own = state.queueJob({ owner: 'ACME', repo: 'App', labels: ['self-hosted'], durationMs: 1 });
  assert.equal(own.runnerId, repoRunner.id);

  const foreign = state.queueJob({ owner: 'globex', repo: 'site', labels: ['self-hosted'], durationMs: 1 });
  onlineRunner(state, 'acme-org', ['self-hosted'], ORG);
  assert.equal(other.status, 'in_progress');
  assert.equal(foreign.status, 'queued');
  const enterprise = onlineRunner(state, 'ent', ['self-hosted'], { kind: 'enterprise', enterprise: 'corp' });
  assert.equal(foreign.runnerId, enterprise.id);
});

test('oldest queued job first; a job restricted to a group waits for that group', () => {
  const state = new SimState(silentLogger());
  const grouped = state.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1, runnerGroupId: 7 });
  const first = state.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1 });
  const second = state.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1 });
  onlineRunner(state, 'default-group', ['linux']);
  assert.equal(grouped.status, 'queued');
  assert.equal(first.status, 'in_progress');
  assert.equal(second.status, 'queued');
  const groupRunner = onlineRunner(state, 'group-7', ['linux'], ORG, 7);
  assert.equal(grouped.runnerId, groupRunner.id);
  assert.equal(grouped.runnerGroupId, 7);
});

test('completion removes the ephemeral registration; job events follow queued → in_progress → completed', () => {
  const state = new SimState(silentLogger());
  const events: Array<[number, string, string | null]> = [];
  state.on('job', (job: SimJob) => events.push([job.id, job.status, job.conclusion]));
  const job = state.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1 });
  const runner = onlineRunner(state, 'r', ['linux']);
  assert.throws(() => state.deleteRunner(runner.id), (err) => isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY'));
  state.completeJob(runner, job.id, 'success');
  assert.deepEqual(events, [
    [job.id, 'queued', null],
    [job.id, 'in_progress', null],
    [job.id, 'completed', 'success'],
  ]);
  assert.equal(state.runner(runner.id), undefined);
  const run = state.run(job.runId);
  assert.ok(run);
  assert.deepEqual(state.runStatus(run), { status: 'completed', conclusion: 'success' });
});

test('heartbeat loss: idle runner goes offline; a busy one fails its job', () => {
  const state = new SimState(silentLogger());
  const t0 = Date.now();
  const idle = onlineRunner(state, 'idle', ['a']);
  const busy = onlineRunner(state, 'busy', ['b']);
  const job = state.queueJob({ owner: 'acme', repo: 'app', labels: ['b'], durationMs: 1 });
  state.sweep(10_000, t0 + 5_000);
  assert.equal(idle.status, 'online');
  state.sweep(10_000, t0 + 20_000);
  assert.equal(idle.status, 'offline');
  assert.equal(busy.status, 'offline');
  assert.equal(busy.isBusy, false);
  assert.equal(job.status, 'completed');
  assert.equal(job.conclusion, 'failure');
  // An offline runner is not assigned work.
  const next = state.queueJob({ owner: 'acme', repo: 'app', labels: ['a'], durationMs: 1 });
  assert.equal(next.status, 'queued');
  // Until it is heard from again.
  state.touch(idle);
  assert.equal(next.runnerId, idle.id);
});

test('cancelling: a queued job completes as cancelled; an in-progress one when its runner reports', () => {
  const state = new SimState(silentLogger());
  const queued = state.queueJob({ owner: 'acme', repo: 'app', labels: ['x'], durationMs: 1 });
  state.cancelJob(queued.id);
  assert.equal(queued.status, 'completed');
  assert.equal(queued.conclusion, 'cancelled');
  const running = state.queueJob({ owner: 'acme', repo: 'app', labels: ['x'], durationMs: 1 });
  const runner = onlineRunner(state, 'r', ['x']);
  state.cancelJob(running.id);
  assert.equal(running.status, 'in_progress');
  state.completeJob(runner, running.id, 'success');
  assert.equal(running.conclusion, 'cancelled');
});

test('an acquire long poll receives a job assigned while it waits, and ends when the registration goes', async () => {
  const state = new SimState(silentLogger());
  const runner = onlineRunner(state, 'r', ['x']);
  const never = new AbortController().signal;
  const pending = state.acquire(runner, 30_000, never);
  assert.equal(state.isPolling(runner), true);
  const job = state.queueJob({ owner: 'acme', repo: 'app', labels: ['x'], durationMs: 1 });
  const outcome = await pending;
  assert.equal(outcome.kind, 'job');
  assert.equal(outcome.kind === 'job' ? outcome.job.id : 0, job.id);

  const idle = onlineRunner(state, 'idle', ['y']);
  const waiting = state.acquire(idle, 30_000, never);
  state.deleteRunner(idle.id);
  assert.deepEqual(await waiting, { kind: 'gone' });
  assert.equal((await state.acquire(onlineRunner(state, 'short', ['z']), 10, never)).kind, 'none');
});
