import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../src/core/index.ts';
import { createGitHubClient, createScaleSetClient, staticToken } from '../src/github/index.ts';
import { startHarness, until, type HarnessOptions } from './helpers/harness.ts';

const LABELS = ['self-hosted', 'linux'];
const TIMEOUT_MS = 60_000;

/** A harness whose one pool is in scale-set mode: no webhooks, no poller; GitHub assigns jobs to the set. */
function startScaleSetHarness(options: HarnessOptions = {}) {
  return startHarness({
    webhooks: false,
    ...options,
    simOptions: { scaleSets: { messagePollMs: 1000 }, ...options.simOptions },
    config: { poll: { enabled: false }, ...options.config },
    pool: { intake: { mode: 'scale-set' }, ...options.pool },
  });
}

describe('intake.mode: scale-set against the simulator', { timeout: 180_000 }, () => {
  it('registers the set with the pool labels, runs the jobs GitHub assigns it within max, and leaves nothing behind', async (t) => {
    const h = await startScaleSetHarness({ pool: { max: 2 } });
    t.after(() => h.close());
    await until(() => h.sim.scaleSets().length === 1 && h.sim.scaleSets()[0]!.sessions.length === 1, 'set registered, session open');
    const [set] = h.sim.scaleSets();
    assert.equal(set?.name, 'jp-linux');
    assert.deepEqual(set?.labels, ['self-hosted', 'linux', 'jitpool-test']);
    const other = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'gpu'], durationMs: 100 });
    const jobs = Array.from({ length: 5 }, () => h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 300 }));
    await until(() => jobs.every((job) => h.sim.jobs().find((j) => j.id === job.id)?.status === 'completed'), 'all set jobs completed', TIMEOUT_MS);
    await until(() => h.runtime.store.listLiveRunners().length === 0, 'runners removed', TIMEOUT_MS);
    assert.ok(jobs.every((job) => h.sim.jobs().find((j) => j.id === job.id)?.conclusion === 'success'));
    assert.equal(h.sim.jobs().find((j) => j.id === other.id)?.status, 'queued', 'a job the set does not serve is left alone');
    const stats = h.sim.stats();
    assert.ok((stats.maxConcurrentRunners.byNamePrefix['jp-linux-'] ?? 0) <= 2, 'never above max');
    assert.equal(stats.busyRunnersDeleted, 0);
    assert.equal(stats.busyRunnersKilled, 0);
    // The jobs were recorded from JobStarted / JobCompleted, under their runner request ids.
    const recorded = h.runtime.store.listJobs({ pool: 'linux' });
    assert.equal(recorded.filter((job) => job.state === 'completed' && job.conclusion === 'success').length, 5);
    assert.equal(h.sim.scaleSets()[0]?.undeletedMessages, 0, 'every message was deleted');
    assert.equal(h.sim.scaleSets()[0]?.maxCapacity, 2, 'the poll carries the pool max');
  });

  it('keeps minIdle warm beyond the assigned jobs and deletes its session on shutdown, so a restart does not conflict', async (t) => {
    const h = await startScaleSetHarness({ pool: { minIdle: 1, max: 3 } });
    t.after(() => h.close());
    await until(() => h.runtime.store.listLiveRunners().some((r) => r.state === 'idle'), 'a warm idle runner');
    const job = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 300 });
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'completed', 'job ran');
    await until(() => h.runtime.store.listLiveRunners().filter((r) => r.state === 'idle').length === 1, 'minIdle restored');
    const before = h.sim.scaleSets()[0]!;
    await h.restart();
    await until(() => (h.sim.scaleSets()[0]?.sessions.length ?? 0) === 1, 'a new session after the restart');
    assert.equal(h.sim.scaleSets().length, 1, 'the same set is found again, not a second one');
    assert.equal(h.sim.scaleSets()[0]?.id, before.id);
    assert.notEqual(h.sim.scaleSets()[0]?.sessions[0]?.sessionId, before.sessions[0]?.sessionId);
    await h.runtime.scaleSets?.stop();
    assert.equal(h.sim.scaleSets()[0]?.sessions.length, 0, 'session deleted on shutdown');
  });

  it('after a crash, deletes the session it left behind (409 conflict) and takes over at once', async (t) => {
    const h = await startScaleSetHarness();
    t.after(() => h.close());
    await until(() => (h.sim.scaleSets()[0]?.sessions.length ?? 0) === 1, 'session open');
    await h.runtime.scaleSets?.stop();
    // A crash: the session is still open on GitHub's side and jitpool's memory names it.
    const github = createGitHubClient({ baseUrl: h.sim.url, tokens: staticToken('ghp_test_crash_0123'), logger: silentLogger(), retries: 0 });
    const client = createScaleSetClient({ apiUrl: h.sim.url, scope: { kind: 'org', org: 'acme' }, github, logger: silentLogger() });
    const setId = h.sim.scaleSets()[0]!.id;
    const leftBehind = await client.createSession(setId, 'crashed-host');
    writeFileSync(join(h.stateDir, 'scale-sets.json'), JSON.stringify({ linux: { scaleSetId: setId, sessionId: leftBehind.sessionId } }), { mode: 0o600 });
    await h.restart();
    await until(() => h.sim.scaleSets()[0]?.sessions.some((s) => s.sessionId !== leftBehind.sessionId) ?? false, 'a new session replaced the stale one');
    const job = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 200 });
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'completed', 'job ran after the takeover', TIMEOUT_MS);
  });

  it('re-creates a set deleted on GitHub\'s side, and a job queued again is still run', async (t) => {
    const h = await startScaleSetHarness();
    t.after(() => h.close());
    await until(() => (h.sim.scaleSets()[0]?.sessions.length ?? 0) === 1, 'session open');
    const first = h.sim.scaleSets()[0]!.id;
    assert.equal(h.sim.deleteScaleSet(first), true);
    await until(() => h.sim.scaleSets().length === 1 && h.sim.scaleSets()[0]!.id !== first && h.sim.scaleSets()[0]!.sessions.length === 1, 'set re-created with a session', TIMEOUT_MS);
    assert.equal(h.runtime.scaleSets?.status()[0]?.scaleSetsRecreated, 1);
    const job = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 200 });
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'completed', 'job ran on the new set', TIMEOUT_MS);
  });

  it('an expired queue token is refreshed; a cancelled job completes as cancelled and its runner is cleaned up', async (t) => {
    const h = await startScaleSetHarness();
    t.after(() => h.close());
    await until(() => (h.sim.scaleSets()[0]?.sessions.length ?? 0) === 1, 'session open');
    h.sim.expireScaleSetQueueTokens();
    const job = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 20_000 });
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 'job started after the refresh', TIMEOUT_MS);
    await until(() => h.runtime.store.listLiveRunners().some((r) => r.state === 'busy'), 'runner busy from JobStarted');
    h.sim.cancelJob(job.id);
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.conclusion === 'cancelled', 'job cancelled', TIMEOUT_MS);
    await until(() => h.runtime.store.listJobs({ pool: 'linux' }).some((j) => j.state === 'completed' && j.conclusion === 'cancelled'), 'JobCompleted canceled recorded');
    await until(() => h.runtime.store.listLiveRunners().length === 0, 'runner cleaned up', TIMEOUT_MS);
    assert.equal(h.sim.stats().busyRunnersDeleted, 0);
  });

  it('never kills a set runner that took a job while being scaled down: JobStillRunningException keeps it busy', async (t) => {
    // Polls answer 3 s late and GitHub's runner list is not read, so the controller still thinks the
    // runner idle when it took the job: only the Actions service's refusal can save it.
    const h = await startScaleSetHarness({
      pool: { minIdle: 1 },
      config: { poll: { enabled: false }, controller: { githubSyncIntervalSeconds: 3600 } },
      simOptions: { scaleSets: { messagePollMs: 1000 }, faults: { apiByEndpoint: { 'GET /broker/sessions/{sessionId}/messages': { latencyMs: 3000 } } } },
    });
    t.after(() => h.close());
    await until(() => h.runtime.store.listLiveRunners().some((r) => r.state === 'idle'), 'a warm idle runner', TIMEOUT_MS);
    const [runner] = h.runtime.store.listLiveRunners().filter((r) => r.state === 'idle');
    const job = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 4000 });
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 'job started', TIMEOUT_MS);
    assert.equal(h.runtime.store.getRunner(runner!.id).state, 'idle', 'the controller has not heard of the job yet');
    await assert.rejects(h.runtime.controller.removeRunner(runner!.id), (err: { code?: string }) => err.code === 'JP_RUNNER_BUSY');
    assert.equal(h.runtime.store.getRunner(runner!.id).state, 'busy');
    assert.ok((h.sim.stats().actionsService.byEndpoint['DELETE /_apis/distributedtask/pools/0/agents/{agentId}'] ?? 0) >= 1, 'asked the Actions service');
    assert.ok(!h.deletions.some((d) => d.computeId === runner!.computeId), 'its compute was not touched');
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'completed', 'job completed on the runner', TIMEOUT_MS);
    assert.equal(h.sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success');
    assert.equal(h.sim.stats().busyRunnersDeleted, 0);
    assert.equal(h.sim.stats().busyRunnersKilled, 0);
  });
});
