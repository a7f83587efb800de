import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Store, TransitionRecord } from '../store/index.ts';

/**
 * The metrics operators of actions-runner-controller, garm and terraform-aws-github-runner query
 * most, under jitpool's names (docs/metrics.md maps them to ARC's `gha_*`): how long jobs wait
 * and run, how many wait and run now, runners by state, and each pool's desired against actual
 * runners. Labels are bounded: `pool` (the config's pools), `repository` (`owner/repo`, only
 * repositories the pools' scopes cover and that queued a job), `conclusion` (GitHub's fixed set).
 * Job names (matrix expansions) are never labels.
 */

/** A pool's limits as the controller applies them (config plus `pool scale` overrides). */
export interface PoolLimits {
  name: string;
  minIdle: number;
  max: number;
}

/** Queue waits from seconds to hours (a job may wait for a scale-up, or for an operator). */
const QUEUE_BUCKETS_SECONDS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
/** Job run times from seconds to GitHub's 6-hour job limit. */
const EXECUTION_BUCKETS_SECONDS = [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600];
/** Runner start-up: a process starts in a second, a VM in minutes. */
const STARTUP_BUCKETS_SECONDS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

/** Runner states that are on their way to, or doing, a job. */
const ACTUAL_STATES = new Set(['requested', 'provisioning', 'idle', 'busy']);

/** Registers the workload metrics on `registry`; returns the transition observer that feeds the histograms. */
export function registerWorkloadMetrics(registry: Registry, options: { store: Store; pools: () => readonly PoolLimits[] }): (transition: TransitionRecord) => void {
  const { store, pools } = options;
  const registers = [registry];
  const queueDuration = new Histogram({
    name: 'jitpool_job_queue_duration_seconds', help: 'Time from a job queued to its start on a runner, per pool and repository.',
    labelNames: ['pool', 'repository'], buckets: QUEUE_BUCKETS_SECONDS, registers,
  });
  const executionDuration = new Histogram({
    name: 'jitpool_job_execution_duration_seconds', help: 'Time from a job started to completed, per pool, repository and conclusion.',
    labelNames: ['pool', 'repository', 'conclusion'], buckets: EXECUTION_BUCKETS_SECONDS, registers,
  });
  const startupDuration = new Histogram({
    name: 'jitpool_runner_startup_duration_seconds', help: 'Time from a runner requested to online and ready for a job, per pool.',
    labelNames: ['pool'], buckets: STARTUP_BUCKETS_SECONDS, registers,
  });

  const openJobs = () => store.listOpenJobs();
  new Gauge({
    name: 'jitpool_jobs_waiting', help: 'Jobs queued now that a pool can serve, per pool and repository.', labelNames: ['pool', 'repository'], registers,
    collect() {
      this.reset();
      for (const [key, count] of tally(openJobs().filter((job) => job.state === 'queued' && job.pool !== null && !job.unservableReason), (job) => [job.pool!, `${job.owner}/${job.repo}`])) this.set(key, count);
    },
  });
  new Gauge({
    name: 'jitpool_jobs_running', help: 'Jobs running now on a runner of a pool, per pool and repository.', labelNames: ['pool', 'repository'], registers,
    collect() {
      this.reset();
      for (const [key, count] of tally(openJobs().filter((job) => job.state === 'in_progress' && job.pool !== null), (job) => [job.pool!, `${job.owner}/${job.repo}`])) this.set(key, count);
    },
  });
  new Gauge({
    name: 'jitpool_runners_current', help: 'Runners per pool and state now (requested, provisioning, idle, busy, and finished/failed/lost until removed).', labelNames: ['pool', 'state'], registers,
    collect() {
      this.reset();
      for (const pool of pools()) for (const state of ACTUAL_STATES) this.set({ pool: pool.name, state }, 0);
      for (const row of store.countRunnersByState()) if (row.state !== 'removed') this.set({ pool: row.pool ?? '', state: row.state }, row.count);
    },
  });
  const perPool = (name: string, help: string, value: (pool: PoolLimits, counts: PoolCounts) => number) =>
    new Gauge({
      name, help, labelNames: ['pool'], registers,
      collect() {
        this.reset();
        const counts = poolCounts(store);
        for (const pool of pools()) this.set({ pool: pool.name }, value(pool, counts.get(pool.name) ?? { actual: 0, busy: 0, waiting: 0 }));
      },
    });
  perPool('jitpool_pool_desired_runners', 'Runners the pool wants: busy + waiting jobs + minIdle, at most max.', (pool, c) => Math.min(pool.max, c.busy + c.waiting + pool.minIdle));
  perPool('jitpool_pool_actual_runners', 'Runners the pool has: requested, provisioning, idle or busy.', (_pool, c) => c.actual);
  perPool('jitpool_pool_min_idle', "The pool's minIdle (config or `pool scale`).", (pool) => pool.minIdle);
  perPool('jitpool_pool_max_runners', "The pool's max (config or `pool scale`).", (pool) => pool.max);

  return (transition) => {
    if (transition.entity === 'job' && transition.toState === 'completed') {
      const job = store.getJob(Number(transition.entityId));
      if (!job || job.pool === null || job.startedAtMs === null) return;
      const completedAtMs = job.completedAtMs ?? transition.atMs;
      executionDuration.observe({ pool: job.pool, repository: `${job.owner}/${job.repo}`, conclusion: job.conclusion ?? 'unknown' }, Math.max(0, completedAtMs - job.startedAtMs) / 1000);
    }
    if (transition.entity === 'job' && (transition.toState === 'in_progress' || transition.toState === 'completed') && (transition.fromState === 'queued' || transition.fromState === 'waiting')) {
      const job = store.getJob(Number(transition.entityId));
      if (!job || job.pool === null) return;
      const startedAtMs = job.startedAtMs ?? (transition.toState === 'in_progress' ? transition.atMs : null);
      if (startedAtMs !== null) queueDuration.observe({ pool: job.pool, repository: `${job.owner}/${job.repo}` }, Math.max(0, startedAtMs - job.queuedAtMs) / 1000);
    }
    if (transition.entity === 'runner' && transition.fromState === 'provisioning' && (transition.toState === 'idle' || transition.toState === 'busy')) {
      const runner = store.getRunner(transition.entityId);
      startupDuration.observe({ pool: runner.pool }, Math.max(0, transition.atMs - runner.createdAtMs) / 1000);
    }
  };
}

interface PoolCounts {
  actual: number;
  busy: number;
  waiting: number;
}

function poolCounts(store: Store): Map<string, PoolCounts> {
  const counts = new Map<string, PoolCounts>();
  const of = (pool: string) => counts.get(pool) ?? counts.set(pool, { actual: 0, busy: 0, waiting: 0 }).get(pool)!;
  for (const row of store.countRunnersByState()) {
    if (row.pool === null || !ACTUAL_STATES.has(row.state)) continue;
    of(row.pool).actual += row.count;
    if (row.state === 'busy') of(row.pool).busy += row.count;
  }
  for (const job of store.listOpenJobs()) if (job.state === 'queued' && job.pool !== null && !job.unservableReason) of(job.pool).waiting += 1;
  return counts;
}

function tally<T>(items: readonly T[], keyOf: (item: T) => [string, string]): Array<[{ pool: string; repository: string }, number]> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const key = JSON.stringify(keyOf(item));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, count]) => {
    const [pool, repository] = JSON.parse(key) as [string, string];
    return [{ pool, repository }, count];
  });
}
