import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify } from '@octokit/webhooks-methods';
import { encodeJitConfig } from './jit-config.ts';
import { runFakeRunner, RUNNER_EXIT_CODES } from './fake-runner.ts';
import { createJitRunner, killIfRunning, simOctokit, spawnFakeRunner, startWebhookReceiver } from './sim-test-helpers.ts';
import { startSimulator } from './simulator.ts';

const TIMEOUT_MS = 120_000;
const SECRET = 'webhook-secret-for-tests';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'jp-sim-life-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('full lifecycle with the fake runner process: signed webhooks in order, registration gone after', { timeout: TIMEOUT_MS }, async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const sim = await startSimulator({ webhook: { url: receiver.url, secret: SECRET } });
  t.after(() => sim.close());
  const octokit = simOctokit(sim);
  const cwd = await tempDir(t);

  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 300, name: 'build' });
  const { id, encodedJitConfig } = await createJitRunner(octokit, 'acme', 'jp-linux-a1', ['self-hosted', 'Linux', 'jitpool-c1']);
  const runner = spawnFakeRunner(encodedJitConfig, cwd);
  t.after(() => killIfRunning(runner));

  assert.equal(await runner.exitCode, RUNNER_EXIT_CODES.success, runner.stderr());
  assert.match(runner.stdout(), /√ Connected to GitHub/);
  assert.match(runner.stdout(), /Current runner version: '2\.330\.0'/);
  assert.match(runner.stdout(), /\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: Listening for Jobs/);
  assert.match(runner.stdout(), /Running job: build/);
  assert.match(runner.stdout(), /Job build completed with result: Succeeded/);
  assert.equal(JSON.parse(await readFile(join(cwd, '.runner'), 'utf8')).agentName, 'jp-linux-a1');
  assert.equal(JSON.parse(await readFile(join(cwd, '.credentials'), 'utf8')).scheme, 'OAuth');

  await sim.waitFor(() => receiver.deliveries.length >= 3, 30_000);
  const deliveries = receiver.deliveries.filter((d) => d.payload.workflow_job.id === job.id);
  assert.deepEqual(deliveries.map((d) => d.payload.action), ['queued', 'in_progress', 'completed']);
  for (const delivery of deliveries) {
    assert.equal(delivery.headers['x-github-event'], 'workflow_job');
    assert.match(String(delivery.headers['x-github-delivery']), /^[0-9a-f-]{36}$/);
    assert.equal(delivery.headers['user-agent'], 'GitHub-Hookshot/sim');
    assert.match(String(delivery.headers['content-type']), /^application\/json/);
    assert.equal(await verify(SECRET, delivery.body, String(delivery.headers['x-hub-signature-256'])), true);
  }
  const [, started, completed] = deliveries;
  assert.equal(started?.payload.workflow_job.runner_name, 'jp-linux-a1');
  assert.equal(completed?.payload.workflow_job.conclusion, 'success');
  const payload = JSON.parse(completed?.body ?? '{}') as Record<string, { full_name?: string; login?: string }>;
  assert.equal(payload.repository?.full_name, 'acme/app');
  assert.equal(payload.organization?.login, 'acme');
  assert.ok(payload.sender?.login);

  assert.ok(!sim.runners().some((r) => r.id === id));
  const final = await octokit.rest.actions.getJobForWorkflowRun({ owner: 'acme', repo: 'app', job_id: job.id });
  assert.equal(final.data.status, 'completed');
  assert.equal(final.data.conclusion, 'success');
  assert.equal(final.data.runner_id, id);
  assert.deepEqual(sim.stats().webhooks, { sent: 3, failed: 0 });
});

test('SIGTERM terminates the fake runner with exit code 1; an unreachable server gives exit code 2', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const cwd = await tempDir(t);
  const { id, encodedJitConfig } = await createJitRunner(simOctokit(sim), 'acme', 'sigterm', ['self-hosted']);
  const runner = spawnFakeRunner(encodedJitConfig, cwd);
  t.after(() => killIfRunning(runner));
  await sim.waitFor((s) => s.runners().find((r) => r.id === id)?.status === 'online', 60_000);
  runner.child.kill('SIGTERM');
  assert.equal(await runner.exitCode, RUNNER_EXIT_CODES.terminated);

  const unreachable = encodeJitConfig(
    { agentId: 1, agentName: 'x', poolId: 1, poolName: 'Default', serverUrl: 'http://127.0.0.1:9/_sim/', gitHubUrl: 'https://github.com/acme', workFolder: '_work', ephemeral: true, useV2Flow: false },
    { scheme: 'OAuth', data: { clientId: 'nope', authorizationUrl: 'http://127.0.0.1:9/_sim/oauth', requireFipsCryptography: 'False' } },
  );
  const code = await runFakeRunner({ jitConfig: unreachable, workDir: join(cwd, 'u'), connectAttempts: 2, retryDelayMs: 10, print: () => {}, printError: () => {} });
  assert.equal(code, RUNNER_EXIT_CODES.retryableError);
});

test('a runner that dies mid-job: the job fails and the runner goes offline after the heartbeat timeout', { timeout: TIMEOUT_MS }, async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const sim = await startSimulator({ webhook: { url: receiver.url, secret: SECRET }, offlineAfterMs: 1000 });
  t.after(() => sim.close());
  const cwd = await tempDir(t);
  const { id, encodedJitConfig } = await createJitRunner(simOctokit(sim), 'acme', 'crashy', ['self-hosted']);
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted'], durationMs: 400, dieMidJob: true });
  const code = await runFakeRunner({ jitConfig: encodedJitConfig, workDir: cwd, print: () => {}, printError: () => {} });
  assert.equal(code, RUNNER_EXIT_CODES.crashed);
  await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 60_000);
  assert.equal(sim.jobs().find((j) => j.id === job.id)?.conclusion, 'failure');
  assert.equal(sim.runners().find((r) => r.id === id)?.status, 'offline');
  await sim.waitFor(() => receiver.deliveries.some((d) => d.payload.action === 'completed'), 30_000);
});

test('cancelling a queued job sends a completed/cancelled webhook; a failed delivery is counted, not retried', { timeout: TIMEOUT_MS }, async (t) => {
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const sim = await startSimulator({ webhook: { url: receiver.url, secret: SECRET } });
  t.after(() => sim.close());

  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['gpu'], durationMs: 1 });
  sim.cancelJob(job.id);
  await sim.waitFor(() => receiver.deliveries.length >= 2, 30_000);
  assert.deepEqual(receiver.deliveries.map((d) => [d.payload.action, d.payload.workflow_job.conclusion]), [['queued', null], ['completed', 'cancelled']]);

  // Port 9 (discard) on loopback refuses the connection.
  sim.setWebhookTarget({ url: 'http://127.0.0.1:9/hook', secret: SECRET });
  sim.queueJob({ owner: 'acme', repo: 'app', labels: ['gpu'], durationMs: 1 });
  await sim.waitFor((s) => s.stats().webhooks.failed === 1, 30_000);
  assert.equal(sim.stats().webhooks.sent, 2);
  sim.setWebhookTarget(null);
  sim.queueJob({ owner: 'acme', repo: 'app', labels: ['gpu'], durationMs: 1 });
  assert.equal(receiver.deliveries.length, 2);
});
