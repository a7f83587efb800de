import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateWorkload, type WorkloadOptions } from './workload.ts';

const OPTIONS: WorkloadOptions = {
  jobs: 200,
  seed: 42,
  owner: 'acme',
  repos: ['app', 'api', 'web'],
  labelSets: [['self-hosted', 'linux'], ['self-hosted', 'linux', 'gpu']],
  spanMs: 60_000,
  minDurationMs: 1_000,
  maxDurationMs: 30_000,
  bursts: 4,
};

test('the same seed gives the same workload; another seed another one', () => {
  const a = generateWorkload(OPTIONS);
  assert.deepEqual(generateWorkload(OPTIONS), a);
  assert.notDeepEqual(generateWorkload({ ...OPTIONS, seed: 43 }), a);
});

test('jobs are sorted, within bounds, and bursts put many jobs at nearly the same instant', () => {
  const jobs = generateWorkload(OPTIONS);
  assert.equal(jobs.length, 200);
  assert.equal(new Set(jobs.map((j) => j.name)).size, 200);
  for (let i = 1; i < jobs.length; i++) assert.ok((jobs[i - 1]?.atMs ?? 0) <= (jobs[i]?.atMs ?? 0));
  for (const job of jobs) {
    assert.ok(job.atMs >= 0 && job.atMs < OPTIONS.spanMs);
    assert.ok(job.durationMs >= OPTIONS.minDurationMs && job.durationMs <= OPTIONS.maxDurationMs);
    assert.ok(OPTIONS.repos.includes(job.repo));
    assert.equal(job.owner, 'acme');
  }
  // Some 50 ms window holds at least a quarter of a burst's share (200 / 2 / 4 = 25 jobs).
  const densest = Math.max(...jobs.map((j) => jobs.filter((k) => k.atMs >= j.atMs && k.atMs < j.atMs + 50).length));
  assert.ok(densest >= 20, `densest 50 ms window has ${densest} jobs`);
  const durations = new Set(jobs.map((j) => j.durationMs));
  assert.ok(durations.size > 50, 'durations are mixed');
  assert.deepEqual(generateWorkload({ ...OPTIONS, jobs: 0 }), []);
});
