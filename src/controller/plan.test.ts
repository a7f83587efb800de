import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ComputeInfo } from '../providers/index.ts';
import type { JobRecord, RunnerRecord, RunnerState } from '../store/index.ts';
import { plan, type Action, type Observed, type PoolPlanSpec } from './plan.ts';

const NOW = 1_000_000_000;
const POOL: PoolPlanSpec = {
  name: 'linux',
  labels: ['self-hosted', 'linux', 'x64'],
  scope: { kind: 'org', org: 'acme' },
  minIdle: 0,
  max: 3,
  bootTimeoutMs: 300_000,
  jobTimeoutMs: 7_200_000,
  idleGraceMs: 0,
};

let nextId = 0;
function runner(state: RunnerState, patch: Partial<RunnerRecord> = {}): RunnerRecord {
  nextId += 1;
  const id = `r${nextId}`;
  return {
    id, name: `jp-linux-${id}`, pool: 'linux', state, labels: POOL.labels.slice(), githubRunnerId: nextId, computeId: `jp-linux-${id}`,
    jobId: null, createdAtMs: NOW - 10_000, updatedAtMs: NOW - 10_000, stateSinceMs: NOW - 10_000, exitCode: null, lastError: null, outputTail: null, version: 0, teardown: null,
    ...patch,
  };
}

function job(id: number, state: JobRecord['state'], patch: Partial<JobRecord> = {}): JobRecord {
  return {
    id, runId: id, owner: 'acme', repo: 'app', name: `job ${id}`, labels: ['self-hosted', 'linux'], state, conclusion: null, pool: 'linux',
    runnerName: null, queuedAtMs: NOW - 5000, startedAtMs: null, completedAtMs: null, updatedAtMs: NOW - 5000, ...patch,
  };
}

function computeFor(r: RunnerRecord, patch: Partial<ComputeInfo> = {}): ComputeInfo {
  return {
    computeId: r.computeId ?? r.name, runnerId: r.id, runnerName: r.name, pool: r.pool, controllerId: 'test', state: 'running', exitCode: null,
    isOnline: r.state === 'idle' || r.state === 'busy', createdAtMs: NOW - 10_000, ...patch,
  };
}

function observed(patch: Partial<Observed> & { runners?: RunnerRecord[] } = {}): Observed {
  const runners = patch.runners ?? [];
  return {
    nowMs: NOW, controllerLabel: 'jitpool-test', pools: [POOL], runners, openJobs: [], compute: runners.map((r) => computeFor(r)),
    registrations: null, inFlight: new Set(), health: {}, staleJobMs: 60_000, ghostMinAgeMs: 600_000, ...patch,
  };
}

const kinds = (actions: Action[]) => actions.map((a) => a.kind).sort();

function registration(name: string, extra: { busy?: boolean; status?: 'online' | 'offline' } = {}) {
  return {
    pool: 'linux',
    runner: { id: 99, name, status: extra.status ?? 'offline', busy: extra.busy ?? false, ephemeral: true, labels: [...POOL.labels, 'jitpool-test'] },
    firstSeenMs: NOW - 5000,
    storeState: 'live' as const,
  };
}

function teardownOf(actions: Action[]) {
  const found = actions.find((a) => a.kind === 'teardown');
  assert.ok(found && found.kind === 'teardown', `a teardown in ${JSON.stringify(actions)}`);
  return found;
}

describe('plan', () => {
  const table: Array<{ name: string; input: () => Observed; expect: string[] }> = [
    { name: 'nothing queued, nothing running: no action', input: () => observed(), expect: [] },
    { name: 'scale up on demand: one launch per queued job', input: () => observed({ openJobs: [job(1, 'queued'), job(2, 'queued')] }), expect: ['launch', 'launch'] },
    { name: 'minIdle keeps warm runners with nothing queued', input: () => observed({ pools: [{ ...POOL, minIdle: 2 }] }), expect: ['launch', 'launch'] },
    { name: 'max caps launches', input: () => observed({ openJobs: [1, 2, 3, 4, 5].map((id) => job(id, 'queued')) }), expect: ['launch', 'launch', 'launch'] },
    {
      name: 'busy runners count against max',
      input: () => observed({ runners: [runner('busy'), runner('busy')], openJobs: [job(1, 'queued'), job(2, 'queued')] }),
      expect: ['launch'],
    },
    {
      name: 'a provisioning runner already covers a queued job',
      input: () => observed({ runners: [runner('provisioning')], openJobs: [job(1, 'queued')] }),
      expect: [],
    },
    { name: 'waiting jobs (environment approval) do not create demand', input: () => observed({ openJobs: [job(1, 'waiting')] }), expect: [] },
    {
      name: 'jobs of another pool do not count',
      input: () => observed({ openJobs: [job(1, 'queued', { pool: 'gpu' })] }),
      expect: [],
    },
    {
      name: 'a degraded pool in backoff launches nothing',
      input: () => observed({ openJobs: [job(1, 'queued')], health: { linux: { consecutiveFailures: 3, backoffUntilMs: NOW + 5000, lastError: 'x' } } }),
      expect: [],
    },
    {
      name: 'idle runner beyond demand is scaled down',
      input: () => observed({ runners: [runner('idle')] }),
      expect: ['teardown'],
    },
    {
      name: 'idle runner within minIdle stays',
      input: () => observed({ pools: [{ ...POOL, minIdle: 1 }], runners: [runner('idle')] }),
      expect: [],
    },
    {
      name: 'idle runner inside the grace period stays',
      input: () => observed({ pools: [{ ...POOL, idleGraceMs: 60_000 }], runners: [runner('idle')] }),
      expect: [],
    },
    {
      name: 'busy runners are never scaled down',
      input: () => observed({ runners: [runner('busy'), runner('busy')] }),
      expect: [],
    },
    {
      name: 'job timeout stops a busy runner, and only then',
      input: () => observed({ runners: [runner('busy', { stateSinceMs: NOW - 7_200_001 })] }),
      expect: ['teardown'],
    },
    {
      name: 'boot timeout fails a runner that never came online',
      input: () => observed({ runners: [runner('provisioning', { stateSinceMs: NOW - 300_001 })] }),
      expect: ['teardown'],
    },
    {
      name: 'a runner that printed "Listening for Jobs" is marked online',
      input: () => {
        const r = runner('provisioning');
        return observed({ runners: [r], compute: [computeFor(r, { isOnline: true })] });
      },
      expect: ['markOnline'],
    },
    {
      name: 'exited compute is cleaned up',
      input: () => {
        const r = runner('busy');
        return observed({ runners: [r], compute: [computeFor(r, { state: 'exited', exitCode: 0 })] });
      },
      expect: ['teardown'],
    },
    {
      name: 'compute that exited with an unknown code (while the controller was down) is lost, not a launch failure',
      input: () => {
        const r = runner('idle');
        return observed({ runners: [r], compute: [computeFor(r, { state: 'exited', exitCode: null })] });
      },
      expect: ['teardown'],
    },
    {
      name: 'vanished compute marks the runner lost',
      input: () => observed({ runners: [runner('idle')], compute: [] }),
      expect: ['teardown'],
    },
    {
      name: 'running compute of a configured pool unknown to the store is adopted, never killed',
      input: () => observed({ compute: [computeFor(runner('idle'))] }),
      expect: ['adoptCompute'],
    },
    {
      name: 'exited compute unknown to the store is removed',
      input: () => observed({ compute: [computeFor(runner('idle'), { state: 'exited', exitCode: 0 })] }),
      expect: ['removeOrphanCompute'],
    },
    {
      name: 'running compute of no configured pool is left alone while younger than the ghost minimum age',
      input: () => observed({ compute: [computeFor(runner('idle', { pool: 'gone' }), { createdAtMs: NOW - 1000 })] }),
      expect: [],
    },
    {
      name: 'running compute of no configured pool is removed (deregistration first) once older than the ghost minimum age',
      input: () => observed({ compute: [computeFor(runner('idle', { pool: 'gone' }), { createdAtMs: NOW - 700_000 })] }),
      expect: ['removeOrphanCompute'],
    },
    {
      name: 'unknown compute with an adoption in flight is not planned again',
      input: () => {
        const info = computeFor(runner('idle'));
        return observed({ compute: [info], inFlight: new Set([`compute:${info.computeId}`]) });
      },
      expect: [],
    },
    {
      name: 'boot timeout loses to GitHub reporting the runner busy',
      input: () => {
        const r = runner('provisioning', { stateSinceMs: NOW - 300_001 });
        return observed({ runners: [r], registrations: { listedAtMs: NOW - 1000, items: [registration(r.name, { busy: true, status: 'online' })] } });
      },
      expect: ['markBusy'],
    },
    {
      name: 'a registration listed before the row last changed does not judge it',
      input: () => {
        const r = runner('provisioning', { updatedAtMs: NOW - 500 });
        return observed({ runners: [r], registrations: { listedAtMs: NOW - 1000, items: [registration(r.name, { busy: true, status: 'online' })] } });
      },
      expect: [],
    },
    {
      name: 'GitHub listing the runner online marks it online',
      input: () => {
        const r = runner('provisioning');
        return observed({ runners: [r], registrations: { listedAtMs: NOW - 1000, items: [registration(r.name, { status: 'online' })] } });
      },
      expect: ['markOnline'],
    },
    {
      name: 'without a compute listing, no compute-based repair',
      input: () => observed({ runners: [runner('idle', { stateSinceMs: NOW })], compute: null, pools: [{ ...POOL, idleGraceMs: 60_000 }] }),
      expect: [],
    },
    {
      name: 'a launch interrupted by a crash is cleaned up',
      input: () => observed({ runners: [runner('requested', { githubRunnerId: null, computeId: null })], compute: [] }),
      expect: ['teardown'],
    },
    {
      name: 'a launch interrupted after its compute existed is adopted, not killed (the runner may be busy)',
      input: () => {
        const r = runner('requested', { githubRunnerId: null, computeId: null });
        return observed({ runners: [r], compute: [computeFor(r)] });
      },
      expect: ['adopt'],
    },
    {
      name: 'an interrupted scale-down resumes',
      input: () => observed({ runners: [runner('stopping')] }),
      expect: ['teardown'],
    },
    {
      name: 'an operator launch comes on top of demand',
      input: () => observed({ openJobs: [job(1, 'queued')], extraDemand: { linux: 1 } }),
      expect: ['launch', 'launch'],
    },
    {
      name: 'an operator launch never passes max',
      input: () => observed({ runners: [runner('busy'), runner('busy'), runner('busy')], extraDemand: { linux: 2 } }),
      expect: [],
    },
    {
      name: 'an operator launch fills only what max leaves after demand',
      input: () => observed({ runners: [runner('busy')], openJobs: [job(1, 'queued')], extraDemand: { linux: 5 } }),
      expect: ['launch', 'launch'],
    },
    {
      name: 'an operator launch is not planned while draining',
      input: () => observed({ draining: true, extraDemand: { linux: 1 } }),
      expect: [],
    },
    {
      name: 'an operator launch is not planned while the pool backs off',
      input: () => observed({ extraDemand: { linux: 1 }, health: { linux: { consecutiveFailures: 3, backoffUntilMs: NOW + 5000, lastError: 'x' } } }),
      expect: [],
    },
    {
      name: 'an operator launch for another pool launches nothing here',
      input: () => observed({ extraDemand: { gpu: 1 } }),
      expect: [],
    },
    {
      name: 'a pass with an operator launch scales nothing down',
      input: () => observed({ runners: [runner('idle')], extraDemand: { linux: 1 } }),
      expect: ['launch'],
    },
    {
      name: 'runners with an action in flight are left alone',
      input: () => {
        const r = runner('stopping');
        return observed({ runners: [r], inFlight: new Set([r.id]) });
      },
      expect: [],
    },
  ];
  for (const row of table) {
    it(row.name, () => assert.deepEqual(kinds(plan(row.input())), row.expect.slice().sort()));
  }

  it('a runner that takes "another" job is marked busy with that job, and the other job still has supply', () => {
    // Runner A was launched for job 1, but GitHub gave it job 2 (truth 1). Job 1 is still queued.
    const a = runner('idle');
    const actions = plan(
      observed({
        runners: [a],
        openJobs: [job(1, 'queued'), job(2, 'in_progress', { runnerName: a.name })],
      }),
    );
    const busy = actions.find((x) => x.kind === 'markBusy');
    assert.deepEqual(busy && busy.kind === 'markBusy' ? busy.jobId : null, 2);
    // A is leaving the supply (it is busy), so job 1 gets a new launch.
    assert.equal(actions.filter((x) => x.kind === 'launch').length, 0, 'A still counts until marked busy');
    const next = plan(observed({ runners: [{ ...a, state: 'busy', jobId: 2 }], openJobs: [job(1, 'queued'), job(2, 'in_progress', { runnerName: a.name })] }));
    assert.deepEqual(kinds(next), ['launch']);
  });

  it('operator launches are marked manual, demand launches are not', () => {
    const actions = plan(observed({ openJobs: [job(1, 'queued')], extraDemand: { linux: 1 } }));
    assert.deepEqual(actions.map((a) => (a.kind === 'launch' ? Boolean(a.manual) : a.kind)), [false, true]);
  });

  it('scale-down picks the longest-idle runners first and keeps as many as demand needs', () => {
    const old = runner('idle', { stateSinceMs: NOW - 50_000 });
    const young = runner('idle', { stateSinceMs: NOW - 20_000 });
    const actions = plan(observed({ pools: [{ ...POOL, minIdle: 1 }], runners: [young, old] }));
    assert.deepEqual(actions, [{ kind: 'teardown', runnerId: old.id, version: 0, outcome: 'removed', reason: 'idle beyond demand (0 queued, minIdle 1)', force: false, exitCode: null, launchFailure: false }]);
  });

  it('an unknown exit code is lost (not counted against the pool), a known non-zero one is failed', () => {
    const a = runner('idle');
    const b = runner('idle');
    const actions = plan(observed({ runners: [a, b], compute: [computeFor(a, { state: 'exited', exitCode: null }), computeFor(b, { state: 'exited', exitCode: 2 })] }));
    assert.deepEqual(actions.map((x) => (x.kind === 'teardown' ? [x.outcome, x.launchFailure] : x.kind)), [['lost', false], ['failed', true]]);
  });

  it('job timeout is the one forced teardown, and it ends failed', () => {
    const r = runner('busy', { stateSinceMs: NOW - 7_300_000 });
    const action = teardownOf(plan(observed({ runners: [r] })));
    assert.equal(action.force, true);
    assert.equal(action.outcome, 'failed');
  });

  it('no other teardown is forced: boot timeout, scale-down, vanished compute, a completed job whose runner lingers, a removed pool', () => {
    const cases = [
      observed({ runners: [runner('provisioning', { stateSinceMs: NOW - 300_001 })] }),
      observed({ runners: [runner('idle')] }),
      observed({ runners: [runner('idle')], compute: [] }),
      observed({ runners: [runner('busy', { jobId: 5, stateSinceMs: NOW - 60_000, updatedAtMs: NOW - 60_000 })] }),
      observed({ runners: [runner('idle', { pool: 'gone' })], pools: [POOL] }),
    ];
    for (const input of cases) assert.equal(teardownOf(plan(input)).force, false);
  });

  it('acts on the runner exit code: 3, 4 and 6 are not launch failures; 7 degrades the pool naming runner.version; others are failures', () => {
    const outcome = (exitCode: number) => {
      const r = runner('provisioning');
      return teardownOf(plan(observed({ runners: [r], pools: [{ ...POOL, runnerVersion: '2.330.0' }], compute: [computeFor(r, { state: 'exited', exitCode })] })));
    };
    for (const code of [3, 4, 6]) assert.deepEqual([outcome(code).outcome, outcome(code).launchFailure], ['finished', false], `exit ${code}`);
    for (const code of [1, 2, 5, 42]) assert.deepEqual([outcome(code).outcome, outcome(code).launchFailure], ['failed', true], `exit ${code}`);
    const deprecated = outcome(7);
    assert.equal(deprecated.outcome, 'failed');
    assert.match(deprecated.degradePool ?? '', /runner version 2\.330\.0 is refused by GitHub; set runner\.version/);
  });

  it('an interrupted teardown resumes with the outcome and force the row recorded', () => {
    const r = runner('stopping', { teardown: { outcome: 'failed', isForced: true } });
    const action = teardownOf(plan(observed({ runners: [r] })));
    assert.deepEqual([action.outcome, action.force], ['failed', true]);
  });

  it('every runner action carries the row version it was planned from', () => {
    const r = runner('idle', { version: 7 });
    assert.equal(teardownOf(plan(observed({ runners: [r] }))).version, 7);
  });

  it('ghost registrations carrying our label are removed unless busy; foreign ones are untouched', () => {
    const live = runner('idle', { stateSinceMs: NOW });
    const reg = (id: number, name: string, labels: string[], extra: { busy?: boolean; firstSeenMs?: number; storeState?: 'live' | 'removed' | 'unknown' } = {}) => ({
      pool: 'linux',
      runner: { id, name, status: 'offline' as const, busy: extra.busy ?? false, ephemeral: true, labels },
      firstSeenMs: extra.firstSeenMs ?? NOW - 700_000,
      storeState: extra.storeState ?? 'unknown',
    });
    const actions = plan(
      observed({
        pools: [{ ...POOL, idleGraceMs: 60_000 }],
        runners: [live],
        registrations: { listedAtMs: NOW - 1000, items: [
          reg(1, live.name, ['jitpool-test'], { storeState: 'live' }),
          reg(2, 'jp-linux-dead', ['jitpool-test']),
          reg(3, 'jp-linux-busy', ['jitpool-test'], { busy: true }),
          reg(4, 'someone-else', ['self-hosted']),
          reg(5, 'jp-linux-new', ['jitpool-test'], { firstSeenMs: NOW - 1000 }),
          reg(6, 'jp-linux-removed', ['jitpool-test'], { firstSeenMs: NOW - 1000, storeState: 'removed' }),
          reg(7, 'jp-linux-adopting', ['jitpool-test'], { storeState: 'unknown' }),
        ] },
        compute: [computeFor(live), { ...computeFor(runner('idle')), runnerName: 'jp-linux-adopting', runnerId: 'rx' }],
      }),
    );
    // 2: old enough; 5: too young to be called a ghost; 6: the store removed it, so it is surely dead;
    // 7: its compute runs and is being adopted.
    assert.deepEqual(actions.filter((a) => a.kind === 'removeGhost').map((a) => (a.kind === 'removeGhost' ? a.githubRunnerId : 0)), [2, 6]);
  });

  it('a queued job next to an idle runner for too long is re-read from GitHub', () => {
    const actions = plan(
      observed({
        pools: [{ ...POOL, idleGraceMs: 600_000 }],
        runners: [runner('idle')],
        openJobs: [job(7, 'queued', { updatedAtMs: NOW - 61_000 })],
      }),
    );
    assert.ok(actions.some((a) => a.kind === 'refreshJob' && a.jobId === 7));
  });
});
