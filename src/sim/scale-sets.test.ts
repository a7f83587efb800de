import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFakeRunner } from './fake-runner.ts';
import { startSimulator } from './simulator.ts';
import type { Simulator, SimulatorOptions } from './types.ts';

const TIMEOUT_MS = 60_000;

interface Answer {
  status: number;
  body: unknown;
}

async function call(url: string, init: { method?: string; token?: string; auth?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
  if (init.auth !== undefined) headers.authorization = init.auth;
  else if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  const response = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** The reference client's auth: registration token → `runner-registration` → Actions-service URL + admin token. */
async function connect(sim: Simulator): Promise<{ serviceUrl: string; adminToken: string }> {
  const registration = await call(`${sim.url}/orgs/acme/actions/runners/registration-token`, { method: 'POST', token: 'ghp_test' });
  assert.equal(registration.status, 201);
  const token = (registration.body as { token: string }).token;
  const connection = await call(`${sim.url}/actions/runner-registration`, { method: 'POST', auth: `RemoteAuth ${token}`, body: { url: 'https://github.com/acme', runner_event: 'register' } });
  assert.equal(connection.status, 200);
  const { url, token: adminToken } = connection.body as { url: string; token: string };
  return { serviceUrl: url.replace(/\/$/, ''), adminToken };
}

async function startWithSet(t: { after: (fn: () => Promise<void>) => void }, options: SimulatorOptions = {}) {
  const sim = await startSimulator({ scaleSets: { messagePollMs: 300 }, ...options });
  t.after(() => sim.close());
  const { serviceUrl, adminToken } = await connect(sim);
  const sets = `${serviceUrl}/_apis/runtime/runnerscalesets`;
  const created = await call(`${sets}?api-version=6.0-preview`, {
    method: 'POST', token: adminToken, body: { name: 'linux', runnerGroupId: 1, labels: [{ name: 'linux' }, { name: 'x64', type: 'System' }], RunnerSetting: { disableUpdate: true } },
  });
  assert.equal(created.status, 200);
  const set = created.body as { id: number; labels: Array<{ name: string; type: string }>; runnerJitConfigUrl: string; statistics: Record<string, number> };
  return { sim, serviceUrl, adminToken, sets, set };
}

async function openSession(sets: string, setId: number, adminToken: string) {
  const answer = await call(`${sets}/${setId}/sessions`, { method: 'POST', token: adminToken, body: { ownerName: 'host-1' } });
  assert.equal(answer.status, 200);
  return answer.body as { sessionId: string; messageQueueUrl: string; messageQueueAccessToken: string; statistics: Record<string, number> };
}

async function getMessage(queueUrl: string, token: string, lastMessageId = 0): Promise<Answer> {
  const url = new URL(queueUrl);
  if (lastMessageId > 0) url.searchParams.set('lastMessageId', String(lastMessageId));
  return call(url.toString(), { token, headers: { accept: 'application/json; api-version=6.0-preview', 'x-scalesetmaxcapacity': '5' } });
}

type JobMessage = { messageType: string; runnerRequestId: number; jobId: string; requestLabels: string[]; result?: string; runnerName?: string };

function jobMessages(answer: Answer): JobMessage[] {
  const body = answer.body as { messageType: string; body: string };
  assert.equal(body.messageType, 'RunnerScaleSetJobMessages');
  return JSON.parse(body.body) as JobMessage[];
}

test('runner-registration exchanges a registration token for the Actions service URL and an admin JWT', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const { serviceUrl, adminToken } = await connect(sim);
  assert.match(serviceUrl, /^http:\/\/127\.0\.0\.1:\d+\//);
  const claims = JSON.parse(Buffer.from(adminToken.split('.')[1] ?? '', 'base64url').toString()) as { exp: number };
  assert.ok(claims.exp * 1000 > Date.now());
  // A made-up registration token is refused; so is a forged admin token.
  const refused = await call(`${sim.url}/actions/runner-registration`, { method: 'POST', auth: 'RemoteAuth AAAA', body: { url: 'https://github.com/acme', runner_event: 'register' } });
  assert.equal(refused.status, 401);
  const forged = await call(`${serviceUrl}/_apis/runtime/runnerscalesets`, { token: `${adminToken.slice(0, -2)}xx` });
  assert.equal(forged.status, 401);
});

test('scale sets: create, find by name, get, a duplicate name refused, delete', { timeout: TIMEOUT_MS }, async (t) => {
  const { sets, set, adminToken } = await startWithSet(t);
  assert.deepEqual(set.labels, [{ type: 'System', name: 'linux' }, { type: 'System', name: 'x64' }]);
  assert.equal(set.statistics.totalAssignedJobs, 0);
  const found = await call(`${sets}?runnerGroupId=1&name=linux`, { token: adminToken });
  assert.equal((found.body as { count: number }).count, 1);
  const duplicate = await call(sets, { method: 'POST', token: adminToken, body: { name: 'linux', runnerGroupId: 1, labels: [{ name: 'linux' }] } });
  assert.equal(duplicate.status, 409);
  assert.equal((await call(`${sets}/${set.id}`, { method: 'DELETE', token: adminToken })).status, 204);
  const gone = await call(`${sets}/${set.id}`, { token: adminToken });
  assert.equal(gone.status, 404);
  assert.match((gone.body as { typeName: string }).typeName, /RunnerScaleSetNotFoundException/);
});

test('a job whose labels the set serves is offered, acquired, run by a set runner; messages redeliver until deleted', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, sets, set, adminToken } = await startWithSet(t);
  const session = await openSession(sets, set.id, adminToken);
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 200 });

  const first = await getMessage(session.messageQueueUrl, session.messageQueueAccessToken);
  assert.equal(first.status, 200);
  const [available] = jobMessages(first);
  assert.equal(available?.messageType, 'JobAvailable');
  assert.equal(available?.jobId, String(job.id));
  assert.equal((first.body as { statistics: Record<string, number> }).statistics.totalAvailableJobs, 1);
  // Not deleted: a listener that starts over gets the same message again.
  const again = await getMessage(session.messageQueueUrl, session.messageQueueAccessToken);
  assert.equal((again.body as { messageId: number }).messageId, (first.body as { messageId: number }).messageId);
  const firstId = (first.body as { messageId: number }).messageId;
  assert.equal((await call(`${session.messageQueueUrl}/${firstId}`, { method: 'DELETE', token: session.messageQueueAccessToken })).status, 204);

  const acquired = await call(`${sets}/${set.id}/acquirejobs`, { method: 'POST', token: session.messageQueueAccessToken, body: [available?.runnerRequestId, 999_999] });
  assert.deepEqual(acquired.body, { count: 1, value: [available?.runnerRequestId] });
  const assigned = await getMessage(session.messageQueueUrl, session.messageQueueAccessToken, firstId);
  assert.deepEqual(jobMessages(assigned).map((m) => m.messageType), ['JobAssigned']);
  assert.equal((assigned.body as { statistics: Record<string, number> }).statistics.totalAssignedJobs, 1);
  await call(`${session.messageQueueUrl}/${(assigned.body as { messageId: number }).messageId}`, { method: 'DELETE', token: session.messageQueueAccessToken });

  // A runner registered through the set's JIT endpoint takes the job; a runner of labels alone would not.
  const jit = await call(`${sets}/${set.id}/generatejitconfig`, { method: 'POST', token: adminToken, body: { name: 'jp-linux-0001', workFolder: '_work' } });
  assert.equal(jit.status, 200);
  const { runner, encodedJITConfig } = jit.body as { runner: { id: number; runnerScaleSetId: number }; encodedJITConfig: string };
  assert.equal(runner.runnerScaleSetId, set.id);
  const workDir = await mkdtemp(join(tmpdir(), 'jp-ss-'));
  t.after(() => rm(workDir, { recursive: true, force: true }));
  const exit = await runFakeRunner({ jitConfig: encodedJITConfig, workDir, print: () => {}, printError: () => {} });
  assert.equal(exit, 0);
  assert.equal(sim.jobs().find((j) => j.id === job.id)?.status, 'completed');

  const seen: JobMessage[] = [];
  let last = 0;
  while (!seen.some((m) => m.messageType === 'JobCompleted')) {
    const next = await getMessage(session.messageQueueUrl, session.messageQueueAccessToken, last);
    if (next.status === 202) continue;
    last = (next.body as { messageId: number }).messageId;
    seen.push(...jobMessages(next));
    await call(`${session.messageQueueUrl}/${last}`, { method: 'DELETE', token: session.messageQueueAccessToken });
  }
  assert.deepEqual(seen.map((m) => m.messageType), ['JobStarted', 'JobCompleted']);
  assert.equal(seen[1]?.result, 'succeeded');
  assert.equal(seen[0]?.runnerName, 'jp-linux-0001');
  assert.equal(sim.scaleSets()[0]?.maxCapacity, 5);
  // The registration is gone with its job (ephemeral).
  const agent = await call(`${sim.url.replace(/\/$/, '')}/_sim/actions-service/_apis/distributedtask/pools/0/agents/${runner.id}`, { token: adminToken });
  assert.equal(agent.status, 404);
});

test('an empty queue answers 202 after the long poll; a cancelled queued job completes as canceled', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, sets, set, adminToken } = await startWithSet(t);
  const session = await openSession(sets, set.id, adminToken);
  const empty = await getMessage(session.messageQueueUrl, session.messageQueueAccessToken);
  assert.equal(empty.status, 202);
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux', 'x64'], durationMs: 100 });
  sim.cancelJob(job.id);
  const types: JobMessage[] = [];
  let last = 0;
  while (!types.some((m) => m.messageType === 'JobCompleted')) {
    const next = await getMessage(session.messageQueueUrl, session.messageQueueAccessToken, last);
    if (next.status !== 200) continue;
    last = (next.body as { messageId: number }).messageId;
    types.push(...jobMessages(next));
  }
  assert.equal(types.find((m) => m.messageType === 'JobCompleted')?.result, 'canceled');
});

test('session faults: a second session conflicts (409), an expired queue token answers 401 until the session is refreshed', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, sets, set, adminToken } = await startWithSet(t);
  const session = await openSession(sets, set.id, adminToken);
  const conflict = await call(`${sets}/${set.id}/sessions`, { method: 'POST', token: adminToken, body: { ownerName: 'host-2' } });
  assert.equal(conflict.status, 409);
  assert.match((conflict.body as { typeName: string }).typeName, /RunnerScaleSetSessionConflictException/);

  sim.expireScaleSetQueueTokens();
  assert.equal((await getMessage(session.messageQueueUrl, session.messageQueueAccessToken)).status, 401);
  const refreshed = await call(`${sets}/${set.id}/sessions/${session.sessionId}`, { method: 'PATCH', token: adminToken });
  assert.equal(refreshed.status, 200);
  const token = (refreshed.body as { messageQueueAccessToken: string }).messageQueueAccessToken;
  assert.notEqual(token, session.messageQueueAccessToken);
  assert.equal((await getMessage(session.messageQueueUrl, token)).status, 202);

  // Deleted, the session no longer conflicts; an injected conflict does, once.
  assert.equal((await call(`${sets}/${set.id}/sessions/${session.sessionId}`, { method: 'DELETE', token: adminToken })).status, 204);
  sim.injectSessionConflicts(1);
  assert.equal((await call(`${sets}/${set.id}/sessions`, { method: 'POST', token: adminToken, body: { ownerName: 'host-1' } })).status, 409);
  await openSession(sets, set.id, adminToken);
});

test('a set deleted on the GitHub side: its queue answers 404 and its jobs go back to label matching', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, sets, set, adminToken } = await startWithSet(t);
  const session = await openSession(sets, set.id, adminToken);
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 100 });
  assert.equal(sim.scaleSets()[0]?.statistics.totalAvailableJobs, 1);
  assert.equal(sim.deleteScaleSet(set.id), true);
  const answer = await getMessage(session.messageQueueUrl, session.messageQueueAccessToken);
  assert.equal(answer.status, 401);
  assert.equal((await call(`${sets}/${set.id}/sessions`, { method: 'POST', token: adminToken, body: { ownerName: 'x' } })).status, 404);
  assert.equal(sim.jobs().find((j) => j.id === job.id)?.status, 'queued');
  assert.deepEqual(sim.scaleSets(), []);
});

test('deleting a busy set runner through the service answers JobStillRunningException and keeps it', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, sets, set, adminToken, serviceUrl } = await startWithSet(t);
  const session = await openSession(sets, set.id, adminToken);
  sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 3000 });
  const offer = await getMessage(session.messageQueueUrl, session.messageQueueAccessToken);
  const [available] = jobMessages(offer);
  await call(`${sets}/${set.id}/acquirejobs`, { method: 'POST', token: session.messageQueueAccessToken, body: [available?.runnerRequestId] });
  const jit = await call(`${sets}/${set.id}/generatejitconfig`, { method: 'POST', token: adminToken, body: { name: 'jp-linux-0002' } });
  const { runner, encodedJITConfig } = jit.body as { runner: { id: number }; encodedJITConfig: string };
  const workDir = await mkdtemp(join(tmpdir(), 'jp-ss-'));
  t.after(() => rm(workDir, { recursive: true, force: true }));
  const running = runFakeRunner({ jitConfig: encodedJITConfig, workDir, print: () => {}, printError: () => {} });
  await sim.waitFor((s) => s.runners().some((r) => r.id === runner.id && r.isBusy));
  const refused = await call(`${serviceUrl}/_apis/distributedtask/pools/0/agents/${runner.id}`, { method: 'DELETE', token: adminToken });
  assert.equal(refused.status, 400);
  assert.match((refused.body as { typeName: string }).typeName, /JobStillRunningException/);
  assert.ok(sim.runners().some((r) => r.id === runner.id));
  assert.equal(await running, 0);
  assert.equal(sim.stats().busyRunnersDeleted, 0);
  assert.ok((sim.stats().actionsService.byEndpoint['DELETE /_apis/distributedtask/pools/0/agents/{agentId}'] ?? 0) >= 1);
});

test('REST faults apply to the Actions service too: an endpoint with errorRate 1 answers 5xx without effect', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator({ faults: { apiByEndpoint: { 'POST /_apis/runtime/runnerscalesets': { errorRate: 1 } } } });
  t.after(() => sim.close());
  const { serviceUrl, adminToken } = await connect(sim);
  const answer = await call(`${serviceUrl}/_apis/runtime/runnerscalesets`, { method: 'POST', token: adminToken, body: { name: 'linux', runnerGroupId: 1, labels: [{ name: 'linux' }] } });
  assert.ok(answer.status >= 500);
  assert.deepEqual(sim.scaleSets(), []);
  assert.ok(sim.stats().faults.errors >= 1);
});
