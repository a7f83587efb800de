import type { GitHubRunner } from '../github/index.ts';
import type { ComputeInfo } from '../providers/index.ts';
import type { PoolMatchSpec } from '../routing/index.ts';
import { interpretRunnerExit } from '../runner/index.ts';
import type { JobRecord, RunnerRecord, RunnerState, TeardownOutcome } from '../store/index.ts';
import { dueJobRefreshes } from './job-refresh.ts';
import type { WarmWindow } from './warm-schedule.ts';

/** What the planner needs to know about a pool. */
export interface PoolPlanSpec extends PoolMatchSpec {
  minIdle: number;
  max: number;
  bootTimeoutMs: number;
  jobTimeoutMs: number;
  /** An idle runner beyond demand is kept this long before it is scaled down. */
  idleGraceMs: number;
  /** The runner version the pool launches, when jitpool knows it (the pinned runner package). */
  runnerVersion?: string | null;
  /** `scale-set`: demand is the set's `totalAssignedJobs` ({@link Observed.assignedJobs}), not queued job rows. @default webhook */
  intake?: 'webhook' | 'scale-set';
  /** Warm floors by time window (applied by the controller to `minIdle`). @default [] */
  warmSchedule?: readonly WarmWindow[];
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

/** GitHub's runner lists as the last sync saw them. */
export interface RegistrationSnapshot {
  /** When the first list request of the sync was sent: every registration in it existed then. */
  listedAtMs: number;
  items: readonly ObservedRegistration[];
}

/**
 * Everything one reconcile observed. The store rows and the in-flight set are read first, then
 * the providers' compute: compute that existed when a row was read is in the compute list, so a
 * row's compute missing from it has really gone. GitHub's registrations come from the last sync
 * (which runs beside the loop); a row changed after that sync is not judged by it.
 */
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
  /** The last comparison with GitHub's runner lists; null before the first one succeeded. */
  registrations: RegistrationSnapshot | null;
  /** Runner ids (and other action keys) with an action running when the rows were read (never planned twice). */
  inFlight: ReadonlySet<string>;
  health: Readonly<Record<string, PoolHealth>>;
  /** A queued job this old while an idle runner waits is re-read from GitHub. @example 60000 */
  staleJobMs: number;
  /** A registration or running compute unknown to the store is removed only once it is this old. */
  ghostMinAgeMs: number;
  /** Draining: launch nothing, keep no idle runner (shutdown with `--drain`, end of the demo). */
  draining?: boolean;
  /**
   * Runners an operator asked for on top of demand (`POST /api/v1/runners`), per pool. Planned as
   * launches marked `manual` within the pool's `max`; the controller forgets the request after
   * one pass, so it never turns into standing demand.
   */
  extraDemand?: Readonly<Record<string, number>>;
  /**
   * Scale-set pools: the set's `totalAssignedJobs` from its last statistics (jobs GitHub assigned
   * to the set and not yet finished, running ones included). Desired runners are then
   * min(minIdle + totalAssignedJobs, max), as actions-runner-controller's listener computes them.
   * A scale-set pool without statistics yet has no demand beyond minIdle.
   */
  assignedJobs?: Readonly<Record<string, number>>;
}

/**
 * Tears a runner down by the one rule (executor `#teardown`): the registration is deleted first,
 * and GitHub answering "busy" turns the runner `busy` and keeps it, unless `force` (the job
 * timeout) — then its compute is destroyed anyway, logged as such.
 */
export interface TeardownAction {
  kind: 'teardown';
  runnerId: string;
  /** The row version the plan saw; the executor skips the action when the row changed since. */
  version: number;
  /** Where the runner ends: `removed` for a scale-down, else the state recorded on the way. */
  outcome: TeardownOutcome;
  reason: string;
  force: boolean;
  exitCode: number | null;
  /** The pool's launch failed (counted towards its backoff) — only once the teardown really happens. */
  launchFailure: boolean;
  /** Marks the pool degraded at once with this message (a refused runner version). */
  degradePool?: string;
}

/** One thing the executor should do. */
export type Action =
  | { kind: 'launch'; pool: string; reason: string; manual?: boolean }
  | { kind: 'markOnline'; runnerId: string; version: number }
  | { kind: 'markBusy'; runnerId: string; version: number; jobId: number | null; reason: string }
  | TeardownAction
  | { kind: 'adoptCompute'; pool: string; computeId: string; runnerId: string; runnerName: string; createdAtMs: number; reason: string }
  | { kind: 'removeOrphanCompute'; pool: string; computeId: string; runnerName: string; reason: string }
  | { kind: 'removeGhost'; pool: string; githubRunnerId: number; name: string; reason: string }
  | { kind: 'refreshJob'; jobId: number; owner: string; repo: string }
  | { kind: 'adopt'; runnerId: string; version: number; computeId: string; reason: string };

/** States that hold (or are about to hold) a registration and compute, counted against `max`. */
const OCCUPYING: readonly RunnerState[] = ['requested', 'provisioning', 'idle', 'busy', 'stopping', 'finished', 'failed', 'lost'];
/** States that can still take a queued job. */
const SUPPLY: readonly RunnerState[] = ['requested', 'provisioning', 'idle'];
/** How long a busy runner may outlive its completed job before it is torn down (deregistration first). */
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
  const registrationByName = new Map((observed.registrations?.items ?? []).map((item) => [item.runner.name, item.runner]));

  for (const runner of observed.runners) {
    if (observed.inFlight.has(runner.id)) continue;
    // A registration listed before the row last changed says nothing about the row's state now.
    const registration = observed.registrations && observed.registrations.listedAtMs >= runner.updatedAtMs ? registrationByName.get(runner.name) : undefined;
    const action = planRunner(runner, observed, { compute: computeByRunner.get(runner.id), registration, jobsById, takenJob: jobByRunnerName.get(runner.name) });
    if (action) actions.push(action);
  }
  for (const pool of observed.pools) actions.push(...planPool(pool, observed, actions));
  actions.push(...planUnknownCompute(observed));
  if (observed.registrations) actions.push(...planGhosts(observed, observed.registrations.items));
  return actions;
}

interface RunnerView {
  compute: ComputeInfo | undefined;
  registration: GitHubRunner | undefined;
  jobsById: Map<number, JobRecord>;
  takenJob: JobRecord | undefined;
}

function planRunner(runner: RunnerRecord, observed: Observed, view: RunnerView): Action | null {
  const { compute, registration, takenJob } = view;
  const pool = observed.pools.find((p) => p.name === runner.pool);
  const teardown = (outcome: TeardownOutcome, reason: string, extra: Partial<TeardownAction> = {}): TeardownAction => ({
    kind: 'teardown', runnerId: runner.id, version: runner.version, outcome, reason, force: false, exitCode: compute?.exitCode ?? null, launchFailure: false, ...extra,
  });
  switch (runner.state) {
    case 'requested':
      // Not in flight, so the launch that created it died (a crash between decision and side
      // effect). If its compute was created before the crash, the runner may be online, even busy
      // with a job by now: adopt it rather than kill it (truth 2). Without compute, undo the rest.
      if (observed.compute === null) return null;
      if (compute && compute.state !== 'exited') return { kind: 'adopt', runnerId: runner.id, version: runner.version, computeId: compute.computeId, reason: 'launch interrupted after its compute was created' };
      if (compute) return teardown('failed', `launch interrupted; its runner exited with code ${compute.exitCode ?? 'unknown'}`);
      return teardown('failed', 'launch interrupted before the runner was provisioned');
    case 'finished':
    case 'failed':
    case 'lost':
      // A teardown that did not complete (crash, provider error, GitHub still busy): do it again, it is idempotent.
      return teardown(runner.state, 'resuming teardown');
    case 'stopping':
      return teardown(runner.teardown?.outcome ?? 'removed', 'resuming teardown', { force: runner.teardown?.isForced ?? false });
  }
  if (observed.compute !== null) {
    if (!compute) {
      return runner.computeId === null && runner.state === 'provisioning'
        ? teardown('failed', 'compute was never created', { launchFailure: true })
        : teardown('lost', 'compute vanished');
    }
    if (compute.state === 'exited') return planExit(runner, compute, pool, teardown);
  }
  // GitHub (its registration list, or a job that names the runner) saying busy wins over every timeout.
  if (runner.state === 'provisioning' || runner.state === 'idle') {
    if (takenJob) return { kind: 'markBusy', runnerId: runner.id, version: runner.version, jobId: takenJob.id, reason: `took job ${takenJob.id}` };
    if (registration?.busy) return { kind: 'markBusy', runnerId: runner.id, version: runner.version, jobId: null, reason: 'GitHub reports it busy' };
  }
  if (!pool) return runner.state === 'busy' ? null : teardown('removed', 'its pool is no longer configured');
  const ageMs = observed.nowMs - runner.stateSinceMs;
  if (runner.state === 'provisioning') {
    if (compute?.isOnline || registration?.status === 'online') return { kind: 'markOnline', runnerId: runner.id, version: runner.version };
    if (ageMs > pool.bootTimeoutMs) return teardown('failed', `not online after ${Math.round(pool.bootTimeoutMs / 1000)} s (boot timeout)`, { launchFailure: true });
  }
  if (runner.state === 'busy') {
    if (ageMs > pool.jobTimeoutMs) return teardown('failed', `job timeout: busy for more than ${Math.round(pool.jobTimeoutMs / 1000)} s`, { force: true });
    const job = runner.jobId === null ? undefined : view.jobsById.get(runner.jobId);
    if (runner.jobId !== null && !job && ageMs > AFTER_JOB_GRACE_MS && runner.updatedAtMs + AFTER_JOB_GRACE_MS < observed.nowMs) {
      return teardown('finished', 'its job completed but the runner did not exit');
    }
  }
  return null;
}

/** A runner's compute exited: what its exit code says (the runner contract) decides the outcome. */
function planExit(runner: RunnerRecord, compute: ComputeInfo, pool: PoolPlanSpec | undefined, teardown: (outcome: TeardownOutcome, reason: string, extra?: Partial<TeardownAction>) => TeardownAction): TeardownAction {
  const code = compute.exitCode;
  if (runner.state === 'busy' || code === 0) return teardown('finished', `runner exited with code ${code ?? 'unknown'}`);
  // Exited while the controller was away: the outcome is unknown (it may well have run a job
  // whose webhooks were lost), so it is not counted as a launch failure against the pool.
  if (code === null) return teardown('lost', 'runner exited while its exit code could not be observed');
  const meaning = interpretRunnerExit(code);
  if (meaning.kind === 'version-deprecated') {
    const version = pool?.runnerVersion ? `runner version ${pool.runnerVersion}` : "the runner's version";
    const message = `${version} is refused by GitHub (exit 7); set runner.version to a current release`;
    return teardown('failed', message, { launchFailure: true, degradePool: `${version} is refused by GitHub; set runner.version` });
  }
  if (!meaning.isLaunchFailure) return teardown('finished', `runner exited with code ${code}: ${meaning.description} (not a launch failure)`);
  return teardown('failed', `runner exited with code ${code} before taking a job: ${meaning.description}`, { launchFailure: true });
}

function planPool(pool: PoolPlanSpec, observed: Observed, planned: readonly Action[]): Action[] {
  const actions: Action[] = [];
  const runners = observed.runners.filter((runner) => runner.pool === pool.name);
  const leaving = new Set(planned.filter((a) => a.kind === 'teardown').map((a) => a.runnerId));
  // A job no runner of the pool may take (its runner group refuses the repository) is never demand.
  const queued = pool.intake === 'scale-set' ? [] : observed.openJobs.filter((job) => job.pool === pool.name && job.state === 'queued' && !job.unservableReason);
  const supply = runners.filter((runner) => SUPPLY.includes(runner.state) && !leaving.has(runner.id));
  const occupying = runners.filter((runner) => OCCUPYING.includes(runner.state)).length;
  // A scale set's assigned jobs include the running ones: those not yet on a busy runner are the demand.
  const busy = runners.filter((runner) => runner.state === 'busy' && !leaving.has(runner.id)).length;
  const waiting = pool.intake === 'scale-set' ? Math.max(0, (observed.assignedJobs?.[pool.name] ?? 0) - busy) : queued.length;
  const want = observed.draining ? 0 : waiting + pool.minIdle;
  const health = observed.health[pool.name];
  const inBackoff = health !== undefined && health.backoffUntilMs > observed.nowMs;
  const idleGraceMs = observed.draining ? 0 : pool.idleGraceMs;

  const capacity = Math.max(0, pool.max - occupying);
  const demandLaunches = want > supply.length && !inBackoff ? Math.min(want - supply.length, capacity) : 0;
  // An operator's launch comes on top of demand, never past `max`, and not while draining or backing off.
  const manualLaunches = observed.draining || inBackoff ? 0 : Math.min(observed.extraDemand?.[pool.name] ?? 0, capacity - demandLaunches);
  for (let i = 0; i < demandLaunches; i += 1) {
    actions.push({ kind: 'launch', pool: pool.name, reason: `${waiting} ${pool.intake === 'scale-set' ? 'assigned to the scale set' : 'queued'}, ${supply.length} available, minIdle ${pool.minIdle}` });
  }
  for (let i = 0; i < manualLaunches; i += 1) actions.push({ kind: 'launch', pool: pool.name, reason: 'launched by an operator', manual: true });
  if (demandLaunches === 0 && manualLaunches === 0 && supply.length > want) {
    const idle = supply
      .filter((runner) => runner.state === 'idle' && !observed.inFlight.has(runner.id) && observed.nowMs - runner.stateSinceMs >= idleGraceMs)
      .sort((a, b) => a.stateSinceMs - b.stateSinceMs);
    for (const runner of idle.slice(0, supply.length - want)) {
      actions.push({
        kind: 'teardown', runnerId: runner.id, version: runner.version, outcome: 'removed', reason: `idle beyond demand (${waiting} ${pool.intake === 'scale-set' ? 'assigned' : 'queued'}, minIdle ${pool.minIdle})`,
        force: false, exitCode: null, launchFailure: false,
      });
    }
  }

  // An idle runner next to a long-queued job means our view of the job may be stale (a lost
  // webhook). Each job is re-read on its own persisted schedule (a growing delay while GitHub
  // keeps it queued), a few per pass: never every reconcile.
  const hasIdle = runners.some((runner) => runner.state === 'idle');
  if (hasIdle) {
    for (const job of dueJobRefreshes(queued, observed.nowMs, observed.staleJobMs)) actions.push({ kind: 'refreshJob', jobId: job.id, owner: job.owner, repo: job.repo });
  }
  return actions;
}

/**
 * Compute no row knows. Running compute of a configured pool is adopted (a wiped or restored
 * store, an interrupted launch of a previous process): its row is re-created and the usual rules
 * apply, so a busy runner finishes its job. Exited compute is removed at once; running compute
 * of no configured pool only once it is older than the ghost minimum age (and the executor still
 * deregisters first).
 */
function planUnknownCompute(observed: Observed): Action[] {
  if (observed.compute === null) return [];
  const known = new Set(observed.runners.map((runner) => runner.id));
  const actions: Action[] = [];
  for (const info of observed.compute) {
    if (known.has(info.runnerId) || observed.inFlight.has(info.runnerId) || observed.inFlight.has(`compute:${info.computeId}`)) continue;
    const pool = observed.pools.find((p) => p.name === info.pool);
    if (info.state === 'exited') {
      actions.push({ kind: 'removeOrphanCompute', pool: info.pool, computeId: info.computeId, runnerName: info.runnerName, reason: 'exited compute unknown to the store' });
    } else if (pool && info.runnerId !== '') {
      actions.push({ kind: 'adoptCompute', pool: pool.name, computeId: info.computeId, runnerId: info.runnerId, runnerName: info.runnerName, createdAtMs: info.createdAtMs, reason: 'running compute unknown to the store' });
    } else if (observed.nowMs - info.createdAtMs >= observed.ghostMinAgeMs) {
      actions.push({ kind: 'removeOrphanCompute', pool: info.pool, computeId: info.computeId, runnerName: info.runnerName, reason: 'running compute of no configured pool' });
    }
  }
  return actions;
}

function planGhosts(observed: Observed, registrations: readonly ObservedRegistration[]): Action[] {
  const actions: Action[] = [];
  const live = new Set(observed.runners.map((runner) => runner.name));
  const withCompute = new Set((observed.compute ?? []).map((info) => info.runnerName));
  const ourLabel = observed.controllerLabel.toLowerCase();
  const seen = new Set<number>();
  for (const { pool, runner: registration, firstSeenMs, storeState } of registrations) {
    if (seen.has(registration.id)) continue;
    seen.add(registration.id);
    if (!registration.labels.some((label) => label.toLowerCase() === ourLabel)) continue;
    // A live row's registration is judged with its runner; compute without a row is being adopted.
    if (live.has(registration.name) || withCompute.has(registration.name)) continue;
    // Never remove a busy registration: GitHub would refuse, and the job must finish (truth 2).
    // A runner the store removed is surely dead; an unknown name waits out the minimum age
    // (a store restored from a backup, a clock skew) before it is called a ghost.
    const isOldEnough = storeState === 'removed' || observed.nowMs - firstSeenMs >= observed.ghostMinAgeMs;
    if (!registration.busy && isOldEnough) {
      actions.push({ kind: 'removeGhost', pool, githubRunnerId: registration.id, name: registration.name, reason: `registration (${registration.status}) of a ${storeState === 'removed' ? 'removed' : 'unknown'} runner` });
    }
  }
  return actions;
}
