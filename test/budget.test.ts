import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { ManualClock, silentLogger } from '../src/core/index.ts';
import { AccessMonitor } from '../src/intake/index.ts';
import { MemoryProvider } from '../src/providers/index.ts';
import { startSimulator } from '../src/sim/index.ts';
import { until } from './helpers/harness.ts';

const HOUR_MS = 3_600_000;
const TICK_MS = 15_000;
const SECRET = 'budget-webhook-secret-0123456789';
const LABELS = ['self-hosted', 'linux'];

/**
 * The API budget on a bad day: 1,000 jobs no runner of jitpool may take (public repositories,
 * and the Default runner group does not allow them, as GitHub's default) and 1,000 jobs whose
 * repositories were deleted (GitHub answers 404), for one hour of virtual time. The controller
 * (reconcile loop and executor, GitHub sync every minute) and the runner-group access check run
 * on a fake clock; every settled action still kicks a real reconcile at once, as in production.
 * The poller is not part of it: its cost is per repository and interval (two conditional lists
 * per repository and poll), whatever the number of jobs.
 */
test('1,000 unservable and 1,000 vanished jobs for an hour cost fewer than 200 GitHub calls', { timeout: 600_000 }, async (t) => {
  const sim = await startSimulator({ logger: silentLogger() });
  const stateDir = mkdtempSync(join(tmpdir(), 'jp-budget-'));
  const clock = new ManualClock(Date.now());
  const provider = new MemoryProvider('budget');
  const config = configSchema.parse({
    controllerId: 'budget',
    github: { apiUrl: sim.url, auth: { kind: 'pat', token: { env: ['T'] } } },
    webhook: { secret: { env: ['S'] } },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0, auth: { token: { env: ['A'] } } },
    controller: { reconcileIntervalSeconds: 15, githubSyncIntervalSeconds: 60 },
    pools: [{ name: 'linux', scope: { kind: 'org', org: 'acme' }, labels: LABELS, provider: { kind: 'process', command: ['unused'] }, max: 4, idleGraceSeconds: 60 }],
  });
  const runtime = await startRuntime({
    config, clock, logger: silentLogger(), noLoop: true, providers: new Map([['linux', provider]]),
    env: { T: 'ghp_budget_token_0123456789', S: SECRET, A: 'budget-admin-token-0123456789' },
  });
  t.after(async () => {
    await runtime.stop(10_000);
    await sim.close();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const { controller, store } = runtime;
  const access = new AccessMonitor({ store, access: runtime.access, logger: silentLogger(), onChange: () => controller.kick('access') });

  const callsBefore = sim.stats().calls.total;
  const byEndpointBefore = sim.stats().calls.byEndpoint;
  await access.runOnce(); // at start, as the runtime does
  sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret: SECRET });
  for (let r = 0; r < 10; r += 1) {
    sim.setRepository('acme', `public-${r}`, { visibility: 'public' });
    const first = sim.queueJob({ owner: 'acme', repo: `public-${r}`, labels: LABELS, durationMs: 1 });
    for (let j = 1; j < 100; j += 1) sim.queueJob({ owner: 'acme', repo: `public-${r}`, labels: LABELS, durationMs: 1, runId: first.runId });
    const old = sim.queueJob({ owner: 'acme', repo: `old-${r}`, labels: LABELS, durationMs: 1 });
    for (let j = 1; j < 100; j += 1) sim.queueJob({ owner: 'acme', repo: `old-${r}`, labels: LABELS, durationMs: 1, runId: old.runId });
  }
  await until(() => store.listOpenJobs().length === 2000, '2,000 jobs recorded from webhooks', 300_000);
  for (let r = 0; r < 10; r += 1) sim.deleteRepository('acme', `old-${r}`);
  assert.equal(store.listUnservableJobs(2000).length, 1000, 'public-repository jobs are unservable from their first webhook');

  for (let elapsed = 0; elapsed < HOUR_MS; elapsed += TICK_MS) {
    clock.advance(TICK_MS);
    for (const info of await provider.list()) if (!info.isOnline) provider.setOnline(info.computeId);
    if (elapsed % (10 * 60_000) === 0) await access.runOnce();
    await controller.reconcileOnce({ syncGitHub: elapsed % 60_000 === 0 });
    await controller.settle(30_000);
  }
  const calls = sim.stats().calls.total - callsBefore;
  const byEndpoint = Object.fromEntries(
    Object.entries(sim.stats().calls.byEndpoint).map(([endpoint, n]) => [endpoint, n - (byEndpointBefore[endpoint] ?? 0)]).filter(([, n]) => (n as number) > 0),
  );
  t.diagnostic(`GitHub calls from the first webhook to one virtual hour later: ${calls} ${JSON.stringify(byEndpoint)}`);
  t.diagnostic(`reconciles: ${controller.stats.reconciles}`);

  assert.equal(store.listJobs({ states: ['gone'], limit: 5000 }).length, 1000, 'every vanished job is retired');
  assert.equal(store.listUnservableJobs(5000).length, 1000, 'unservable jobs stay recorded, with their reason');
  assert.match(store.listUnservableJobs(1)[0]!.unservableReason ?? '', /does not allow public repositories/);
  assert.ok(calls < 200, `${calls} calls`);
  assert.ok(controller.stats.reconciles >= HOUR_MS / TICK_MS, 'a reconcile ran at every tick of the hour');
});
