import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, isJitpoolError, silentLogger } from '../../core/index.ts';
import { runFakeRunner, startSimulator, type Simulator, type SimulatorOptions } from '../../sim/index.ts';
import { createGitHubClient } from '../client.ts';
import { staticToken } from '../token-provider.ts';
import { openSession } from './open-session.ts';
import { configUrl, createScaleSetClient, type ScaleSetClient } from './scaleset-client.ts';

const TIMEOUT_MS = 120_000;
const logger = silentLogger();

async function setUp(t: { after: (fn: () => Promise<void>) => void }, options: SimulatorOptions = {}, clock = new ManualClock(Date.now())): Promise<{ sim: Simulator; client: ScaleSetClient; clock: ManualClock }> {
  const sim = await startSimulator({ tokens: ['ghp_test'], scaleSets: { messagePollMs: 300 }, ...options });
  t.after(() => sim.close());
  const github = createGitHubClient({ baseUrl: sim.url, tokens: staticToken('ghp_test'), logger, retries: 0 });
  const client = createScaleSetClient({ apiUrl: sim.url, scope: { kind: 'org', org: 'acme' }, github, logger, clock, retries: 2, retryBaseMs: 10 });
  return { sim, client, clock };
}

async function rejectsWith(call: Promise<unknown>, code: string): Promise<Error> {
  try {
    await call;
  } catch (err) {
    assert.ok(isJitpoolError(err), `expected a JitpoolError, got ${String(err)}`);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected ${code}`);
}

test('configUrl: github.com, ghe.com, GHES (/api/v3) and other bases', () => {
  assert.equal(configUrl('https://api.github.com', { kind: 'org', org: 'acme' }), 'https://github.com/acme');
  assert.equal(configUrl('https://api.tenant.ghe.com/', { kind: 'repo', owner: 'a', repo: 'b' }), 'https://tenant.ghe.com/a/b');
  assert.equal(configUrl('https://ghes.example.com/api/v3', { kind: 'enterprise', enterprise: 'big' }), 'https://ghes.example.com/enterprises/big');
  assert.equal(configUrl('http://127.0.0.1:3000', { kind: 'org', org: 'acme' }), 'http://127.0.0.1:3000/acme');
});

test('auth: registration token → runner-registration once, refreshed only within a minute of expiry', { timeout: TIMEOUT_MS }, async (t) => {
  const { client, clock } = await setUp(t);
  const group = await client.getRunnerGroupByName('Default');
  assert.equal(group.id, 1);
  assert.equal(await client.getScaleSet(1, 'linux'), null);
  assert.equal(client.stats().byEndpoint['POST /actions/runner-registration'], 1);
  // The admin token lives one hour: still fresh 58 minutes later, refreshed at 59.5.
  clock.advance(58 * 60_000);
  await client.getScaleSet(1, 'linux');
  assert.equal(client.stats().byEndpoint['POST /actions/runner-registration'], 1);
  clock.advance(90_000);
  await client.getScaleSet(1, 'linux');
  assert.equal(client.stats().byEndpoint['POST /actions/runner-registration'], 2);
  assert.equal(client.stats().byEndpoint['POST /{scope}/actions/runners/registration-token'], 2);
});

test('GitHub Enterprise Server: the API under /api/v3 and the config URL without it', { timeout: TIMEOUT_MS }, async (t) => {
  const { client } = await setUp(t, { pathPrefix: '/api/v3' });
  const set = await client.createScaleSet({ name: 'linux', runnerGroupId: 1, labels: ['linux', 'x64'] });
  assert.deepEqual(set.labels.map((label) => label.name), ['linux', 'x64']);
  assert.equal((await client.getScaleSetById(set.id))?.name, 'linux');
});

test('a session: long poll (202 → null), messages, delete, acquire, JIT config through the set, a busy runner kept', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, client } = await setUp(t);
  const set = await client.createScaleSet({ name: 'linux', runnerGroupId: 1, labels: ['linux', 'gpu'] });
  const session = await client.createSession(set.id, 'host-1');
  assert.equal(session.statistics?.totalAssignedJobs, 0);
  assert.equal(await session.getMessage(0, 3), null);

  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['gpu'], durationMs: 2500 });
  const offer = await session.getMessage(0, 3);
  assert.ok(offer);
  assert.equal(offer.jobAvailable.length, 1);
  assert.equal(offer.jobAvailable[0]?.jobId, String(job.id));
  await session.deleteMessage(offer.messageId);
  const acquired = await session.acquireJobs(offer.jobAvailable.map((m) => m.runnerRequestId));
  assert.deepEqual(acquired, [offer.jobAvailable[0]?.runnerRequestId]);
  const assigned = await session.getMessage(offer.messageId, 3);
  assert.equal(assigned?.jobAssigned.length, 1);
  assert.equal(assigned?.statistics?.totalAssignedJobs, 1);
  assert.equal(sim.scaleSets()[0]?.maxCapacity, 3);

  const jit = await client.generateJitConfig(set.id, { name: 'jp-linux-a1', workFolder: '_work' });
  assert.equal(jit.runnerName, 'jp-linux-a1');
  const workDir = await mkdtemp(join(tmpdir(), 'jp-ssc-'));
  t.after(() => rm(workDir, { recursive: true, force: true }));
  const running = runFakeRunner({ jitConfig: jit.encodedJitConfig, workDir, print: () => {}, printError: () => {} });
  await sim.waitFor((s) => s.runners().some((r) => r.id === jit.runnerId && r.isBusy), 60_000);
  // JobStillRunningException: the runner is kept, the caller is told it is busy.
  await rejectsWith(client.removeRunner(jit.runnerId), 'JP_GITHUB_RUNNER_BUSY');
  assert.equal((await client.getRunnerByName('jp-linux-a1'))?.id, jit.runnerId);
  assert.equal(await running, 0);
  assert.equal(await client.removeRunner(jit.runnerId), 'not-found');
  assert.equal(sim.stats().busyRunnersDeleted, 0);

  assert.equal(await session.close(), 'deleted');
  assert.equal(sim.scaleSets()[0]?.sessions.length, 0);
});

test('an expired queue token (401) refreshes the session once and the call goes through', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, client } = await setUp(t);
  const set = await client.createScaleSet({ name: 'linux', runnerGroupId: 1, labels: ['linux'] });
  const session = await client.createSession(set.id, 'host-1');
  sim.expireScaleSetQueueTokens();
  assert.equal(await session.getMessage(0, 1), null);
  assert.equal(client.stats().byEndpoint['PATCH /_apis/runtime/runnerscalesets/{id}/sessions/{sessionId}'], 1);
  sim.expireScaleSetQueueTokens();
  assert.deepEqual(await session.acquireJobs([12345]), []);
  assert.equal(client.stats().byEndpoint['PATCH /_apis/runtime/runnerscalesets/{id}/sessions/{sessionId}'], 2);
});

test('session conflict: the stale session is deleted and the session re-created; otherwise bounded retries, then JP_SCALESET_SESSION_CONFLICT', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, client } = await setUp(t);
  const set = await client.createScaleSet({ name: 'linux', runnerGroupId: 1, labels: ['linux'] });
  const left = await client.createSession(set.id, 'host-1');
  // A restart that remembers the session it left behind takes over at once.
  const taken = await openSession(client, set.id, 'host-1', { staleSessionId: left.sessionId, attempts: 3, retryDelayMs: 10, logger });
  assert.notEqual(taken.sessionId, left.sessionId);
  assert.deepEqual(sim.scaleSets()[0]?.sessions.map((s) => s.sessionId), [taken.sessionId]);
  // One that does not know it retries, a bounded number of times.
  const err = await rejectsWith(openSession(client, set.id, 'host-2', { attempts: 3, retryDelayMs: 10, logger }), 'JP_SCALESET_SESSION_CONFLICT');
  assert.equal((err as { details?: { attempts?: number } }).details?.attempts, 3);
  assert.equal(client.stats().byEndpoint['POST /_apis/runtime/runnerscalesets/{id}/sessions'], 1 + 2 + 3);
  // A conflict that clears (an abandoned session expiring) lets a retry through.
  await taken.close();
  sim.injectSessionConflicts(2);
  const opened = await openSession(client, set.id, 'host-2', { attempts: 3, retryDelayMs: 10, logger });
  assert.ok(opened.sessionId);
});

test('a set deleted on the GitHub side reads as null; errors name the endpoint, never a token', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, client } = await setUp(t);
  const set = await client.createScaleSet({ name: 'linux', runnerGroupId: 1, labels: ['linux'] });
  const session = await client.createSession(set.id, 'host-1');
  sim.deleteScaleSet(set.id);
  assert.equal(await client.getScaleSetById(set.id), null);
  const err = await rejectsWith(client.createSession(set.id, 'host-1'), 'JP_GITHUB_NOT_FOUND');
  assert.match(err.message, /RunnerScaleSetNotFoundException/);
  // The queue refuses the dead session's token even after a refresh (the set is gone): not-found from the PATCH.
  const pollErr = await rejectsWith(session.getMessage(0, 1), 'JP_GITHUB_NOT_FOUND');
  assert.doesNotMatch(pollErr.message, /Bearer|eyJ/);
  await rejectsWith(client.createScaleSet({ name: 'x', runnerGroupId: 1, labels: [] }), 'JP_INPUT_INVALID');
});

test('5xx from the Actions service and the broker are retried (retryablehttp policy)', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, client } = await setUp(t, { seed: 3, faults: { apiByEndpoint: { 'POST /_apis/runtime/runnerscalesets': { errorRate: 0.3 }, 'GET /broker/sessions/{sessionId}/messages': { errorRate: 0.3 } } } });
  for (let i = 0; i < 4; i += 1) await client.createScaleSet({ name: `set-${i}`, runnerGroupId: 1, labels: ['linux'] });
  const session = await client.createSession(1, 'host-1');
  for (let i = 0; i < 4; i += 1) assert.equal(await session.getMessage(0, 1), null);
  assert.equal(sim.scaleSets().length, 4);
  assert.ok(sim.stats().faults.errors >= 1, 'faults were injected');
  assert.ok((client.stats().byEndpoint['POST /_apis/runtime/runnerscalesets'] ?? 0) > 4, 'and retried');
});
