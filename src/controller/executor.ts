import { hostname } from 'node:os';
import { JitpoolError, backoffMs, controllerLabel, describeError, isJitpoolError, runnerName, shortId, type Clock, type Logger } from '../core/index.ts';
import type { GitHubApi, GitHubScope, JitConfig, JitConfigRequest } from '../github/index.ts';
import type { Provider } from '../providers/index.ts';
import type { RunnerRecord, Store } from '../store/index.ts';
import { refreshJob } from './job-refresh.ts';
import { Limiter } from './limiter.ts';
import type { Action, PoolHealth, PoolPlanSpec, TeardownAction } from './plan.ts';
import { adoptCompute, removeOrphanCompute, teardown, type TeardownContext } from './teardown.ts';

/**
 * Registers and deregisters a pool's runners somewhere else than the REST JIT endpoint: a runner
 * scale set's JIT config endpoint and the Actions service's agents (scale-set pools).
 */
export interface PoolRegistrar {
  /** Registers a runner and returns its one-time config (a secret). */
  generateJitConfig(request: JitConfigRequest): Promise<JitConfig>;
  /** The registration of this name, or null. */
  getRunnerByName(name: string): Promise<{ id: number } | null>;
  /** Deletes a registration; throws `JP_GITHUB_RUNNER_BUSY` while it runs a job (the runner is kept). */
  deleteRunner(runnerId: number): Promise<'deleted' | 'not-found'>;
}

/** A pool as the executor needs it: the plan spec plus where and how its runners are made. */
export interface PoolRuntime extends PoolPlanSpec {
  scope: GitHubScope;
  runnerGroupId: number;
  provider: Provider;
  /** Where its runners are registered when not through the REST JIT endpoint (scale-set pools). @default undefined */
  registrar?: PoolRegistrar;
}

/** Options of {@link Executor}. */
export interface ExecutorOptions {
  controllerId: string;
  store: Store;
  github: GitHubApi;
  pools: ReadonlyMap<string, PoolRuntime>;
  logger: Logger;
  clock: Clock;
  /** Actions in flight at once. @default 8 */
  concurrency?: number;
  /** Called when an action changed something worth another look (a launch failed, a job refreshed). */
  onSettled?: () => void;
  /**
   * Longest one action may take before it counts as failed and is retried with backoff (a hung
   * engine or API call must not hold a slot, or a shutdown, forever). @default 180000
   */
  actionTimeoutMs?: number;
}

/** Rejects with a retryable `JP_PROVIDER_TIMEOUT` when `promise` has not settled within `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new JitpoolError('JP_PROVIDER_TIMEOUT', `action ${what} took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const ACTOR = 'controller';
/** After this many consecutive launch failures a pool is reported degraded. */
export const DEGRADED_AFTER_FAILURES = 3;

/**
 * Performs the planner's actions with bounded concurrency. Every step persists its decision in
 * the store before the side effect, so a crash at any line leaves a state the next reconcile
 * finishes (see `plan`'s resume rules). An action that fails is retried by a later reconcile,
 * after an exponential backoff with jitter per action key: never a hot loop.
 */
export class Executor {
  readonly #options: ExecutorOptions;
  readonly #limiter: Limiter;
  readonly #inFlight = new Set<string>();
  readonly #retryAt = new Map<string, { attempt: number; atMs: number }>();
  readonly #health: Record<string, PoolHealth> = {};
  readonly #teardown: TeardownContext;
  #stopping = false;

  constructor(options: ExecutorOptions) {
    this.#options = options;
    this.#limiter = new Limiter(options.concurrency ?? 8);
    this.#teardown = {
      controllerId: options.controllerId,
      store: options.store,
      github: options.github,
      pools: options.pools,
      logger: options.logger,
      onLaunchFailure: (pool, reason) => this.#recordFailure(pool, new Error(reason)),
      onDegrade: (pool, message) => this.#degrade(pool, message),
    };
  }

  /** Runner ids (and other action keys) with an action running. */
  get inFlight(): ReadonlySet<string> {
    return this.#inFlight;
  }

  /** Launch health per pool. */
  get health(): Readonly<Record<string, PoolHealth>> {
    return this.#health;
  }

  /** Stops accepting launches (shutdown); other actions still run. */
  stopLaunching(): void {
    this.#stopping = true;
  }

  /** Resolves once every dispatched action has settled. */
  onIdle(): Promise<void> {
    return this.#limiter.onIdle();
  }

  /**
   * Starts the actions. Launch decisions are persisted synchronously, before this returns; the
   * runners they created are returned with the action that asked for them.
   */
  dispatch(actions: readonly Action[]): Array<{ action: Extract<Action, { kind: 'launch' }>; runner: RunnerRecord }> {
    const now = this.#options.clock.now();
    const launched: Array<{ action: Extract<Action, { kind: 'launch' }>; runner: RunnerRecord }> = [];
    for (const action of actions) {
      if (action.kind === 'launch') {
        if (this.#stopping) continue;
        const pool = this.#options.pools.get(action.pool);
        if (!pool) continue;
        const runner = this.#persistLaunch(pool, action.reason);
        launched.push({ action, runner });
        this.#run(runner.id, () => this.#launch(pool, runner));
        continue;
      }
      const key = actionKey(action);
      const retry = this.#retryAt.get(key);
      if (this.#inFlight.has(key) || (retry && retry.atMs > now)) continue;
      this.#run(key, () => this.#perform(action));
    }
    return launched;
  }

  /** True once `stopLaunching` was called. */
  get isStopping(): boolean {
    return this.#stopping;
  }

  /**
   * Scales one runner down now (an operator's delete), deregistration first, holding the runner's
   * in-flight key so no reconcile plans it meanwhile. Resolves with the runner as it ends up:
   * `busy` when GitHub refused because it took a job. Throws `JP_RUNNER_ACTION_IN_FLIGHT` when
   * another action holds the runner.
   */
  async scaleDownNow(runnerId: string, reason: string): Promise<RunnerRecord> {
    if (this.#inFlight.has(runnerId)) {
      throw new JitpoolError('JP_RUNNER_ACTION_IN_FLIGHT', `runner ${runnerId} has an action in progress; try again shortly`, { details: { runnerId } });
    }
    this.#inFlight.add(runnerId);
    try {
      const runner = this.#options.store.getRunner(runnerId);
      const action: TeardownAction = { kind: 'teardown', runnerId, version: runner.version, outcome: 'removed', reason, force: false, exitCode: null, launchFailure: false };
      if (runner.state !== 'busy' && runner.state !== 'removed') await this.#limiter.run(() => teardown(this.#teardown, action));
    } finally {
      this.#inFlight.delete(runnerId);
      this.#options.onSettled?.();
    }
    return this.#options.store.getRunner(runnerId);
  }

  #run(key: string, task: () => Promise<void>): void {
    this.#inFlight.add(key);
    void this.#limiter
      .run(() => withTimeout(task(), this.#options.actionTimeoutMs ?? 180_000, key))
      .then(
        () => {
          this.#retryAt.delete(key);
        },
        (err: unknown) => {
          const attempt = (this.#retryAt.get(key)?.attempt ?? 0) + 1;
          const delayMs = backoffMs(attempt - 1, 1000, 5 * 60_000);
          this.#retryAt.set(key, { attempt, atMs: this.#options.clock.now() + delayMs });
          this.#options.logger.warn({ component: 'executor', key, attempt, retryInMs: delayMs, err: describeError(err) }, 'action failed; will retry');
        },
      )
      .finally(() => {
        this.#inFlight.delete(key);
        this.#options.onSettled?.();
      });
  }

  #persistLaunch(pool: PoolRuntime, reason: string): RunnerRecord {
    const id = shortId();
    return this.#options.store.insertRunner(
      { id, name: runnerName(pool.name, id), pool: pool.name, labels: [...pool.labels, controllerLabel(this.#options.controllerId)] },
      ACTOR,
      reason,
    );
  }

  async #launch(pool: PoolRuntime, runner: RunnerRecord): Promise<void> {
    const { store, github, logger } = this.#options;
    const log = logger.child({ component: 'executor', pool: pool.name, runnerId: runner.id, runnerName: runner.name });
    let jit;
    try {
      const request = { name: runner.name, runnerGroupId: pool.runnerGroupId, labels: runner.labels, workFolder: '_work' };
      jit = await (pool.registrar ? pool.registrar.generateJitConfig(request) : github.generateJitConfig(pool.scope, request));
    } catch (err) {
      log.error({ err: describeError(err) }, 'could not register runner');
      // The request may have registered the runner before failing (a timeout): the teardown looks it up by name.
      await this.#failLaunch(runner.id, describeError(err));
      return;
    }
    store.updateRunner(runner.id, { state: 'provisioning', githubRunnerId: jit.runnerId }, ACTOR, 'registered (JIT)');
    try {
      const info = await pool.provider.create({
        runnerId: runner.id,
        runnerName: runner.name,
        pool: pool.name,
        controllerId: this.#options.controllerId,
        labels: runner.labels,
        jitConfig: jit.encodedJitConfig,
        context: placeholderContext(pool, runner, this.#options.controllerId, this.#options.clock.now()),
      });
      store.updateRunner(runner.id, { computeId: info.computeId }, ACTOR);
      log.info({ computeId: info.computeId }, 'runner launched');
    } catch (err) {
      log.error({ err: describeError(err) }, 'could not create compute');
      // Undo what exists, by the teardown rule: a create that failed late may have started a
      // runner that already took a job. If this fails too, a later reconcile resumes it.
      await this.#failLaunch(runner.id, describeError(err));
    }
  }

  async #failLaunch(runnerId: string, reason: string): Promise<void> {
    const runner = this.#options.store.getRunner(runnerId);
    await teardown(this.#teardown, { kind: 'teardown', runnerId, version: runner.version, outcome: 'failed', reason, force: false, exitCode: null, launchFailure: true });
  }

  async #perform(action: Exclude<Action, { kind: 'launch' }>): Promise<void> {
    const { store } = this.#options;
    switch (action.kind) {
      case 'markOnline': {
        const runner = store.getRunner(action.runnerId);
        if (runner.state !== 'provisioning' || runner.version !== action.version) return;
        store.updateRunner(runner.id, { state: 'idle' }, ACTOR, 'online');
        this.#recordSuccess(runner.pool);
        return;
      }
      case 'markBusy': {
        const runner = store.getRunner(action.runnerId);
        if ((runner.state !== 'provisioning' && runner.state !== 'idle') || runner.version !== action.version) return;
        if (runner.state === 'provisioning') this.#recordSuccess(runner.pool);
        store.updateRunner(runner.id, { state: 'busy', jobId: action.jobId ?? runner.jobId }, ACTOR, action.reason);
        return;
      }
      case 'teardown':
        return teardown(this.#teardown, action);
      case 'adoptCompute':
        return adoptCompute(this.#teardown, action);
      case 'removeOrphanCompute':
        return removeOrphanCompute(this.#teardown, action);
      case 'removeGhost': {
        const pool = this.#options.pools.get(action.pool);
        // The plan saw a snapshot: a runner of that name may have been launched (or adopted) since.
        const owner = store.findRunnerByName(action.name);
        if (!pool || (owner && owner.state !== 'removed')) return;
        try {
          const result = await this.#options.github.deleteRunner(pool.scope, action.githubRunnerId);
          if (result === 'deleted') {
            this.#options.logger.warn({ component: 'executor', pool: action.pool, name: action.name }, 'removed ghost registration');
            store.recordEvent('runner', action.name, 'ghost-removed', ACTOR, action.reason);
          }
        } catch (err) {
          if (!isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY')) throw err;
        }
        return;
      }
      case 'adopt':
        return this.#adopt(action.runnerId, action.version, action.computeId);
      case 'refreshJob':
        // Backoff persisted per job, 404 retires it: see job-refresh.ts.
        return refreshJob({ store, github: this.#options.github, clock: this.#options.clock, logger: this.#options.logger }, action);
    }
  }

  /**
   * Takes back a runner whose launch was interrupted after its compute existed: its registration
   * is found by name (the name was persisted before the JIT request) and its state follows what
   * GitHub reports, so a runner that already took a job is left to finish it.
   */
  async #adopt(runnerId: string, version: number, computeId: string): Promise<void> {
    const { store, github } = this.#options;
    const runner = store.getRunner(runnerId);
    const pool = this.#options.pools.get(runner.pool);
    if (runner.state !== 'requested' || runner.version !== version || !pool) return;
    const registration = await github.getRunnerByName(pool.scope, runner.name);
    store.updateRunner(runnerId, { state: 'provisioning', computeId, githubRunnerId: registration?.id ?? null }, ACTOR, 'adopted after an interrupted launch');
    if (registration?.busy) store.updateRunner(runnerId, { state: 'busy' }, ACTOR, 'GitHub reports it busy');
  }

  #recordFailure(pool: string, err: unknown): void {
    const health = (this.#health[pool] ??= { consecutiveFailures: 0, backoffUntilMs: 0, lastError: null });
    health.consecutiveFailures += 1;
    health.lastError = describeError(err);
    health.backoffUntilMs = this.#options.clock.now() + backoffMs(health.consecutiveFailures - 1, 1000, 5 * 60_000);
    if (health.consecutiveFailures === DEGRADED_AFTER_FAILURES) {
      this.#options.store.recordEvent('pool', pool, 'degraded', ACTOR, health.lastError);
      this.#options.logger.error({ component: 'executor', pool, failures: health.consecutiveFailures, err: health.lastError }, 'pool degraded: launches back off');
    }
  }

  /** A pool whose runners cannot work at all (GitHub refuses their version): degraded at once, long backoff. */
  #degrade(pool: string, message: string): void {
    const health = (this.#health[pool] ??= { consecutiveFailures: 0, backoffUntilMs: 0, lastError: null });
    const wasDegraded = health.consecutiveFailures >= DEGRADED_AFTER_FAILURES;
    health.consecutiveFailures = Math.max(health.consecutiveFailures + 1, DEGRADED_AFTER_FAILURES);
    health.lastError = message;
    health.backoffUntilMs = this.#options.clock.now() + backoffMs(health.consecutiveFailures - 1, 1000, 5 * 60_000);
    if (!wasDegraded) {
      this.#options.store.recordEvent('pool', pool, 'degraded', ACTOR, message);
      this.#options.logger.error({ component: 'executor', pool, err: message }, 'pool degraded: launches back off');
    }
  }

  #recordSuccess(pool: string): void {
    const health = this.#health[pool];
    if (!health || health.consecutiveFailures === 0) return;
    if (health.consecutiveFailures >= DEGRADED_AFTER_FAILURES) this.#options.store.recordEvent('pool', pool, 'healthy', ACTOR, 'a runner came online');
    this.#health[pool] = { consecutiveFailures: 0, backoffUntilMs: 0, lastError: null };
  }
}

function actionKey(action: Exclude<Action, { kind: 'launch' }>): string {
  switch (action.kind) {
    case 'removeOrphanCompute':
    case 'adoptCompute':
      return `compute:${action.computeId}`;
    case 'removeGhost':
      return `ghost:${action.githubRunnerId}`;
    case 'refreshJob':
      return `job:${action.jobId}`;
    default:
      return action.runnerId;
  }
}

/** Values for `{placeholders}` in provider settings (seed 003's list). */
function placeholderContext(pool: PoolRuntime, runner: RunnerRecord, controllerId: string, nowMs: number): Record<string, string> {
  const scope = pool.scope;
  return {
    runner_name: runner.name,
    pool: pool.name,
    scope: scope.kind === 'repo' ? `${scope.owner}/${scope.repo}` : scope.kind === 'org' ? scope.org : scope.enterprise,
    repo_owner: scope.kind === 'repo' ? scope.owner : scope.kind === 'org' ? scope.org : '',
    repo_name: scope.kind === 'repo' ? scope.repo : '',
    timestamp: String(Math.floor(nowMs / 1000)),
    hostname: hostname(),
    controller_id: controllerId,
  };
}
