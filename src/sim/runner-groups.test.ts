import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isJitpoolError, silentLogger } from '../core/index.ts';
import { simOctokit } from './sim-test-helpers.ts';
import { SimState } from './sim-state.ts';
import { startSimulator } from './simulator.ts';
import type { SimJob, SimScope } from './types.ts';

const ORG: SimScope = { kind: 'org', org: 'acme' };

function onlineRunner(state: SimState, name: string, labels: string[], groupId: number, scope: SimScope = ORG) {
  const runner = state.registerRunner({ name, scope, groupId, labels });
  state.markOnline(runner);
  return runner;
}

test('a runner of a selected-visibility group only takes jobs of its selected repositories; the default group serves all', () => {
  const state = new SimState(silentLogger());
  const restricted = state.groups.create({ name: 'deploy', visibility: 'selected', selectedRepositories: ['acme/app'] });
  const other = state.queueJob({ owner: 'acme', repo: 'site', labels: ['linux'], durationMs: 1 });
  const own = state.queueJob({ owner: 'ACME', repo: 'App', labels: ['linux'], durationMs: 1 });
  const groupRunner = onlineRunner(state, 'jp-deploy-1', ['linux'], restricted.id);
  assert.equal(state.job(own.id)?.runnerId, groupRunner.id, 'the group serves acme/app (case-insensitive)');
  assert.equal(state.job(other.id)?.status, 'queued', 'the group does not serve acme/site');
  const defaultRunner = onlineRunner(state, 'jp-default-1', ['linux'], 1);
  assert.equal(state.job(other.id)?.runnerId, defaultRunner.id);
  assert.equal(state.job(own.id)?.runnerGroupName, 'deploy');

  // Widening the selection lets the group's next runner take the other repository's jobs.
  state.groups.setRepositories(restricted.id, ['acme/app', 'acme/site']);
  const later = state.queueJob({ owner: 'acme', repo: 'site', labels: ['linux'], durationMs: 1 });
  const second = onlineRunner(state, 'jp-deploy-2', ['linux'], restricted.id);
  assert.equal(state.job(later.id)?.runnerId, second.id);
});

test('a job that targets a group waits for that group even when another group could serve it', () => {
  const state = new SimState(silentLogger());
  const gpu = state.groups.create({ name: 'gpu' });
  const job = state.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1, runnerGroupId: gpu.id });
  onlineRunner(state, 'jp-default-1', ['linux'], 1);
  assert.equal(state.job(job.id)?.status, 'queued');
  const runner = onlineRunner(state, 'jp-gpu-1', ['linux'], gpu.id);
  assert.equal(state.job(job.id)?.runnerId, runner.id);
});

test('group specs are validated', () => {
  const state = new SimState(silentLogger());
  assert.throws(() => state.groups.create({ name: ' ' }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
  assert.throws(() => state.groups.create({ name: 'Default' }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
  assert.throws(() => state.groups.create({ name: 'x', visibility: 'selected', selectedRepositories: ['no-slash'] }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
  assert.throws(() => state.groups.setRepositories(99, []), (err) => isJitpoolError(err, 'JP_GITHUB_NOT_FOUND'));
});

test('waiting for approval: webhook-visible status waiting, not assignable until approved, then queued → in_progress; cancellable while waiting', () => {
  const state = new SimState(silentLogger());
  const events: Array<[number, string]> = [];
  state.on('job', (job: SimJob) => events.push([job.id, job.status]));
  const gated = state.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1, waitingForApproval: true });
  const runner = onlineRunner(state, 'jp-a-1', ['linux'], 1);
  assert.equal(state.job(gated.id)?.status, 'waiting');
  assert.equal(runner.isBusy, false);
  const run = state.run(gated.runId);
  assert.ok(run);
  assert.equal(state.runStatus(run).status, 'waiting');
  state.approveJob(gated.id);
  assert.equal(state.job(gated.id)?.runnerId, runner.id);
  assert.deepEqual(events, [
    [gated.id, 'waiting'],
    [gated.id, 'queued'],
    [gated.id, 'in_progress'],
  ]);
  assert.throws(() => state.approveJob(gated.id), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));

  const refused = state.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1, waitingForApproval: true });
  state.cancelJob(refused.id);
  assert.equal(state.job(refused.id)?.status, 'completed');
  assert.equal(state.job(refused.id)?.conclusion, 'cancelled');
});

test('REST: a JIT config names an existing group; repository runners only have the default group', { timeout: 60_000 }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const octokit = simOctokit(sim);
  const group = sim.createRunnerGroup({ name: 'restricted', visibility: 'selected', selectedRepositories: ['acme/app'] });
  assert.deepEqual(sim.runnerGroups().map((g) => g.name), ['Default', 'restricted']);
  const { data } = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'acme', name: 'jp-r-1', runner_group_id: group.id, labels: ['linux'] });
  assert.equal(data.runner.runner_group_id, group.id);
  await assert.rejects(octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'acme', name: 'jp-r-2', runner_group_id: 77, labels: ['linux'] }), { status: 404 });
  await assert.rejects(
    octokit.rest.actions.generateRunnerJitconfigForRepo({ owner: 'acme', repo: 'app', name: 'jp-r-3', runner_group_id: group.id, labels: ['linux'] }),
    { status: 404 },
  );
});

test('public repositories: no group serves them unless it allows public repositories (GitHub\'s default is not to)', () => {
  const state = new SimState(silentLogger());
  state.repos.setVisibility('acme', 'site', 'public');
  const job = state.queueJob({ owner: 'acme', repo: 'site', labels: ['linux'], durationMs: 1 });
  onlineRunner(state, 'jp-default-1', ['linux'], 1);
  assert.equal(state.job(job.id)?.status, 'queued', 'the Default group does not allow public repositories');
  const open = state.groups.create({ name: 'open', allowsPublicRepositories: true });
  const runner = onlineRunner(state, 'jp-open-1', ['linux'], open.id);
  assert.equal(state.job(job.id)?.runnerId, runner.id);
});

test('a deleted repository: its queued jobs are never assigned and its REST paths answer 404', { timeout: 60_000 }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const octokit = simOctokit(sim);
  const job = sim.queueJob({ owner: 'acme', repo: 'old', labels: ['linux'], durationMs: 1 });
  sim.setRepository('acme', 'site', { visibility: 'public' });
  assert.equal((await octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'site' })).data.visibility, 'public');
  assert.equal((await octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'old' })).data.private, true);
  sim.deleteRepository('acme', 'old');
  for (const route of ['GET /repos/{owner}/{repo}', 'GET /repos/{owner}/{repo}/actions/runs', 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}']) {
    await assert.rejects(octokit.request(route, { owner: 'acme', repo: 'old', job_id: job.id }), { status: 404 }, route);
  }
  const { data: repos } = await octokit.request('GET /orgs/{org}/repos', { org: 'acme' });
  assert.ok(!repos.some((r) => r.name === 'old'));
  const state = new SimState(silentLogger());
  const queued = state.queueJob({ owner: 'acme', repo: 'old', labels: ['linux'], durationMs: 1 });
  state.repos.delete('acme', 'old');
  onlineRunner(state, 'jp-default-1', ['linux'], 1);
  state.assign();
  assert.equal(state.job(queued.id)?.status, 'queued');
});

test('REST: runner groups and the repositories of a selected group, as GitHub returns them', { timeout: 60_000 }, async (t) => {
  const sim = await startSimulator();
  t.after(() => sim.close());
  const octokit = simOctokit(sim);
  const group = sim.createRunnerGroup({ name: 'deploy', visibility: 'selected', selectedRepositories: ['acme/app'], allowsPublicRepositories: true });
  const { data } = await octokit.request('GET /orgs/{org}/actions/runner-groups/{runner_group_id}', { org: 'acme', runner_group_id: group.id });
  assert.equal(data.visibility, 'selected');
  assert.equal(data.allows_public_repositories, true);
  const { data: defaultGroup } = await octokit.request('GET /orgs/{org}/actions/runner-groups/{runner_group_id}', { org: 'acme', runner_group_id: 1 });
  assert.equal(defaultGroup.allows_public_repositories, false);
  const { data: repos } = await octokit.request('GET /orgs/{org}/actions/runner-groups/{runner_group_id}/repositories', { org: 'acme', runner_group_id: group.id });
  assert.deepEqual(repos.repositories.map((r) => r.full_name), ['acme/app']);
  await assert.rejects(octokit.request('GET /orgs/{org}/actions/runner-groups/{runner_group_id}', { org: 'acme', runner_group_id: 99 }), { status: 404 });
});
