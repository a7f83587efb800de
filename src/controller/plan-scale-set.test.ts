import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ComputeInfo } from '../providers/index.ts';
import type { JobRecord, RunnerRecord, RunnerState } from '../store/index.ts';
import { plan, type Observed, type PoolPlanSpec } from './plan.ts';

const NOW = 1_000_000_000;
const POOL: PoolPlanSpec = {
  name: 'linux', labels: ['self-hosted', 'linux'], scope: { kind: 'org', org: 'acme' }, minIdle: 0, max: 3, bootTimeoutMs: 300_000, jobTimeoutMs: 7_200_000, idleGraceMs: 0, intake: 'scale-set',
};

let nextId = 0;
function runner(state: RunnerState): RunnerRecord {
  nextId += 1;
  const id = `s${nextId}`;
  return {
    id, name: `jp-linux-${id}`, pool: 'linux', state, labels: POOL.labels.slice(), githubRunnerId: nextId, computeId: `jp-linux-${id}`,
    jobId: null, createdAtMs: NOW - 10_000, updatedAtMs: NOW - 10_000, stateSinceMs: NOW - 10_000, exitCode: null, lastError: null, outputTail: null, version: 0, teardown: null,
  };
}

function computeFor(r: RunnerRecord): ComputeInfo {
  return { computeId: r.computeId ?? r.name, runnerId: r.id, runnerName: r.name, pool: r.pool, controllerId: 'test', state: 'running', exitCode: null, isOnline: r.state !== 'provisioning', createdAtMs: NOW - 10_000 };
}

function observed(pool: Partial<PoolPlanSpec>, runners: RunnerRecord[], assignedJobs: Record<string, number> | undefined, openJobs: JobRecord[] = []): Observed {
  return {
    nowMs: NOW, controllerLabel: 'jitpool-test', pools: [{ ...POOL, ...pool }], runners, openJobs, compute: runners.map(computeFor),
    registrations: null, inFlight: new Set(), health: {}, staleJobMs: 60_000, ghostMinAgeMs: 600_000, assignedJobs,
  };
}

const count = (o: Observed, kind: string) => plan(o).filter((a) => a.kind === kind).length;

describe('plan: scale-set pools want min(minIdle + totalAssignedJobs, max) runners', () => {
  const cases: Array<{ name: string; pool: Partial<PoolPlanSpec>; runners: RunnerState[]; assigned: number | undefined; launches: number; teardowns: number }> = [
    { name: 'assigned jobs beyond max: launch up to max', pool: { max: 2 }, runners: [], assigned: 3, launches: 2, teardowns: 0 },
    { name: 'a busy runner counts as one of the assigned', pool: {}, runners: ['busy', 'idle'], assigned: 2, launches: 0, teardowns: 0 },
    { name: 'minIdle on top of the assigned jobs', pool: { minIdle: 1, max: 10 }, runners: ['busy'], assigned: 3, launches: 3, teardowns: 0 },
    { name: 'idle beyond minIdle scaled down when nothing is assigned', pool: { minIdle: 1 }, runners: ['idle', 'idle'], assigned: 0, launches: 0, teardowns: 1 },
    { name: 'no statistics yet: only minIdle', pool: { minIdle: 1 }, runners: [], assigned: undefined, launches: 1, teardowns: 0 },
    { name: 'busy runners are never scaled down', pool: {}, runners: ['busy', 'busy'], assigned: 0, launches: 0, teardowns: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const o = observed(c.pool, c.runners.map(runner), c.assigned === undefined ? undefined : { linux: c.assigned });
      assert.equal(count(o, 'launch'), c.launches);
      assert.equal(count(o, 'teardown'), c.teardowns);
    });
  }

  it('ignores queued job rows (GitHub assigns the set its jobs; statistics are the demand)', () => {
    const queued: JobRecord = {
      id: 1, runId: 1, owner: 'acme', repo: 'app', name: 'j', labels: ['self-hosted', 'linux'], state: 'queued', conclusion: null, pool: 'linux',
      runnerName: null, queuedAtMs: NOW - 5000, startedAtMs: null, completedAtMs: null, updatedAtMs: NOW - 5000,
    };
    assert.equal(count(observed({}, [], { linux: 0 }, [queued]), 'launch'), 0);
    assert.equal(count(observed({ intake: 'webhook' }, [], undefined, [queued]), 'launch'), 1);
  });
});
