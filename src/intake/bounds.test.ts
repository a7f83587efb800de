import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { silentLogger, systemClock } from '../core/index.ts';
import { createGitHubClient, staticToken } from '../github/index.ts';
import { startSimulator, type Simulator } from '../sim/index.ts';
import { Store } from '../store/index.ts';
import { reviewOpenJobs } from './access-monitor.ts';
import { Poller } from './poller.ts';
import { RunnerAccess } from './runner-access.ts';
import { WebhookIntake } from './webhook-intake.ts';

const SECRET = 'bounds-webhook-secret-0123456789';
const LABELS = ['self-hosted', 'linux'];
const ORG_POOL = { name: 'linux', labels: LABELS, scope: { kind: 'org' as const, org: 'acme' }, runnerGroupId: 1 };

function payload(action: string, repo: { name: string; visibility?: string }, id = 42) {
  return {
    action,
    workflow_job: { id, run_id: 7, name: 'build', status: action, conclusion: null, labels: LABELS, runner_name: null, created_at: '2026-01-01T00:00:00Z', started_at: null, completed_at: null },
    repository: { name: repo.name, full_name: `acme/${repo.name}`, owner: { login: 'acme' }, ...(repo.visibility ? { visibility: repo.visibility, private: repo.visibility !== 'public' } : {}) },
  };
}

async function deliver(intake: WebhookIntake, body: unknown) {
  const raw = Buffer.from(JSON.stringify(body));
  return intake.handle({ deliveryId: randomUUID(), event: 'workflow_job', signature: await sign(SECRET, raw.toString()), rawBody: raw });
}

async function withSim(t: { after: (fn: () => Promise<void>) => void }): Promise<Simulator> {
  const sim = await startSimulator();
  t.after(() => sim.close());
  return sim;
}

function client(sim: Simulator) {
  return createGitHubClient({ baseUrl: sim.url, tokens: staticToken('ghp_bounds_test_token'), logger: silentLogger(), retryBaseMs: 1 });
}

describe('webhook intake: bounded, explicit', () => {
  it('a public repository\'s job for a pool whose group does not allow public repositories is unservable, with the reason, not demand', async (t) => {
    const sim = await withSim(t);
    const store = Store.open(':memory:');
    const access = new RunnerAccess({ github: client(sim), pools: [ORG_POOL], logger: silentLogger(), clock: systemClock });
    await access.refreshGroups();
    const intake = new WebhookIntake({ secret: SECRET, store, pools: [ORG_POOL], access, logger: silentLogger(), onChange: () => {} });
    assert.equal((await deliver(intake, payload('queued', { name: 'site', visibility: 'public' }))).status, 202);
    const job = store.getJob(42)!;
    assert.equal(job.pool, 'linux');
    assert.match(job.unservableReason ?? '', /runner group "Default" \(1\) does not allow public repositories, and acme\/site is public/);
    assert.equal(store.listTransitions().at(-1)?.toState, 'unservable');
    // A private repository's job is served.
    await deliver(intake, payload('queued', { name: 'app', visibility: 'private' }, 43));
    assert.equal(store.getJob(43)?.unservableReason, null);
  });

  it('a job asking for labels no pool has, but meant for self-hosted runners, is recorded unservable; GitHub-hosted ones are ignored', async () => {
    const store = Store.open(':memory:');
    const intake = new WebhookIntake({ secret: SECRET, store, pools: [ORG_POOL], logger: silentLogger(), onChange: () => {} });
    const gpu = { ...payload('queued', { name: 'app' }, 50), workflow_job: { ...payload('queued', { name: 'app' }).workflow_job, id: 50, labels: ['self-hosted', 'gpu'] } };
    await deliver(intake, gpu);
    assert.equal(store.getJob(50)?.pool, null);
    assert.match(store.getJob(50)?.unservableReason ?? '', /none carries gpu/);
    const hosted = { ...gpu, workflow_job: { ...gpu.workflow_job, id: 51, labels: ['ubuntu-latest'] } };
    assert.equal((await deliver(intake, hosted)).body.message, 'no pool serves these labels');
    assert.equal(store.getJob(51), undefined);
  });

  it('a waiting delivered after queued (reordered) does not drop the job from demand', async () => {
    const store = Store.open(':memory:');
    const intake = new WebhookIntake({ secret: SECRET, store, pools: [ORG_POOL], logger: silentLogger(), onChange: () => {} });
    await deliver(intake, payload('queued', { name: 'app' }));
    await deliver(intake, payload('waiting', { name: 'app' }));
    assert.equal(store.getJob(42)?.state, 'queued');
    // In order, waiting then queued, it goes forward as before.
    await deliver(intake, payload('waiting', { name: 'app' }, 60));
    await deliver(intake, payload('queued', { name: 'app' }, 60));
    assert.equal(store.getJob(60)?.state, 'queued');
  });

  it('a store that cannot write refuses the delivery with 503 and writes nothing (GitHub shows it failed)', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'jp-intake-full-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // SQLite's own page cap stands in for a full disk here (the runtime test mounts a real one).
    const store = Store.open(join(dir, 'jitpool.sqlite'), undefined, { maxPageCount: 30 });
    t.after(() => store.close());
    const intake = new WebhookIntake({ secret: SECRET, store, pools: [ORG_POOL], logger: silentLogger(), onChange: () => {} });
    return (async () => {
      let id = 1000;
      let last = await deliver(intake, payload('queued', { name: 'app' }, id));
      while (last.status === 202 && id < 5000) last = await deliver(intake, { ...payload('queued', { name: `app-${'x'.repeat(80)}-${id}` }, ++id) });
      assert.equal(last.status, 503);
      assert.equal(last.body.code, 'JP_STORE_UNAVAILABLE');
      assert.equal(store.getJob(id), undefined, 'nothing of the refused delivery was written');
      assert.equal(store.health().trouble, 'full');
    })();
  });
});

describe('poller: one bad repository or job never stops the others', () => {
  const repoPool = (repo: string) => ({ name: `p-${repo}`, labels: LABELS, scope: { kind: 'repo' as const, owner: 'acme', repo } });

  it('a job GitHub answers 404 for is retired, and the other vanished jobs are still read', async (t) => {
    const sim = await withSim(t);
    const store = Store.open(':memory:');
    const poller = new Poller({ github: client(sim), store, pools: [repoPool('app')], logger: silentLogger(), clock: systemClock, intervalMs: 1000, onChange: () => {} });
    const done = sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 1 });
    sim.cancelJob(done.id);
    const observation = (id: number, runId: number) => ({ id, runId, owner: 'acme', repo: 'app', name: 'j', labels: LABELS, state: 'queued' as const, conclusion: null, runnerName: null, queuedAtMs: Date.now() - 1000, startedAtMs: null, completedAtMs: null });
    store.observeJob(observation(5, 1), 'p-app', 'test');
    store.observeJob(observation(done.id, done.runId), 'p-app', 'test');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await poller.pollOnce();
    assert.equal(store.getJob(5)?.state, 'gone');
    assert.equal(store.getJob(done.id)?.state, 'completed');
  });

  it('a deleted repository: its jobs are retired, it is polled with a growing delay, the others every time', async (t) => {
    const sim = await withSim(t);
    const store = Store.open(':memory:');
    let nowMs = Date.now();
    const poller = new Poller({ github: client(sim), store, pools: [repoPool('app'), repoPool('gone')], logger: silentLogger(), clock: { now: () => nowMs }, intervalMs: 10_000, onChange: () => {} });
    const lost = sim.queueJob({ owner: 'acme', repo: 'gone', labels: LABELS, durationMs: 1 });
    await poller.pollOnce();
    assert.equal(store.getJob(lost.id)?.state, 'queued');
    sim.deleteRepository('acme', 'gone');
    await poller.pollOnce();
    assert.equal(store.getJob(lost.id)?.state, 'gone', 'retired when its repository answers 404');
    const fresh = sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 1 });
    const before = sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}/actions/runs'] ?? 0;
    nowMs += 5000;
    await poller.pollOnce();
    assert.equal(store.getJob(fresh.id)?.state, 'queued', 'the healthy repository is still polled');
    assert.equal((sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}/actions/runs'] ?? 0) - before, 2, 'only acme/app (queued + in_progress): acme/gone waits');
    nowMs += 10_000;
    const afterWait = sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}/actions/runs'] ?? 0;
    await poller.pollOnce();
    assert.ok((sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}/actions/runs'] ?? 0) - afterWait >= 3, 'tried again after its delay');
  });

  it('records pending jobs (held by a concurrency group) as not demand', async (t) => {
    const sim = await withSim(t);
    const store = Store.open(':memory:');
    const github = client(sim);
    const original = github.listRunJobs.bind(github);
    github.listRunJobs = async (owner, repo, runId) => {
      const result = await original(owner, repo, runId);
      return { ...result, items: result.items.map((job) => ({ ...job, status: 'pending' as const })) };
    };
    const poller = new Poller({ github, store, pools: [repoPool('app')], logger: silentLogger(), clock: systemClock, intervalMs: 1000, onChange: () => {} });
    const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 1 });
    await poller.pollOnce();
    assert.equal(store.getJob(job.id)?.state, 'waiting');
  });

  it('against a server that keeps sending rel="next", a poll costs a few requests, not thousands', { timeout: 120_000 }, async (t) => {
    const sim = await withSim(t);
    sim.setFaults({ api: { endlessPagesRate: 1 } });
    const store = Store.open(':memory:');
    const poller = new Poller({ github: client(sim), store, pools: [repoPool('app')], logger: silentLogger(), clock: systemClock, intervalMs: 1000, onChange: () => {} });
    const first = sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 1 });
    sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 1, runId: first.runId });
    sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 1 });
    const result = await poller.pollOnce();
    t.diagnostic(`requests: ${result.requests}`);
    assert.equal(store.listOpenJobs().length, 3);
    assert.ok(result.requests <= 10, `${result.requests} requests`);
  });
});

describe('runner-group access review', () => {
  it('jobs recorded before the group was read become unservable once it is; widening the selection makes them servable again', async (t) => {
    const sim = await withSim(t);
    const group = sim.createRunnerGroup({ name: 'deploy', visibility: 'selected', selectedRepositories: ['acme/app'] });
    const pool = { ...ORG_POOL, runnerGroupId: group.id };
    const store = Store.open(':memory:');
    const access = new RunnerAccess({ github: client(sim), pools: [pool], logger: silentLogger(), clock: systemClock, groupTtlMs: 0 });
    const intake = new WebhookIntake({ secret: SECRET, store, pools: [pool], access, logger: silentLogger(), onChange: () => {} });
    await deliver(intake, payload('queued', { name: 'site', visibility: 'private' }, 70));
    assert.equal(store.getJob(70)?.unservableReason, null, 'group not read yet: assumed to serve');
    await access.refreshGroups();
    assert.equal(await reviewOpenJobs(store, access), 1);
    assert.match(store.getJob(70)?.unservableReason ?? '', /limited to selected repositories, and acme\/site is not one of them/);
    sim.setRunnerGroupRepositories(group.id, ['acme/app', 'acme/site']);
    await access.refreshGroups();
    assert.equal(await reviewOpenJobs(store, access), 1);
    assert.equal(store.getJob(70)?.unservableReason, null);
    assert.deepEqual(store.listTransitions().filter((tr) => tr.entityId === '70').map((tr) => tr.toState), ['queued', 'unservable', 'servable']);
  });
});
