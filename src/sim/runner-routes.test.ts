import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestError } from '@octokit/request-error';
import { decodeJitConfig } from './jit-config.ts';
import { runFakeRunner, RUNNER_EXIT_CODES } from './fake-runner.ts';
import { createJitRunner, simOctokit } from './sim-test-helpers.ts';
import { startSimulator } from './simulator.ts';

const TIMEOUT_MS = 60_000;

/** The HTTP status of a rejected octokit call. */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 0;
  } catch (err) {
    if (err instanceof RequestError) return err.status;
    throw err;
  }
}

test('generate-jitconfig registers an offline ephemeral runner and returns a decodable config', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const octokit = simOctokit(sim);

  const { status, data } = await octokit.rest.actions.generateRunnerJitconfigForRepo({
    owner: 'acme',
    repo: 'app',
    name: 'jp-linux-0001',
    runner_group_id: 1,
    labels: ['self-hosted', 'linux', 'jitpool-c1'],
    work_folder: '_w',
  });
  assert.equal(status, 201);
  assert.equal(data.runner.name, 'jp-linux-0001');
  assert.equal(data.runner.status, 'offline');
  assert.equal(data.runner.busy, false);
  assert.equal(data.runner.ephemeral, true);
  assert.equal(data.runner.runner_group_id, 1);
  assert.deepEqual(
    data.runner.labels.map((label) => [label.name, label.type]),
    [['self-hosted', 'read-only'], ['linux', 'read-only'], ['jitpool-c1', 'custom']],
  );

  const decoded = decodeJitConfig(data.encoded_jit_config);
  assert.equal(decoded.runner.agentId, data.runner.id);
  assert.equal(decoded.runner.agentName, 'jp-linux-0001');
  assert.equal(decoded.runner.poolId, 1);
  assert.equal(decoded.runner.serverUrl, `${sim.url}/_sim/`);
  assert.equal(decoded.runner.gitHubUrl, 'https://github.com/acme/app');
  assert.equal(decoded.runner.workFolder, '_w');
  assert.equal(decoded.runner.ephemeral, true);
  assert.equal(decoded.credentials.scheme, 'OAuth');
  assert.match(decoded.credentials.data.clientId, /^[0-9a-f-]{36}$/);
  assert.equal(decoded.credentials.data.authorizationUrl, `${sim.url}/_sim/oauth`);
  assert.ok(JSON.parse(decoded.files['.credentials_rsaparams']).modulus);

  const [runner] = sim.runners();
  assert.deepEqual(runner?.scope, { kind: 'repo', owner: 'acme', repo: 'app' });
});

test('a duplicate runner name in the same scope is 409; another scope may reuse it; bad bodies are 422', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const octokit = simOctokit(sim);

  await createJitRunner(octokit, 'acme', 'dup', ['self-hosted']);
  assert.equal(await statusOf(createJitRunner(octokit, 'acme', 'dup', ['self-hosted'])), 409);
  assert.equal(await statusOf(createJitRunner(octokit, 'acme', 'DUP', ['self-hosted'])), 409);
  await createJitRunner(octokit, 'other-org', 'dup', ['self-hosted']);
  await octokit.rest.actions.generateRunnerJitconfigForRepo({ owner: 'acme', repo: 'app', name: 'dup', runner_group_id: 1, labels: ['x'] });

  assert.equal(await statusOf(createJitRunner(octokit, 'acme', 'no-labels', [])), 422);
  const tooMany = Array.from({ length: 101 }, (_, i) => `l${i}`);
  assert.equal(await statusOf(createJitRunner(octokit, 'acme', 'too-many', tooMany)), 422);
  assert.equal(sim.runners().length, 3);
});

test('runner lists paginate with Link headers; If-None-Match gives a free 304', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const octokit = simOctokit(sim);
  for (let i = 0; i < 5; i++) await createJitRunner(octokit, 'acme', `r${i}`, ['self-hosted']);

  const first = await octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme', per_page: 2 });
  assert.equal(first.data.total_count, 5);
  assert.deepEqual(first.data.runners.map((r) => r.name), ['r0', 'r1']);
  assert.match(first.headers.link ?? '', /page=2>; rel="next"/);
  assert.match(first.headers.link ?? '', /page=3>; rel="last"/);

  const all = await octokit.paginate(octokit.rest.actions.listSelfHostedRunnersForOrg, { org: 'acme', per_page: 2 });
  assert.deepEqual(all.map((r) => r.name), ['r0', 'r1', 'r2', 'r3', 'r4']);

  const byName = await octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme', name: 'r3' });
  assert.deepEqual(byName.data.runners.map((r) => r.name), ['r3']);

  const full = await octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme' });
  const etag = full.headers.etag;
  assert.ok(etag);
  const countedBefore = sim.stats().calls.counted;
  const remainingBefore = Number(full.headers['x-ratelimit-remaining']);
  const notModified = await fetch(`${sim.url}/orgs/acme/actions/runners`, {
    headers: { authorization: 'token ghp_test_token', 'if-none-match': etag },
  });
  assert.equal(notModified.status, 304);
  assert.equal(Number(notModified.headers.get('x-ratelimit-remaining')), remainingBefore);
  const stats = sim.stats();
  assert.equal(stats.calls.counted, countedBefore);
  assert.equal(stats.calls.notModified, 1);
  // 1 + 3 pages + name filter + full list + the 304
  assert.equal(stats.calls.byEndpoint['GET /orgs/{org}/actions/runners'], 7);

  // A change to the list changes the tag.
  await createJitRunner(octokit, 'acme', 'r5', ['self-hosted']);
  const changed = await fetch(`${sim.url}/orgs/acme/actions/runners`, {
    headers: { authorization: 'token ghp_test_token', 'if-none-match': etag },
  });
  assert.equal(changed.status, 200);
});

test('get and delete: 404 when unknown or in another scope, 422 while busy, 204 otherwise', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator({ acquirePollMs: 2000 });
  t.after(() => sim.close());
  const octokit = simOctokit(sim);
  const workDir = await mkdtemp(join(tmpdir(), 'jp-sim-'));
  t.after(() => rm(workDir, { recursive: true, force: true }));

  const idle = await createJitRunner(octokit, 'acme', 'idle', ['self-hosted']);
  const got = await octokit.rest.actions.getSelfHostedRunnerForOrg({ org: 'acme', runner_id: idle.id });
  assert.equal(got.data.name, 'idle');
  assert.equal(await statusOf(octokit.rest.actions.getSelfHostedRunnerForOrg({ org: 'other', runner_id: idle.id })), 404);
  assert.equal(await statusOf(octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: 'acme', runner_id: 999_999 })), 404);

  // A busy runner cannot be deleted: GitHub answers 422.
  const busy = await createJitRunner(octokit, 'acme', 'busy', ['self-hosted', 'linux']);
  const stop = new AbortController();
  const busyExit = runFakeRunner({ jitConfig: busy.encodedJitConfig, workDir: join(workDir, 'busy'), signal: stop.signal, print: () => {}, printError: () => {} });
  t.after(() => stop.abort());
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 60_000 });
  await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.runnerName === 'busy', 30_000);
  try {
    await octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: 'acme', runner_id: busy.id });
    assert.fail('expected 422');
  } catch (err) {
    assert.ok(err instanceof RequestError);
    assert.equal(err.status, 422);
    assert.match(String((err.response?.data as { message?: string }).message), /still running a job/);
  }
  assert.ok(sim.runners().some((r) => r.id === busy.id));
  stop.abort();
  assert.equal(await busyExit, RUNNER_EXIT_CODES.terminated);

  // Deleting an idle, online runner ends its long poll: the runner exits 1.
  const idleExit = runFakeRunner({ jitConfig: idle.encodedJitConfig, workDir: join(workDir, 'idle'), print: () => {}, printError: () => {} });
  await sim.waitFor((s) => s.runners().find((r) => r.id === idle.id)?.status === 'online', 30_000);
  assert.ok(JSON.parse(await readFile(join(workDir, 'idle', '.runner'), 'utf8')).agentId === idle.id);
  const deleted = await octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: 'acme', runner_id: idle.id });
  assert.equal(deleted.status, 204);
  assert.equal(await idleExit, RUNNER_EXIT_CODES.terminated);
  assert.ok(!sim.runners().some((r) => r.id === idle.id));
});

test('registration tokens, authentication and unknown routes answer like GitHub', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator({ tokens: ['ghp_good'] });
  t.after(() => sim.close());

  const token = await simOctokit(sim, 'ghp_good').rest.actions.createRegistrationTokenForOrg({ org: 'acme' });
  assert.equal(token.status, 201);
  assert.ok(token.data.token.length > 20);
  assert.ok(Date.parse(token.data.expires_at) > Date.now() + 3_500_000);

  const anonymous = await fetch(`${sim.url}/orgs/acme/actions/runners`);
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { message: string }).message, 'Requires authentication');
  assert.equal(await statusOf(simOctokit(sim, 'ghp_bad').rest.actions.listSelfHostedRunnersForOrg({ org: 'acme' })), 401);

  const unknown = await fetch(`${sim.url}/repos/acme/app/nothing-here`, { headers: { authorization: 'Bearer ghp_good' } });
  assert.equal(unknown.status, 404);
  const body = (await unknown.json()) as { message: string; documentation_url: string };
  assert.equal(body.message, 'Not Found');
  assert.ok(body.documentation_url);
  assert.equal(sim.stats().calls.byEndpoint['GET (unknown route)'], 1);
});
