import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../core/index.ts';
import { simOctokit } from './sim-test-helpers.ts';
import { startSimulator } from './simulator.ts';

const TIMEOUT_MS = 60_000;

test('runs and jobs: status filter, jobs of a run, job by id, ETag on lists, run status from its jobs', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator({ logger: silentLogger() });
  t.after(() => sim.close());
  const octokit = simOctokit(sim);

  const a = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1, name: 'lint' });
  const b = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 1, name: 'test', runId: a.runId });
  const elsewhere = sim.queueJob({ owner: 'acme', repo: 'api', labels: ['linux'], durationMs: 1 });
  sim.cancelJob(elsewhere.id);

  const queued = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'app', status: 'queued' });
  assert.equal(queued.data.total_count, 1);
  const [run] = queued.data.workflow_runs;
  assert.equal(run?.id, a.runId);
  assert.equal(run?.status, 'queued');
  assert.equal(run?.repository.full_name, 'acme/app');
  assert.equal(run?.jobs_url, `${sim.url}/repos/acme/app/actions/runs/${a.runId}/jobs`);

  const jobs = await octokit.rest.actions.listJobsForWorkflowRun({ owner: 'acme', repo: 'app', run_id: a.runId, filter: 'latest', per_page: 1 });
  assert.equal(jobs.data.total_count, 2);
  assert.deepEqual(jobs.data.jobs.map((j) => j.name), ['lint']);
  assert.match(jobs.headers.link ?? '', /rel="next"/);

  const job = await octokit.rest.actions.getJobForWorkflowRun({ owner: 'acme', repo: 'app', job_id: b.id });
  assert.equal(job.data.status, 'queued');
  assert.equal(job.data.conclusion, null);
  assert.equal(job.data.run_id, a.runId);
  assert.deepEqual(job.data.labels, ['linux']);
  assert.equal(job.data.runner_id, null);
  assert.equal(job.data.url, `${sim.url}/repos/acme/app/actions/jobs/${b.id}`);
  await assert.rejects(octokit.rest.actions.getJobForWorkflowRun({ owner: 'acme', repo: 'api', job_id: b.id }), { status: 404 });

  const cancelled = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'api', status: 'cancelled' });
  assert.equal(cancelled.data.workflow_runs[0]?.status, 'completed');
  assert.equal(cancelled.data.workflow_runs[0]?.conclusion, 'cancelled');

  const etag = queued.headers.etag ?? '';
  const again = await fetch(`${sim.url}/repos/acme/app/actions/runs?status=queued`, {
    headers: { authorization: 'token t', 'if-none-match': etag },
  });
  assert.equal(again.status, 304);
  sim.cancelJob(a.id);
  sim.cancelJob(b.id);
  const changed = await fetch(`${sim.url}/repos/acme/app/actions/runs?status=queued`, {
    headers: { authorization: 'token t', 'if-none-match': etag },
  });
  assert.equal(changed.status, 200);
  assert.equal(((await changed.json()) as { total_count: number }).total_count, 0);
  assert.equal(sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs'], 1);
});
