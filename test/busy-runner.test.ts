import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEGRADED_AFTER_FAILURES } from '../src/controller/index.ts';
import { startHarness, until, type Harness } from './helpers/harness.ts';

// Issue 13: the ways jitpool killed busy runners when GitHub, the store or the provider behaved
// less nicely than the simulator's defaults. Each test reproduces one of them; the promise is the
// same everywhere: a runner that may be running a job is never destroyed (job timeout aside).

const LABELS = ['self-hosted', 'linux'];
const NO_IN_PROGRESS_WEBHOOK = { webhooksByAction: { in_progress: { dropRate: 1 } } };
/** Neither the poller nor the registration sync runs again after startup: only the teardown's own call to GitHub can tell. */
const QUIET_GITHUB = { poll: { backstopIntervalSeconds: 3600 }, controller: { githubSyncIntervalSeconds: 3600 } };

function jobsOk(h: Harness): void {
  const jobs = h.sim.jobs();
  assert.ok(jobs.length > 0);
  assert.deepEqual(jobs.map((job) => job.conclusion), jobs.map(() => 'success'), 'every job succeeded on its runner');
  const stats = h.sim.stats();
  assert.equal(stats.busyRunnersKilled, 0, 'no busy runner lost its heartbeat (killed mid-job)');
  assert.equal(stats.busyRunnersDeleted, 0, 'no busy registration was deleted');
}

describe('never kill a busy runner', { timeout: 180_000 }, () => {
  it('boot timeout: a runner the provider never saw online but GitHub reports busy keeps running its job', async (t) => {
    const h = await startHarness({
      reportsOnline: false,
      pool: { bootTimeoutSeconds: 2, max: 1 },
      simOptions: { faults: NO_IN_PROGRESS_WEBHOOK },
      config: QUIET_GITHUB,
    });
    t.after(() => h.close());
    h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 6000 });
    await until(() => h.sim.jobs()[0]?.status === 'in_progress', 'the job started');
    await until(() => h.sim.jobs()[0]?.status === 'completed', 'the job completed', 60_000);
    jobsOk(h);
    const [runner] = h.runtime.store.listRunners();
    const transitions = h.runtime.store.listTransitions({ entityId: runner!.id });
    assert.ok(transitions.some((tr) => tr.toState === 'busy'), 'GitHub refusing the deregistration made it busy');
  });

  it('a GitHub runner list slower than the sync interval judges no new runner vanished', async (t) => {
    const h = await startHarness({
      pool: { max: 4 },
      simOptions: { faults: { apiByEndpoint: { 'GET /orgs/{org}/actions/runners': { latencyMs: 2500 } } } },
      config: { controller: { githubSyncIntervalSeconds: 1 } },
    });
    t.after(() => h.close());
    for (let i = 0; i < 6; i += 1) h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 4000 });
    await until(() => h.sim.jobs().every((job) => job.status === 'completed'), 'all jobs completed', 90_000);
    jobsOk(h);
    const lost = h.runtime.store.listTransitions({ limit: 10_000 }).filter((tr) => tr.entity === 'runner' && tr.toState === 'lost');
    assert.deepEqual(lost.map((tr) => tr.reason), [], 'no runner was judged lost');
  });

  it('a store wiped while three runners are busy: their compute is adopted and the jobs finish', async (t) => {
    const h = await startHarness({ pool: { max: 3 }, config: { controller: { ghostMinAgeSeconds: 600 } } });
    t.after(() => h.close());
    for (let i = 0; i < 3; i += 1) h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 8000 });
    await until(() => h.sim.jobs().filter((job) => job.status === 'in_progress').length === 3, 'three jobs running');
    await h.restart({ wipeStore: true });
    await until(() => h.sim.jobs().every((job) => job.status === 'completed'), 'all jobs completed', 60_000);
    jobsOk(h);
    await until(() => h.runtime.store.listLiveRunners().length === 0 && h.sim.runners().length === 0, 'everything cleaned up after the jobs');
    const adopted = h.runtime.store.listTransitions({ limit: 10_000 }).filter((tr) => tr.entity === 'runner' && tr.fromState === null);
    assert.ok(adopted.length >= 3, 'the new store re-created a row for each running runner');
  });

  it('scale-down of a runner whose registration id is unknown (an adopt whose look-up missed) asks GitHub first', async (t) => {
    const h = await startHarness({ pool: { minIdle: 1, max: 2 }, webhooks: false, config: { poll: { enabled: false }, controller: { githubSyncIntervalSeconds: 3600 } } });
    t.after(() => h.close());
    await until(() => h.runtime.store.listLiveRunners().some((r) => r.state === 'idle'), 'a warm idle runner');
    const [runner] = h.runtime.store.listLiveRunners();
    h.runtime.store.updateRunner(runner!.id, { githubRunnerId: null }, 'test', 'as after an adopt whose look-up by name missed');
    // GitHub gives the idle runner a job; nothing tells the controller.
    const job = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 4000 });
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 'the job started');
    h.runtime.store.setPoolOverride({ pool: 'linux', minIdle: 0, max: 2, target: 0, actor: 'test' });
    h.runtime.controller.kick('test');
    await until(() => h.runtime.store.getRunner(runner!.id).state === 'busy', 'GitHub refused: the runner is busy');
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'completed', 'the job completed', 30_000);
    jobsOk(h);
  });

  it('a runner whose compute exited while its exit code could not be seen is cleaned up as lost (not retried forever)', async (t) => {
    const h = await startHarness({ runFakeRunners: false, pool: { max: 1, bootTimeoutSeconds: 600 } });
    t.after(() => h.close());
    h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 200 });
    await until(async () => (await h.provider.list()).some((c) => c.state === 'running'), 'a runner launched');
    const [compute] = await h.provider.list();
    h.provider.exit(compute!.computeId, null);
    await until(() => h.runtime.store.findRunnerByName(compute!.runnerName)?.state === 'removed', 'the runner removed');
    const states = h.runtime.store.listTransitions({ entityId: compute!.runnerId }).map((tr) => tr.toState);
    assert.ok(states.includes('lost'), states.join(' '));
    assert.equal(h.runtime.controller.health.linux?.consecutiveFailures ?? 0, 0, 'an unknown outcome is not a launch failure');
  });

  it('acts on the runner exit code: 3 and 4 (self-update) are not launch failures, 7 degrades the pool at once naming runner.version', async (t) => {
    const h = await startHarness({ runFakeRunners: false, pool: { max: 1, bootTimeoutSeconds: 600 } });
    t.after(() => h.close());
    h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 200 });
    const exitNext = async (code: number) => {
      const before = h.runtime.store.listRunners({ states: ['removed'] }).length;
      await until(async () => (await h.provider.list()).some((c) => c.state === 'running'), 'a runner launched');
      const [compute] = (await h.provider.list()).filter((c) => c.state === 'running');
      h.provider.exit(compute!.computeId, code);
      await until(() => h.runtime.store.listRunners({ states: ['removed'] }).length > before, `the runner that exited ${code} was cleaned up`);
    };
    for (const code of [3, 4, 3, 4]) await exitNext(code);
    assert.equal(h.runtime.controller.health.linux?.consecutiveFailures ?? 0, 0, 'self-updates are not counted as failures');
    await exitNext(7);
    const health = h.runtime.controller.health.linux;
    assert.ok((health?.consecutiveFailures ?? 0) >= DEGRADED_AFTER_FAILURES, 'exit 7 marks the pool degraded at once');
    assert.match(health?.lastError ?? '', /refused by GitHub; set runner\.version/);
    assert.ok(h.runtime.store.listTransitions({ limit: 10_000 }).some((tr) => tr.entity === 'pool' && tr.toState === 'degraded'));
  });
});
