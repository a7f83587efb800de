import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, silentLogger, systemClock } from '../core/index.ts';
import { createGitHubClient, staticToken } from '../github/index.ts';
import { startSimulator } from '../sim/index.ts';
import { Store } from '../store/index.ts';
import { Poller } from './poller.ts';

const POOLS = [
  { name: 'linux', labels: ['self-hosted', 'linux'], scope: { kind: 'org' as const, org: 'acme' } },
  { name: 'solo', labels: ['self-hosted', 'solo'], scope: { kind: 'repo' as const, owner: 'other', repo: 'one' } },
];

async function setup(t: { after: (fn: () => Promise<void> | void) => void }, rateLimit?: number) {
  const sim = await startSimulator(rateLimit ? { rateLimit: { limit: rateLimit } } : {});
  t.after(() => sim.close());
  sim.setWorkflowFile('acme', 'uses-us', '.github/workflows/ci.yml', 'jobs:\n  a:\n    runs-on: [self-hosted, linux]\n');
  sim.setWorkflowFile('acme', 'hosted-only', '.github/workflows/ci.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n');
  sim.setWorkflowFile('acme', 'matrix', '.github/workflows/ci.yml', 'jobs:\n  a:\n    runs-on: ${{ matrix.os }}\n');
  const github = createGitHubClient({ baseUrl: sim.url, tokens: staticToken('ghp_poller_test_token'), logger: silentLogger(), retryBaseMs: 10 });
  const store = Store.open(':memory:');
  let changes = 0;
  const poller = new Poller({ github, store, pools: POOLS, logger: silentLogger(), clock: systemClock, intervalMs: 10_000, onChange: () => (changes += 1) });
  return { sim, github, store, poller, changes: () => changes };
}

describe('Poller', () => {
  it('discovers only repositories whose workflows use a pool\'s labels (or cannot be read statically)', async (t) => {
    const { poller } = await setup(t);
    await poller.discover();
    assert.deepEqual(poller.watched.map((r) => `${r.owner}/${r.repo}`).sort(), ['acme/matrix', 'acme/uses-us', 'other/one']);
  });

  it('finds queued jobs no webhook announced, and attributes them to the right pool', async (t) => {
    const { sim, store, poller, changes } = await setup(t);
    const job = sim.queueJob({ owner: 'acme', repo: 'uses-us', labels: ['self-hosted', 'Linux'], durationMs: 1000 });
    sim.queueJob({ owner: 'acme', repo: 'uses-us', labels: ['ubuntu-latest'], durationMs: 1000 });
    const result = await poller.pollOnce();
    assert.equal(store.getJob(job.id)?.state, 'queued');
    assert.equal(store.getJob(job.id)?.pool, 'linux');
    assert.equal(store.listOpenJobs().length, 1, 'a job no pool serves is not recorded');
    assert.ok(result.jobsChanged >= 1);
    assert.equal(changes(), 1);
  });

  it('costs nothing against the rate limit while nothing changes (every request answered 304)', async (t) => {
    const { sim, github, poller } = await setup(t);
    sim.queueJob({ owner: 'acme', repo: 'uses-us', labels: ['self-hosted', 'linux'], durationMs: 1000 });
    await poller.pollOnce();
    const countedBefore = sim.stats().calls.counted;
    const second = await poller.pollOnce();
    assert.ok(second.requests > 0);
    assert.equal(second.notModified, second.requests, 'all 304');
    assert.equal(sim.stats().calls.counted, countedBefore, 'no counted call');
    assert.equal(github.stats().notModified >= second.requests, true);
  });

  it('slows down instead of failing when the budget is nearly exhausted', async (t) => {
    const { sim, github, poller } = await setup(t, 30);
    for (const repo of ['uses-us', 'matrix']) sim.queueJob({ owner: 'acme', repo, labels: ['self-hosted', 'linux'], durationMs: 1000 });
    // Spend the budget: discovery and polling with changes every time.
    for (let i = 0; i < 6; i += 1) {
      sim.queueJob({ owner: 'acme', repo: 'uses-us', labels: ['self-hosted', 'linux'], durationMs: 1000 });
      await poller.pollOnce().catch(() => undefined);
    }
    const rate = github.rateLimit();
    assert.ok(rate && rate.remaining < 15, `budget spent (remaining ${rate?.remaining})`);
    assert.ok(poller.nextDelayMs() > 10_000, `poll delay stretched to ${poller.nextDelayMs()} ms`);
  });

  it('uses a configured repository list instead of discovery', async (t) => {
    const { sim, github, store } = await setup(t);
    const poller = new Poller({ github, store, pools: POOLS, logger: silentLogger(), clock: new ManualClock(), intervalMs: 10_000, repos: ['acme/hosted-only'], onChange: () => {} });
    await poller.discover();
    assert.deepEqual(poller.watched.map((r) => `${r.owner}/${r.repo}`).sort(), ['acme/hosted-only', 'other/one']);
    void sim;
  });
});

describe('Poller repairs', () => {
  it('learns how a job ended when the store thinks it is still queued (lost completed webhook)', async (t) => {
    const { sim, store, poller } = await setup(t);
    const job = sim.queueJob({ owner: 'acme', repo: 'uses-us', labels: ['self-hosted', 'linux'], durationMs: 1000 });
    await poller.pollOnce();
    assert.equal(store.getJob(job.id)?.state, 'queued');
    sim.cancelJob(job.id);
    await poller.pollOnce();
    assert.equal(store.getJob(job.id)?.state, 'completed');
    assert.equal(store.getJob(job.id)?.conclusion, 'cancelled');
  });
});
