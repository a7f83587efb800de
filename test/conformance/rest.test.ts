import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GitHubScope } from '../../src/github/index.ts';
import type { SimExchange } from '../../src/sim/index.ts';
import { runRunner, startRecordedSim, statusOf } from './helpers.ts';
import { OpenApiValidator } from './openapi-validator.ts';

const TIMEOUT_MS = 120_000;

// Loaded once: the descriptions are large.
const validator = new OpenApiValidator(['api.github.com', 'ghec']);

/** Fails with every drift of every exchange, naming the exchange. */
function assertConforms(exchanges: readonly SimExchange[]): void {
  const problems = exchanges.flatMap((exchange) => validator.validateExchange(exchange).map((problem) => `${exchange.method} ${exchange.url}: ${problem}`));
  assert.deepEqual(problems, [], `exchanges drift from GitHub's OpenAPI description:\n${problems.join('\n')}`);
}

const SCOPES: Array<{ scope: GitHubScope; prefix: string }> = [
  { scope: { kind: 'repo', owner: 'acme', repo: 'app' }, prefix: '/repos/{owner}/{repo}' },
  { scope: { kind: 'org', org: 'acme' }, prefix: '/orgs/{org}' },
  { scope: { kind: 'enterprise', enterprise: 'acme-corp' }, prefix: '/enterprises/{enterprise}' },
];

for (const { scope, prefix } of SCOPES) {
  test(`${scope.kind} scope: every request of jitpool's client and every answer of the simulator conform`, { timeout: TIMEOUT_MS }, async (t) => {
    const { sim, exchanges, client, octokit } = await startRecordedSim(t);
    const labels = ['self-hosted', 'Linux', `jp-${scope.kind}`];

    // JIT config 201, duplicate name 409, unknown group 404.
    const jit = await client.generateJitConfig(scope, { name: `jp-conf-${scope.kind}-1`, runnerGroupId: 1, labels, workFolder: '_work' });
    assert.equal(await statusOf(client.generateJitConfig(scope, { name: `jp-conf-${scope.kind}-1`, runnerGroupId: 1, labels, workFolder: '_work' })), 409);
    assert.equal(await statusOf(client.generateJitConfig(scope, { name: `jp-conf-${scope.kind}-2`, runnerGroupId: 999, labels, workFolder: '_work' })), 404);

    // List 200 then 304 (conditional), single runner 200, registration token 201.
    assert.equal((await client.listRunners(scope)).length, 1);
    assert.equal((await client.listRunners(scope)).length, 1);
    const scopeParams = scope.kind === 'repo' ? { owner: scope.owner, repo: scope.repo } : scope.kind === 'org' ? { org: scope.org } : { enterprise: scope.enterprise };
    await octokit.request(`GET ${prefix}/actions/runners/{runner_id}`, { ...scopeParams, runner_id: jit.runnerId });
    await octokit.request(`POST ${prefix}/actions/runners/registration-token`, scopeParams);
    await octokit.request(`GET ${prefix}/actions/runners`, { ...scopeParams, per_page: 1, page: 1, name: `jp-conf-${scope.kind}-1` });

    // A job through its lifecycle, read by the client at each step.
    const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1500 });
    assert.equal((await client.getJob('acme', 'app', job.id)).status, 'queued');
    const runner = await runRunner(t, jit.encodedJitConfig);
    await sim.waitFor((s) => s.jobs()[0]?.status === 'in_progress', 30_000);
    assert.equal((await client.getJob('acme', 'app', job.id)).status, 'in_progress');
    // GitHub refuses to delete a busy runner: 422.
    await assert.rejects(client.deleteRunner(scope, jit.runnerId), { code: 'JP_GITHUB_RUNNER_BUSY' });
    assert.equal(await runner.exitCode, 0);
    assert.equal((await client.getJob('acme', 'app', job.id)).status, 'completed');
    // The ephemeral registration is gone: 404 on delete and on get.
    assert.equal(await client.deleteRunner(scope, jit.runnerId), 'not-found');
    assert.equal(await statusOf(client.getJob('acme', 'app', 1)), 404);

    // An idle registration deleted: 204.
    const idle = await client.generateJitConfig(scope, { name: `jp-conf-${scope.kind}-3`, runnerGroupId: 1, labels, workFolder: '_work' });
    assert.equal(await client.deleteRunner(scope, idle.runnerId), 'deleted');

    const seen = new Set(exchanges.map((exchange) => `${exchange.method} ${exchange.route} ${exchange.status}`));
    for (const expected of [
      `POST ${prefix}/actions/runners/generate-jitconfig 201`,
      `POST ${prefix}/actions/runners/generate-jitconfig 409`,
      `POST ${prefix}/actions/runners/generate-jitconfig 404`,
      `GET ${prefix}/actions/runners 200`,
      `GET ${prefix}/actions/runners 304`,
      `GET ${prefix}/actions/runners/{runner_id} 200`,
      `POST ${prefix}/actions/runners/registration-token 201`,
      `DELETE ${prefix}/actions/runners/{runner_id} 422`,
      `DELETE ${prefix}/actions/runners/{runner_id} 404`,
      `DELETE ${prefix}/actions/runners/{runner_id} 204`,
      'GET /repos/{owner}/{repo}/actions/jobs/{job_id} 200',
      'GET /repos/{owner}/{repo}/actions/jobs/{job_id} 404',
    ]) {
      assert.ok(seen.has(expected), `not exercised: ${expected}`);
    }
    assertConforms(exchanges);
  });
}

test('workflow run endpoints and rate_limit conform (the poller backstop reads them)', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, exchanges, octokit } = await startRecordedSim(t);
  const first = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1 });
  sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1, runId: first.runId });
  const waiting = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['gpu'], durationMs: 1, waitingForApproval: true });
  sim.cancelJob(sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1 }).id);

  const runs = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'app', status: 'queued', per_page: 10 });
  assert.equal(runs.data.total_count, 1);
  await octokit.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'app' });
  await octokit.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'app', status: 'waiting' });
  await octokit.rest.actions.getWorkflowRun({ owner: 'acme', repo: 'app', run_id: first.runId });
  await octokit.rest.actions.getWorkflowRun({ owner: 'acme', repo: 'app', run_id: waiting.runId });
  await octokit.rest.actions.listJobsForWorkflowRun({ owner: 'acme', repo: 'app', run_id: first.runId, filter: 'latest', per_page: 1 });
  await octokit.rest.actions.getJobForWorkflowRun({ owner: 'acme', repo: 'app', job_id: waiting.id });
  assert.equal(await statusOf(octokit.rest.actions.getWorkflowRun({ owner: 'acme', repo: 'app', run_id: 42 })), 404);
  await octokit.rest.rateLimit.get();

  const routes = new Set(exchanges.map((exchange) => `${exchange.method} ${exchange.route}`));
  for (const route of ['GET /repos/{owner}/{repo}/actions/runs', 'GET /repos/{owner}/{repo}/actions/runs/{run_id}', 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', 'GET /rate_limit']) {
    assert.ok(routes.has(route), `not exercised: ${route}`);
  }
  assertConforms(exchanges);
});

test('error answers conform and carry x-ratelimit-* headers: 401, 403 exhausted, 429 secondary with Retry-After, 5xx', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, exchanges, octokit } = await startRecordedSim(t, { rateLimit: { limit: 4 } });
  const unauthenticated = await fetch(`${sim.url}/orgs/acme/actions/runners`);
  assert.equal(unauthenticated.status, 401);

  sim.setFaults({ api: { throttleBurst: 1 } });
  assert.equal(await statusOf(octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme' })), 429);
  sim.setFaults({ api: { errorRate: 1 } });
  assert.ok([500, 502, 503].includes(await statusOf(octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme' }))));
  sim.setFaults({});
  while ((await statusOf(octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme' }))) === 0);
  assert.equal(await statusOf(octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme' })), 403);

  const statuses = exchanges.map((exchange) => exchange.status);
  for (const status of [401, 429, 403]) assert.ok(statuses.includes(status), `no ${status} seen`);
  const throttled = exchanges.find((exchange) => exchange.status === 429);
  assert.equal(throttled?.responseHeaders['retry-after'], '1');
  assert.match(String((throttled?.responseBody as { message?: string }).message), /You have exceeded a secondary rate limit/);
  for (const exchange of exchanges.filter((e) => e.status !== 401)) {
    for (const header of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-used', 'x-ratelimit-reset', 'x-ratelimit-resource']) {
      assert.ok(exchange.responseHeaders[header] !== undefined, `${exchange.status} answer lacks ${header}`);
    }
  }
  assertConforms(exchanges);
});

test('the validator catches a drifted answer, a drifted request and an undocumented endpoint', () => {
  const good: SimExchange = {
    method: 'GET',
    route: '/orgs/{org}/actions/runners',
    url: '/orgs/acme/actions/runners',
    params: { org: 'acme' },
    query: { per_page: '100', page: '1' },
    requestBody: undefined,
    status: 200,
    responseHeaders: {},
    responseBody: { total_count: 1, runners: [{ id: 1, name: 'r', os: 'linux', status: 'online', busy: false, labels: [{ id: 1, name: 'linux', type: 'read-only' }] }] },
  };
  assert.deepEqual(validator.validateExchange(good), []);
  // A runner without `busy` and with a string id: GitHub's description requires an integer id and `busy`.
  const brokenRunner = { id: '1', name: 'r', os: 'linux', status: 'online', labels: [] };
  const drifted = validator.validateResponse({ ...good, responseBody: { total_count: 1, runners: [brokenRunner] } });
  assert.ok(drifted.some((problem) => problem.includes('busy')), drifted.join('\n'));
  assert.ok(drifted.some((problem) => problem.includes('/runners/0/id')), drifted.join('\n'));
  // A JIT config request without labels, and an unknown query parameter.
  const badRequest = validator.validateRequest({ method: 'POST', route: '/orgs/{org}/actions/runners/generate-jitconfig', params: { org: 'acme' }, query: {}, requestBody: { name: 'r', runner_group_id: 1 } });
  assert.ok(badRequest.some((problem) => problem.includes('labels')), badRequest.join('\n'));
  assert.ok(validator.validateRequest({ ...good, query: { per_page: '100', bogus: 'x' } }).some((problem) => problem.includes('bogus')));
  assert.notDeepEqual(validator.validateResponse({ ...good, route: '/orgs/{org}/actions/nonsense' }), []);
  // A 204 with a body is a drift too.
  assert.notDeepEqual(validator.validateResponse({ method: 'DELETE', route: '/orgs/{org}/actions/runners/{runner_id}', status: 204, responseBody: { ok: true } }), []);
});

test("the poller's and cleanup's requests conform: runs, run jobs, repository discovery, workflow files, runner by name", { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, exchanges, client } = await startRecordedSim(t);
  sim.setWorkflowFile('acme', 'app', '.github/workflows/ci.yml', 'jobs:\n  a:\n    runs-on: [self-hosted, linux]\n');
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 1 });
  const runs = await client.listWorkflowRuns('acme', 'app', 'queued');
  assert.deepEqual(runs.items.map((run) => run.id), [job.runId]);
  assert.equal((await client.listWorkflowRuns('acme', 'app', 'queued')).notModified, true, 'second read is a free 304');
  await client.listWorkflowRuns('acme', 'app', 'in_progress');
  const jobs = await client.listRunJobs('acme', 'app', job.runId);
  assert.deepEqual(jobs.items.map((j) => j.id), [job.id]);
  assert.deepEqual((await client.listScopeRepos('acme')).items, [{ owner: 'acme', repo: 'app', visibility: 'private' }]);
  assert.deepEqual((await client.listWorkflowPaths('acme', 'app')).items, ['.github/workflows/ci.yml']);
  assert.match((await client.getFileText('acme', 'app', '.github/workflows/ci.yml')).text ?? '', /runs-on/);
  assert.equal((await client.getFileText('acme', 'app', '.github/workflows/missing.yml')).text, null);
  await client.generateJitConfig({ kind: 'org', org: 'acme' }, { name: 'jp-conf-find-1', runnerGroupId: 1, labels: ['self-hosted'], workFolder: '_work' });
  assert.equal((await client.getRunnerByName({ kind: 'org', org: 'acme' }, 'jp-conf-find-1'))?.name, 'jp-conf-find-1');
  assert.equal(await client.getRunnerByName({ kind: 'org', org: 'acme' }, 'jp-conf-none'), null);
  const routes = new Set(exchanges.map((exchange) => `${exchange.method} ${exchange.route}`));
  for (const route of ['GET /orgs/{org}/repos', 'GET /repos/{owner}/{repo}/actions/workflows', 'GET /repos/{owner}/{repo}/contents/{path}', 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs']) {
    assert.ok(routes.has(route), `not exercised: ${route}`);
  }
  assertConforms(exchanges);
});

test('runner-group access and repository reads conform: a group, its selected repositories, a repository, a deleted one (404)', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, exchanges, client, octokit } = await startRecordedSim(t);
  const group = sim.createRunnerGroup({ name: 'deploy', visibility: 'selected', selectedRepositories: ['acme/app'] });
  sim.setRepository('acme', 'site', { visibility: 'public' });
  sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1 });
  const read = await client.getRunnerGroup!('acme', group.id);
  assert.deepEqual(read, { id: group.id, name: 'deploy', visibility: 'selected', allowsPublicRepositories: false, isDefault: false });
  assert.equal((await client.getRunnerGroup!('acme', 1)).isDefault, true);
  assert.deepEqual((await client.listRunnerGroupRepositories!('acme', group.id)).items, ['acme/app']);
  assert.equal((await client.listRunnerGroupRepositories!('acme', group.id)).notModified, true, 'second read is a free 304');
  await octokit.request('GET /orgs/{org}/actions/runner-groups', { org: 'acme' });
  assert.deepEqual(await client.getRepository!('acme', 'site'), { owner: 'acme', repo: 'site', visibility: 'public' });
  sim.deleteRepository('acme', 'app');
  assert.equal(await client.getRepository!('acme', 'app'), null);
  assert.equal(await statusOf(client.listWorkflowRuns('acme', 'app', 'queued')), 404);
  const seen = new Set(exchanges.map((exchange) => `${exchange.method} ${exchange.route} ${exchange.status}`));
  for (const expected of [
    'GET /orgs/{org}/actions/runner-groups 200',
    'GET /orgs/{org}/actions/runner-groups/{runner_group_id} 200',
    'GET /orgs/{org}/actions/runner-groups/{runner_group_id}/repositories 200',
    'GET /repos/{owner}/{repo} 200',
    'GET /repos/{owner}/{repo} 404',
  ]) {
    assert.ok(seen.has(expected), `not exercised: ${expected}`);
  }
  assertConforms(exchanges);
});
