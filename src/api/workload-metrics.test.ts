import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { authHeader, startTestRuntime } from '../cli/runtime-test-helpers.ts';

/** The value of one sample line of the exposition text, e.g. `jitpool_jobs_waiting{pool="linux",repository="acme/app"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('workload metrics (the names operators query)', () => {
  it('queue and execution durations per pool and repository, jobs waiting/running, desired vs actual runners', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const { store } = runtime;
    const job = (id: number, repo: string, state: 'queued' | 'in_progress' | 'completed', times: { startedAtMs?: number; completedAtMs?: number } = {}) =>
      store.observeJob(
        { id, runId: id, owner: 'acme', repo, name: `build (${id})`, labels: ['self-hosted', 'linux'], state, conclusion: state === 'completed' ? 'success' : null, runnerName: null, queuedAtMs: 10_000, startedAtMs: times.startedAtMs ?? null, completedAtMs: times.completedAtMs ?? null },
        'linux',
        'test',
      );
    job(1, 'app', 'queued');
    job(2, 'app', 'queued');
    job(3, 'site', 'queued');
    job(3, 'site', 'in_progress', { startedAtMs: 25_000 });
    job(4, 'site', 'queued');
    job(4, 'site', 'in_progress', { startedAtMs: 12_000 });
    job(4, 'site', 'completed', { startedAtMs: 12_000, completedAtMs: 72_000 });
    store.setPoolOverride({ pool: 'gpu', minIdle: 1, max: 1, target: 1, actor: 'test' });

    const res = await runtime.server!.inject({ url: '/metrics', headers: authHeader });
    assert.equal(res.statusCode, 200);
    const text = res.body;
    assert.equal(sample(text, 'jitpool_jobs_waiting{pool="linux",repository="acme/app"}'), 2);
    assert.equal(sample(text, 'jitpool_jobs_running{pool="linux",repository="acme/site"}'), 1);
    // Job 3 waited 15 s, job 4 waited 2 s: both in the 20 s bucket, one in the 2 s bucket.
    assert.equal(sample(text, 'jitpool_job_queue_duration_seconds_count{pool="linux",repository="acme/site"}'), 2);
    assert.equal(sample(text, 'jitpool_job_queue_duration_seconds_bucket{le="2",pool="linux",repository="acme/site"}'), 1);
    assert.equal(sample(text, 'jitpool_job_queue_duration_seconds_sum{pool="linux",repository="acme/site"}'), 17);
    assert.equal(sample(text, 'jitpool_job_execution_duration_seconds_sum{pool="linux",repository="acme/site",conclusion="success"}'), 60);
    // linux: 2 waiting + minIdle 0, nothing running yet; gpu: minIdle 1 from the override.
    assert.equal(sample(text, 'jitpool_pool_desired_runners{pool="linux"}'), 2);
    assert.equal(sample(text, 'jitpool_pool_desired_runners{pool="gpu"}'), 1);
    assert.equal(sample(text, 'jitpool_pool_actual_runners{pool="linux"}'), 0);
    assert.equal(sample(text, 'jitpool_pool_max_runners{pool="linux"}'), 3);
    assert.equal(sample(text, 'jitpool_pool_min_idle{pool="gpu"}'), 1);
    assert.equal(sample(text, 'jitpool_runners_current{pool="linux",state="idle"}'), 0);

    // A launch shows up as actual runners.
    await runtime.controller.reconcileOnce({ syncGitHub: false });
    const after = (await runtime.server!.inject({ url: '/metrics', headers: authHeader })).body;
    assert.equal(sample(after, 'jitpool_pool_actual_runners{pool="linux"}'), 2, after.split('\n').filter((l) => l.includes('runners')).join('\n'));
  });
});

describe('examples/grafana/jitpool-dashboard.json', () => {
  it('queries only metrics jitpool exports', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const exported = new Set((await runtime.metrics.registry.getMetricsAsJSON()).map((metric) => metric.name));
    const dashboard = JSON.parse(readFileSync(new URL('../../examples/grafana/jitpool-dashboard.json', import.meta.url), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const queried = new Set(dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => target.expr.match(/\bjitpool_[a-z_]+/g) ?? [])));
    assert.ok(queried.size >= 10, [...queried].join(', '));
    for (const name of queried) assert.ok(exported.has(name.replace(/_(bucket|count|sum)$/, '')), `${name} is not exported`);
  });
});
