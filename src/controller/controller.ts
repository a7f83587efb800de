import { JitpoolError, controllerLabel, describeError, type Clock, type Logger } from '../core/index.ts';
import type { GitHubApi } from '../github/index.ts';
import type { ComputeInfo } from '../providers/index.ts';
import type { PoolOverride, RunnerRecord, Store } from '../store/index.ts';
import { Executor, type PoolRuntime } from './executor.ts';
import { plan, type Action, type Observed } from './plan.ts';
import { RegistrationSync, type GitHubSyncStatus } from './registration-sync.ts';
import { scheduledMinIdle } from './warm-schedule.ts';

/** Options of {@link Controller}. */
export interface ControllerOptions {
  controllerId: string;
  store: Store;
  github: GitHubApi;
  pools: readonly PoolRuntime[];
  logger: Logger;
  clock: Clock;
  /** Timer between reconciles when nothing happens. @default 15000 */
  reconcileIntervalMs?: number;
  /** How often GitHub's runner lists are read (beside the reconcile loop, never inside it). @default 60000 */
  githubSyncIntervalMs?: number;
  /** Actions in flight at once. @default 8 */
  concurrency?: number;
  /** A queued job this old while an idle runner waits is re-read from GitHub. @default 60000 */
  staleJobMs?: number;
  /** A registration unknown to the store is removed once listed this long. @default 600000 */
  ghostMinAgeMs?: number;
  /** Called after every reconcile (metrics). */
  onReconcile?: (result: ReconcileResult) => void;
  /** Scale-set pools' `totalAssignedJobs` from their sessions' last statistics (the scale-set intake). */
  scaleSetDemand?: () => Readonly<Record<string, number>>;
}

type LaunchWaiter = { resolve: (runner: RunnerRecord) => void; reject: (err: Error) => void };

/** What one reconcile did. */
export interface ReconcileResult {
  actions: Action[];
  syncedWithGitHub: boolean;
  durationMs: number;
}

/**
 * The level-based reconcile loop: events only say "look again" (`kick`), duplicates collapse
 * into one pass, and each pass observes the store, the providers and sometimes GitHub, plans
 * (pure) and dispatches. One loop decides.
 */
export class Controller {
  readonly #options: ControllerOptions;
  readonly #pools: Map<string, PoolRuntime>;
  readonly #executor: Executor;
  readonly #sync: RegistrationSync;
  readonly #log: Logger;
  #running: Promise<void> | null = null;
  #dirty = false;
  #timer: NodeJS.Timeout | null = null;
  #unsubscribers: Array<() => void> = [];
  #stopped = false;
  /** Only a started controller reconciles on its own (a one-shot command's controller acts only when told). */
  #started = false;
  #reconciles = 0;
  #draining = false;
  #lastResult: ReconcileResult | null = null;
  /** Operators' launch requests per pool, oldest first; each is answered by the next reconcile. */
  readonly #launchWaiters = new Map<string, LaunchWaiter[]>();

  constructor(options: ControllerOptions) {
    this.#options = options;
    this.#pools = new Map(options.pools.map((pool) => [pool.name, pool]));
    this.#log = options.logger.child({ component: 'controller' });
    this.#executor = new Executor({
      controllerId: options.controllerId,
      store: options.store,
      github: options.github,
      pools: this.#pools,
      logger: options.logger,
      clock: options.clock,
      concurrency: options.concurrency,
      onSettled: () => this.kick('action settled'),
    });
    this.#sync = new RegistrationSync({
      store: options.store,
      github: options.github,
      pools: options.pools,
      logger: options.logger,
      clock: options.clock,
      intervalMs: options.githubSyncIntervalMs,
      onSynced: () => this.kick('github synced'),
    });
  }

  /** Pools by name. */
  get pools(): ReadonlyMap<string, PoolRuntime> {
    return this.#pools;
  }

  /** Launch health per pool (degraded pools back off). */
  get health() {
    return this.#executor.health;
  }

  /** The pools as the planner sees them now: configured sizing with the operator's override applied. */
  effectivePools(): Array<PoolRuntime & { override: PoolOverride | null }> {
    const overrides = new Map(this.#options.store.listPoolOverrides().map((o) => [o.pool, o]));
    return [...this.#pools.values()].map((pool) => {
      const override = overrides.get(pool.name) ?? null;
      // The override's target is the warm floor in use (already clamped to [min, max] when it was set).
      if (override) return { ...pool, minIdle: override.target, max: override.max, override };
      // No operator override: the warm floor of the time window open now, if any.
      return { ...pool, minIdle: scheduledMinIdle(pool.minIdle, pool.warmSchedule, this.#options.clock.now()).minIdle, override };
    });
  }

  /** True once a drain started: the controller launches nothing and scales idle runners down. */
  get isDraining(): boolean {
    return this.#draining;
  }

  /** The last comparison with GitHub. */
  get githubSync(): GitHubSyncStatus {
    return this.#sync.status;
  }

  /**
   * Launches one runner into `poolName` on an operator's request: planned as extra demand by the
   * next reconcile (so `max`, backoff and draining apply as to any launch) and persisted by the
   * executor like every launch. Resolves with the runner once its launch is recorded; throws
   * `JP_POOL_NOT_FOUND`, `JP_POOL_AT_CAPACITY`, `JP_POOL_BACKOFF` or `JP_CONTROLLER_STOPPING`.
   */
  launchRunner(poolName: string): Promise<RunnerRecord> {
    if (!this.#pools.has(poolName)) return Promise.reject(new JitpoolError('JP_POOL_NOT_FOUND', `no pool named ${poolName}`, { details: { pool: poolName } }));
    if (this.#stopped || this.#draining || this.#executor.isStopping) {
      return Promise.reject(new JitpoolError('JP_CONTROLLER_STOPPING', 'the controller is stopping or draining; it launches nothing', { details: { pool: poolName } }));
    }
    return new Promise<RunnerRecord>((resolve, reject) => {
      const waiters = this.#launchWaiters.get(poolName) ?? [];
      waiters.push({ resolve, reject });
      this.#launchWaiters.set(poolName, waiters);
      this.#pass('operator launch');
    });
  }

  /**
   * Removes one runner on an operator's request, deregistration first (the executor's scale-down
   * path). Throws `JP_STORE_NOT_FOUND`, `JP_RUNNER_BUSY` (it runs a job: never killed) or
   * `JP_RUNNER_ACTION_IN_FLIGHT` (it is being launched or cleaned up). A removed runner is returned as is.
   */
  async removeRunner(runnerId: string): Promise<RunnerRecord> {
    const runner = this.#options.store.getRunner(runnerId);
    if (runner.state === 'removed') return runner;
    if (runner.state === 'busy') throw busyError(runner);
    if (runner.state !== 'provisioning' && runner.state !== 'idle' && runner.state !== 'stopping') {
      throw new JitpoolError('JP_RUNNER_ACTION_IN_FLIGHT', `runner ${runner.name} is ${runner.state}; the controller is already handling it`, {
        details: { runnerId, state: runner.state },
      });
    }
    const after = await this.#executor.scaleDownNow(runnerId, 'removed by an operator');
    if (after.state === 'busy') throw busyError(after);
    return after;
  }

  /** Reconciles run so far and the last one's result. */
  get stats(): { reconciles: number; last: ReconcileResult | null } {
    return { reconciles: this.#reconciles, last: this.#lastResult };
  }

  /** Starts the loop: a first reconcile at once, GitHub's runner lists beside it (startup repair follows the first sync), then timers. */
  start(): void {
    this.#started = true;
    for (const pool of this.#pools.values()) {
      this.#unsubscribers.push(pool.provider.onChange(() => this.kick('compute changed')));
    }
    this.#sync.start();
    this.kick('start');
    this.#timer = setInterval(() => this.kick('timer'), this.#options.reconcileIntervalMs ?? 15_000);
    this.#timer.unref();
  }

  /**
   * Asks a started controller for a reconcile soon (events, timers, settled actions); calls made
   * while one runs collapse into one more pass. A controller that was never started (a one-shot
   * command's) reconciles only when told: {@link reconcileOnce}, an operator's launch, a drain.
   */
  kick(reason: string): void {
    if (this.#started) this.#pass(reason);
  }

  #pass(_reason: string): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#dirty = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
  }

  /** Asks for a comparison with GitHub soon (a reconcile follows it). */
  requestGitHubSync(): void {
    this.#sync.request();
  }

  /**
   * One reconcile now (for `jitpool reconcile --once`, recover, tests and benchmarks); with
   * `syncGitHub`, GitHub's runner lists are read first, so the plan sees registrations at least
   * as new as this call.
   */
  async reconcileOnce(options: { syncGitHub?: boolean; dryRun?: boolean; ghostMinAgeMs?: number } = {}): Promise<ReconcileResult> {
    const started = performance.now();
    const synced = options.syncGitHub ? await this.#sync.syncNow() : false;
    const observed = { ...(await this.observe()), ...(options.ghostMinAgeMs === undefined ? {} : { ghostMinAgeMs: options.ghostMinAgeMs }) };
    const actions = plan(observed);
    if (!options.dryRun) {
      const launched = this.#executor.dispatch(actions);
      this.#answerLaunchWaiters(observed.extraDemand, launched);
    }
    this.#reconciles += 1;
    const result = { actions, syncedWithGitHub: synced, durationMs: performance.now() - started };
    this.#lastResult = result;
    this.#options.onReconcile?.(result);
    if (actions.length > 0) this.#log.debug({ actions: summarize(actions) }, 'reconciled');
    return result;
  }

  /**
   * Reads the three views in the one order that makes them consistent: the in-flight set, then
   * the store's rows, then the providers' compute (compute that existed when a row was read is in
   * the list, so a row whose compute is missing really lost it; a launch that finishes meanwhile
   * is in flight in the snapshot and not judged). GitHub's registrations are the last sync's.
   */
  async observe(): Promise<Observed> {
    const { store, clock } = this.#options;
    const inFlight = new Set(this.#executor.inFlight);
    const nowMs = clock.now();
    const runners = store.listLiveRunners();
    const openJobs = store.listOpenJobs();
    const compute = await this.#listCompute();
    return {
      nowMs,
      controllerLabel: controllerLabel(this.#options.controllerId),
      pools: this.effectivePools(),
      runners,
      openJobs,
      compute,
      registrations: this.#sync.latest,
      inFlight,
      health: this.#executor.health,
      staleJobMs: this.#options.staleJobMs ?? 60_000,
      draining: this.#draining,
      ghostMinAgeMs: this.#options.ghostMinAgeMs ?? 10 * 60_000,
      extraDemand: Object.fromEntries([...this.#launchWaiters].map(([pool, waiters]) => [pool, waiters.length])),
      assignedJobs: this.#options.scaleSetDemand?.(),
    };
  }

  /**
   * Answers the launch requests this pass saw (`seen`, per pool): the oldest get the runners
   * launched for them; the rest of those seen are refused with the reason. Later requests wait
   * for the next pass.
   */
  #answerLaunchWaiters(seen: Readonly<Record<string, number>> | undefined, launched: ReturnType<Executor['dispatch']>): void {
    if (!seen) return;
    for (const [pool, count] of Object.entries(seen)) {
      const waiters = this.#launchWaiters.get(pool) ?? [];
      const answered = waiters.splice(0, count);
      if (waiters.length === 0) this.#launchWaiters.delete(pool);
      const runners = launched.filter((l) => l.action.manual && l.action.pool === pool).map((l) => l.runner);
      answered.forEach((waiter, index) => {
        const runner = runners[index];
        if (runner) waiter.resolve(runner);
        else waiter.reject(this.#launchRefusal(pool));
      });
    }
  }

  #launchRefusal(pool: string): JitpoolError {
    if (this.#stopped || this.#draining || this.#executor.isStopping) {
      return new JitpoolError('JP_CONTROLLER_STOPPING', 'the controller is stopping or draining; it launches nothing', { details: { pool } });
    }
    const health = this.#executor.health[pool];
    if (health && health.backoffUntilMs > this.#options.clock.now()) {
      return new JitpoolError('JP_POOL_BACKOFF', `pool ${pool} backs off after ${health.consecutiveFailures} failed launches`, {
        details: { pool, backoffUntilMs: health.backoffUntilMs, lastError: health.lastError },
      });
    }
    const spec = this.effectivePools().find((p) => p.name === pool);
    return new JitpoolError('JP_POOL_AT_CAPACITY', `pool ${pool} is at its maximum of ${spec?.max ?? '?'} runners`, { details: { pool, max: spec?.max } });
  }

  /**
   * Drains: no more launches, idle runners are scaled down, busy ones finish their job. Resolves
   * once no runner is left or `timeoutMs` passed; returns how many runners are still alive (-1
   * when the controller was stopped meanwhile).
   */
  async drain(timeoutMs = 60_000): Promise<number> {
    this.#draining = true;
    this.#executor.stopLaunching();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this.#pass('drain');
      await this.settle(Math.max(1, deadline - performance.now()));
      if (this.#stopped) return -1;
      const alive = this.#options.store.listLiveRunners().length;
      if (alive === 0 || performance.now() > deadline) return alive;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Resolves when dispatched actions have settled and no reconcile is running, or after `timeoutMs`. */
  async settle(timeoutMs = 60_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (let i = 0; i < 100 && performance.now() < deadline; i += 1) {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
      });
      await Promise.race([(async () => {
        await this.#running;
        await this.#executor.onIdle();
      })(), expired]);
      clearTimeout(timer);
      if (!this.#running && this.#executor.inFlight.size === 0) return;
    }
  }

  /**
   * Stops the loop: no new launches, in-flight actions finish, busy runners keep running (they
   * are found again at the next start). Resolves within `timeoutMs`.
   */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.#stopped = true;
    for (const [pool, waiters] of this.#launchWaiters) for (const waiter of waiters) waiter.reject(this.#launchRefusal(pool));
    this.#launchWaiters.clear();
    this.#executor.stopLaunching();
    if (this.#timer) clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      (async () => {
        await this.#sync.stop();
        await this.#running;
        await this.#executor.onIdle();
      })(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  async #loop(): Promise<void> {
    do {
      this.#dirty = false;
      try {
        await this.reconcileOnce();
      } catch (err) {
        this.#log.error({ err: describeError(err) }, 'reconcile failed');
      }
      // Yield so webhook requests and provider events interleave with reconciles.
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.#dirty && !this.#stopped);
  }

  async #listCompute(): Promise<ComputeInfo[] | null> {
    const seen = new Map<string, ComputeInfo>();
    const providers = new Set([...this.#pools.values()].map((pool) => pool.provider));
    try {
      for (const provider of providers) for (const info of await provider.list()) seen.set(info.computeId, info);
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'could not list compute; skipping compute repair this round');
      return null;
    }
    return [...seen.values()];
  }

}

function busyError(runner: RunnerRecord): JitpoolError {
  return new JitpoolError('JP_RUNNER_BUSY', `runner ${runner.name} is running a job; it is removed when the job ends`, {
    details: { runnerId: runner.id, jobId: runner.jobId },
  });
}

function summarize(actions: readonly Action[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const action of actions) counts[action.kind] = (counts[action.kind] ?? 0) + 1;
  return counts;
}
