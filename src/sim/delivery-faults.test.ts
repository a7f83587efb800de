import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFakeRunner, RUNNER_EXIT_CODES } from './fake-runner.ts';
import { parseFaultSpec } from './fault-spec.ts';
import { createJitRunner, simOctokit, startWebhookReceiver } from './sim-test-helpers.ts';
import { startSimulator } from './simulator.ts';
import type { SimulatorOptions } from './types.ts';

const TIMEOUT_MS = 60_000;

async function simWithReceiver(t: TestContext, options: SimulatorOptions) {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const sim = await startSimulator({ ...options, webhook: { url: receiver.url, secret: 's' } });
  t.after(() => sim.close());
  return { sim, receiver };
}

/** Runs a fake runner in-process; aborted and its dir removed after the test. */
async function fakeRunner(t: TestContext, jitConfig: string) {
  const workDir = await mkdtemp(join(tmpdir(), 'jp-faults-'));
  const stop = new AbortController();
  const exitCode = runFakeRunner({ jitConfig, workDir, signal: stop.signal, print: () => {}, printError: () => {}, retryDelayMs: 100 });
  t.after(async () => {
    stop.abort();
    await exitCode;
    await rm(workDir, { recursive: true, force: true });
  });
  return { exitCode, stop: () => stop.abort() };
}

/** Queues `count` jobs nobody serves (one `queued` delivery each) and waits until every delivery was sent or dropped. */
async function queueUnserved(sim: Awaited<ReturnType<typeof startSimulator>>, count: number): Promise<void> {
  for (let i = 0; i < count; i++) sim.queueJob({ owner: 'acme', repo: 'app', labels: ['nobody'], durationMs: 1 });
  await sim.waitFor((s) => s.stats().webhooks.sent + s.stats().webhooks.failed + s.stats().faults.dropped >= count, 30_000);
}

test('drop: deliveries are lost at the given rate, counted, and the same seed drops the same ones', { timeout: TIMEOUT_MS }, async (t) => {
  const runs = [];
  for (const seed of [5, 5, 6]) {
    const { sim, receiver } = await simWithReceiver(t, { seed, faults: parseFaultSpec('drop=0.5') });
    await queueUnserved(sim, 30);
    runs.push({ delivered: receiver.deliveries.map((d) => d.payload.workflow_job.id).sort(), dropped: sim.stats().faults.dropped });
  }
  const [a, b, c] = runs;
  assert.ok(a && b && c);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.delivered, c.delivered);
  assert.equal(a.delivered.length + a.dropped, 30);
  assert.ok(a.dropped > 3 && a.dropped < 27, `about half dropped: ${a.dropped}`);
});

test('dup: a duplicated delivery arrives twice with the same X-GitHub-Delivery (a redelivery)', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, receiver } = await simWithReceiver(t, { faults: parseFaultSpec('dup=1') });
  await queueUnserved(sim, 3);
  await sim.waitFor(() => receiver.deliveries.length >= 6, 30_000);
  const ids = receiver.deliveries.map((d) => String(d.headers['x-github-delivery']));
  assert.equal(new Set(ids).size, 3);
  assert.equal(sim.stats().faults.duplicated, 3);
});

test('reorder: a held-back delivery arrives after the job\'s next one (completed before queued)', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, receiver } = await simWithReceiver(t, { faults: parseFaultSpec('reorder[queued]=1') });
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['nobody'], durationMs: 1 });
  sim.cancelJob(job.id);
  await sim.waitFor(() => receiver.deliveries.length >= 2, 30_000);
  assert.deepEqual(receiver.deliveries.map((d) => d.payload.action), ['completed', 'queued']);
  assert.equal(sim.stats().faults.reordered, 1);
  // A held-back delivery with no successor is still sent, alone.
  sim.queueJob({ owner: 'acme', repo: 'app', labels: ['nobody'], durationMs: 1 });
  await sim.waitFor(() => receiver.deliveries.length >= 3, 30_000);
  assert.equal(sim.stats().faults.reordered, 1);
});

test('delay: deliveries wait before they are sent, in order', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, receiver } = await simWithReceiver(t, { faults: parseFaultSpec('delay=300ms') });
  const startedMs = performance.now();
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['nobody'], durationMs: 1 });
  sim.cancelJob(job.id);
  await sim.waitFor(() => receiver.deliveries.length >= 2, 30_000);
  assert.ok(performance.now() - startedMs >= 2 * 290, 'two deliveries of one job, each delayed');
  assert.deepEqual(receiver.deliveries.map((d) => d.payload.action), ['queued', 'completed']);
  assert.equal(sim.stats().faults.delayed, 2);
});

test('noboot: /online is accepted but the runner stays offline and never takes a job, until its registration is deleted', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator({ faults: parseFaultSpec('noboot=1'), acquirePollMs: 500 });
  t.after(() => sim.close());
  const octokit = simOctokit(sim);
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1 });
  const jit = await createJitRunner(octokit, 'acme', 'jp-nb-1', ['linux']);
  const runner = await fakeRunner(t, jit.encodedJitConfig);
  // The runner keeps polling; give it a few polls.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(sim.runners()[0]?.status, 'offline');
  assert.equal(sim.jobs()[0]?.status, 'queued');
  assert.equal(sim.stats().faults.noBoot, 1);
  await octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: 'acme', runner_id: jit.id });
  assert.equal(await runner.exitCode, RUNNER_EXIT_CODES.terminated);
  assert.equal(sim.jobs().find((j) => j.id === job.id)?.status, 'queued');
});

test('die: the runner crashes mid-job, the job fails once its heartbeat is lost; not counted as a killed busy runner', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator({ faults: parseFaultSpec('die=1'), offlineAfterMs: 1500 });
  t.after(() => sim.close());
  const jit = await createJitRunner(simOctokit(sim), 'acme', 'jp-die-1', ['linux']);
  sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1000 });
  const runner = await fakeRunner(t, jit.encodedJitConfig);
  assert.equal(await runner.exitCode, RUNNER_EXIT_CODES.crashed);
  await sim.waitFor((s) => s.jobs()[0]?.status === 'completed', 30_000);
  assert.equal(sim.jobs()[0]?.conclusion, 'failure');
  assert.equal(sim.stats().faults.died, 1);
  assert.equal(sim.stats().busyRunnersKilled, 0);
});

test('a busy runner whose process is killed is counted in busyRunnersKilled', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator({ offlineAfterMs: 1500 });
  t.after(() => sim.close());
  const jit = await createJitRunner(simOctokit(sim), 'acme', 'jp-kill-1', ['linux']);
  sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 30_000 });
  const runner = await fakeRunner(t, jit.encodedJitConfig);
  await sim.waitFor((s) => s.jobs()[0]?.status === 'in_progress', 30_000);
  runner.stop();
  await sim.waitFor((s) => s.jobs()[0]?.status === 'completed', 30_000);
  assert.equal(sim.stats().busyRunnersKilled, 1);
  assert.equal(sim.stats().busyRunnersDeleted, 0);
});

test('maxConcurrentRunners: registrations alive at once, overall and by jp-<pool>- prefix', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const octokit = simOctokit(sim);
  const a1 = await createJitRunner(octokit, 'acme', 'jp-small-pool-a1', ['linux']);
  await createJitRunner(octokit, 'acme', 'jp-small-pool-a2', ['linux']);
  await createJitRunner(octokit, 'acme', 'jp-gpu-b1', ['linux']);
  await createJitRunner(octokit, 'acme', 'someone-else', ['linux']);
  await octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: 'acme', runner_id: a1.id });
  await createJitRunner(octokit, 'acme', 'jp-small-pool-a3', ['linux']);
  const stats = sim.stats();
  assert.deepEqual(stats.maxConcurrentRunners, { overall: 4, byNamePrefix: { 'jp-small-pool-': 2, 'jp-gpu-': 1 } });
  assert.equal(stats.busyRunnersDeleted, 0);
});
