import type { GitHubRunner } from '../github/index.ts';
import type { ComputeInfo } from '../providers/index.ts';
import type { PoolMatchSpec } from '../routing/index.ts';
import type { JobRecord, RunnerRecord, RunnerState } from '../store/index.ts';

/** What the planner needs to know about a pool. */
export interface PoolPlanSpec extends PoolMatchSpec {
  minIdle: number;
  max: number;
  bootTimeoutMs: number;
  jobTimeoutMs: number;
  /** An idle runner beyond demand is kept this long before it is scaled down. */
  idleGraceMs: number;
}

/** Launch health of a pool: consecutive failures and the backoff they caused. */
export interface PoolHealth {
  consecutiveFailures: number;
  backoffUntilMs: number;
  lastError: string | null;
}

/** A registration GitHub listed, with the pool whose scope it was listed through. */
export interface ObservedRegistration {
  pool: string;
  runner: GitHubRunner;
  /** When jitpool first saw this registration listed. */
  firstSeenMs: number;
  /** `removed` when the store knows the name as a removed runner (a sure ghost), else `unknown` or `live`. */
  storeState: 'live' | 'removed' | 'unknown';
}

/** Everything one reconcile observed: the store, the providers and (sometimes) GitHub. */
export interface Observed {
  nowMs: number;
  controllerLabel: string;
  pools: readonly PoolPlanSpec[];
  /** Runners not yet removed. */
  runners: readonly RunnerRecord[];
  /** Jobs not yet completed. */
  openJobs: readonly JobRecord[];
  /** All compute the providers list; null when a provider could not be listed (then no compute-based repair). */
  compute: readonly ComputeInfo[] | null;
  /** GitHub's registrations when this reconcile synced with GitHub, else null. */
  registrations: readonly ObservedRegistration[] | null;
  /** Runner ids with an action still running (never planned twice). */
  inFlight: ReadonlySet<string>;
  health: Readonly<Record<string, PoolHealth>>;
  /** A queued job this old while an idle runner waits is re-read from GitHub. @example 60000 */
  staleJobMs: number;
  /** A registration unknown to the store is removed only once it has been listed this long. */
  ghostMinAgeMs: number;
  /** Draining: launch nothing, keep no idle runner (shutdown with `--drain`, end of the demo). */
  draining?: boolean;
  /**
   * Runners an operator asked for on top of demand (`POST /api/v1/runners`), per pool. Planned as
   * launches marked `manual` within the pool's `max`; the controller forgets the request after
   * one pass, so it never turns into standing demand.
   */
  extraDemand?: Readonly<Record<string, number>>;
}

/** One thing the executor should do. */
export type Action =
  | { kind: 'launch'; pool: string; reason: string; manual?: boolean }
  | { kind: 'markOnline'; runnerId: string }
  | { kind: 'markBusy'; runnerId: string; jobId: number | null; reason: string }
  | { kind: 'scaleDown'; runnerId: string; reason: string }
  | { kind: 'cleanup'; runnerId: string; toState: 'finished' | 'failed' | 'lost'; reason: string; exitCode: number | null; force: boolean }
  | { kind: 'removeOrphanCompute'; pool: string; computeId: string; runnerId: string; reason: string }
  | { kind: 'removeGhost'; pool: string; githubRunnerId: number; name: string; reason: string }
  | { kind: 'refreshJob'; jobId: number; owner: string; repo: string }
  | { kind: 'adopt'; runnerId: string; computeId: string; reason: string };

/** States that hold (or are about to hold) a registration and compute, counted against `max`. */
const OCCUPYING: readonly RunnerState[] = ['requested', 'provisioning', 'idle', 'busy', 'stopping', 'failed', 'lost'];
/** States that can still take a queued job. */
const SUPPLY: readonly RunnerState[] = ['requested', 'provisioning', 'idle'];
/** How long a busy runner may outlive its completed job before it is cleaned up anyway. */
const AFTER_JOB_GRACE_MS = 30_000;

/**
 * The one place that decides. Pure: observed state in, actions out, no I/O. Demand is counted
 * per pool (label set), never per job: any idle matching runner may take any matching job.
 */
export function plan(observed: Observed): Action[] {
  const actions: Action[] = [];
  const computeByRunner = new Map<string, ComputeInfo>();
  for (const info of observed.compute ?? []) computeByRunner.set(info.runnerId, info);
  const jobsById = new Map(observed.openJobs.map((job) => [job.id, job]));
  const jobByRunnerName = new Map<string, JobRecord>();
  for (const job of observed.openJobs) if (job.state === 'in_progress' && job.runnerName) jobByRunnerName.set(job.runnerName, job);

  for (const runner of observed.runners) {
    if (observed.inFlight.has(runner.id)) continue;
    const action = planRunner(runner, observed, computeByRunner.get(runner.id), jobsById, jobByRunnerName.get(runner.name));
    if (action) actions.push(action);
  }
  for (const pool of observed.pools) actions.push(...planPool(pool, observed, actions));
  actions.push(...planOrphans(observed));
  if (observed.registrations) actions.push(...planRegistrations(observed, observed.registrations, actions));
  return actions;
}

function planRunner(
  runner: RunnerRecord,
  observed: Observed,
  compute: ComputeInfo | undefined,
  jobsById: Map<number, JobRecord>,
  takenJob: JobRecord | undefined,
): Action | null {
  const pool = observed.pools.find((p) => p.name === runner.pool);
  const ageMs = observed.nowMs - runner.stateSinceMs;
  const cleanup = (toState: 'finished' | 'failed' | 'lost', reason: string, force = false): Action => ({
    kind: 'cleanup', runnerId: runner.id, toState, reason, exitCode: compute?.exitCode ?? null, force,
  });
  switch (runner.state) {
    case 'requested':
      // Not in flight, so the launch that created it died (a crash between decision and side
      // effect). If its compute was created before the crash, the runner may be online, even busy
      // with a job by now: adopt it rather than kill it (truth 2). Without compute, undo the rest.
      if (observed.compute === null) return null;
      if (compute && compute.state !== 'exited') return { kind: 'adopt', runnerId: runner.id, computeId: compute.computeId, reason: 'launch interrupted after its compute was created' };
      if (compute) return cleanup('failed', `launch interrupted; its runner exited with code ${compute.exitCode ?? 'unknown'}`);
      return cleanup('failed', 'launch interrupted before the runner was provisioned');
    case 'finished':
    case 'failed':
    case 'lost':
      // A cleanup that did not complete (crash, provider error): do it again, it is idempotent.
      return cleanup(runner.state, 'resuming cleanup');
    case 'stopping':
      return { kind: 'scaleDown', runnerId: runner.id, reason: 'resuming scale-down' };
  }
  if (observed.compute !== null) {
    if (!compute) return runner.computeId === null && runner.state === 'provisioning' ? cleanup('failed', 'compute was never created') : cleanup('lost', 'compute vanished');
    if (compute.state === 'exited') {
      const exitCode = compute.exitCode;
      if (runner.state === 'busy' || exitCode === 0) return cleanup('finished', `runner exited with code ${exitCode ?? 'unknown'}`);
      // Exited while the controller was away: the outcome is unknown (it may well have run a job
      // whose webhooks were lost), so it is not counted as a launch failure against the pool.
      if (exitCode === null) return cleanup('lost', 'runner exited while its exit code could not be observed');
      return cleanup('failed', `runner exited with code ${exitCode} before taking a job`);
    }
  }
  if (takenJob && (runner.state === 'provisioning' || runner.state === 'idle')) {
    // GitHub gave this runner a job (any matching job, not necessarily the one it was launched for).
    return { kind: 'markBusy', runnerId: runner.id, jobId: takenJob.id, reason: `took job ${takenJob.id}` };
  }
  if (!pool) return runner.state === 'busy' ? null : { kind: 'scaleDown', runnerId: runner.id, reason: 'its pool is no longer configured' };
  if (runner.state === 'provisioning') {
    if (compute?.isOnline) return { kind: 'markOnline', runnerId: runner.id };
    if (ageMs > pool.bootTimeoutMs) return cleanup('failed', `not online after ${Math.round(pool.bootTimeoutMs / 1000)} s (boot timeout)`);
  }
  if (runner.state === 'busy') {
    if (ageMs > pool.jobTimeoutMs) return cleanup('failed', `job timeout: busy for more than ${Math.round(pool.jobTimeoutMs / 1000)} s`, true);
    const job = runner.jobId === null ? undefined : jobsById.get(runner.jobId);
    if (runner.jobId !== null && !job && ageMs > AFTER_JOB_GRACE_MS && runner.updatedAtMs + AFTER_JOB_GRACE_MS < observed.nowMs) {
      return cleanup('finished', 'its job completed but the runner did not exit', true);
    }
  }
  return null;
}

function planPool(pool: PoolPlanSpec, observed: Observed, planned: readonly Action[]): Action[] {
  const actions: Action[] = [];
  const runners = observed.runners.filter((runner) => runner.pool === pool.name);
  const leaving = new Set(planned.filter((a) => a.kind === 'cleanup' || a.kind === 'scaleDown').map((a) => ('runnerId' in a ? a.runnerId : '')));
  const queued = observed.openJobs.filter((job) => job.pool === pool.name && job.state === 'queued');
  const supply = runners.filter((runner) => SUPPLY.includes(runner.state) && !leaving.has(runner.id));
  const occupying = runners.filter((runner) => OCCUPYING.includes(runner.state)).length;
  const want = observed.draining ? 0 : queued.length + pool.minIdle;
  const health = observed.health[pool.name];
  const inBackoff = health !== undefined && health.backoffUntilMs > observed.nowMs;
  const idleGraceMs = observed.draining ? 0 : pool.idleGraceMs;

  const capacity = Math.max(0, pool.max - occupying);
  const demandLaunches = want > supply.length && !inBackoff ? Math.min(want - supply.length, capacity) : 0;
  // An operator's launch comes on top of demand, never past `max`, and not while draining or backing off.
  const manualLaunches = observed.draining || inBackoff ? 0 : Math.min(observed.extraDemand?.[pool.name] ?? 0, capacity - demandLaunches);
  for (let i = 0; i < demandLaunches; i += 1) {
    actions.push({ kind: 'launch', pool: pool.name, reason: `${queued.length} queued, ${supply.length} available, minIdle ${pool.minIdle}` });
  }
  for (let i = 0; i < manualLaunches; i += 1) actions.push({ kind: 'launch', pool: pool.name, reason: 'launched by an operator', manual: true });
  if (demandLaunches === 0 && manualLaunches === 0 && supply.length > want) {
    const idle = supply
      .filter((runner) => runner.state === 'idle' && !observed.inFlight.has(runner.id) && observed.nowMs - runner.stateSinceMs >= idleGraceMs)
      .sort((a, b) => a.stateSinceMs - b.stateSinceMs);
    for (const runner of idle.slice(0, supply.length - want)) {
      actions.push({ kind: 'scaleDown', runnerId: runner.id, reason: `idle beyond demand (${queued.length} queued, minIdle ${pool.minIdle})` });
    }
  }

  // An idle runner next to a long-queued job means our view of the job is stale (a lost webhook).
  const hasIdle = runners.some((runner) => runner.state === 'idle');
  if (hasIdle) {
    for (const job of queued) {
      if (observed.nowMs - job.updatedAtMs > observed.staleJobMs) actions.push({ kind: 'refreshJob', jobId: job.id, owner: job.owner, repo: job.repo });
    }
  }
  return actions;
}

function planOrphans(observed: Observed): Action[] {
  if (observed.compute === null) return [];
  const known = new Set(observed.runners.map((runner) => runner.id));
  return observed.compute
    .filter((info) => !known.has(info.runnerId) && !observed.inFlight.has(info.runnerId))
    .map((info) => ({ kind: 'removeOrphanCompute', pool: info.pool, computeId: info.computeId, runnerId: info.runnerId, reason: 'compute unknown to the store' }) as const);
}

function planRegistrations(observed: Observed, registrations: readonly ObservedRegistration[], planned: readonly Action[]): Action[] {
  const actions: Action[] = [];
  const byName = new Map(observed.runners.map((runner) => [runner.name, runner]));
  const touched = new Set(planned.map((a) => ('runnerId' in a ? a.runnerId : '')));
  const ourLabel = observed.controllerLabel.toLowerCase();
  const seen = new Set<number>();
  for (const { pool, runner: registration, firstSeenMs, storeState } of registrations) {
    if (seen.has(registration.id)) continue;
    seen.add(registration.id);
    if (!registration.labels.some((label) => label.toLowerCase() === ourLabel)) continue;
    const runner = byName.get(registration.name);
    if (!runner) {
      // Never remove a busy registration: GitHub would refuse, and the job must finish (truth 2).
      // A runner the store removed is surely dead; an unknown name waits out the minimum age
      // (a store restored from a backup, a clock skew) before it is called a ghost.
      const isOldEnough = storeState === 'removed' || observed.nowMs - firstSeenMs >= observed.ghostMinAgeMs;
      if (!registration.busy && isOldEnough) {
        actions.push({ kind: 'removeGhost', pool, githubRunnerId: registration.id, name: registration.name, reason: `registration (${registration.status}) of a ${storeState === 'removed' ? 'removed' : 'unknown'} runner` });
      }
      continue;
    }
    if (observed.inFlight.has(runner.id) || touched.has(runner.id)) continue;
    if (registration.busy && (runner.state === 'provisioning' || runner.state === 'idle')) {
      actions.push({ kind: 'markBusy', runnerId: runner.id, jobId: null, reason: 'GitHub reports it busy' });
    } else if (registration.status === 'online' && runner.state === 'provisioning') {
      actions.push({ kind: 'markOnline', runnerId: runner.id });
    }
  }
  return actions;
}
