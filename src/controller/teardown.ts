import { JitpoolError, controllerLabel, isJitpoolError, redactOutput, type Logger } from '../core/index.ts';
import type { GitHubApi, GitHubRunner, GitHubScope } from '../github/index.ts';
import type { ComputeInfo, Provider } from '../providers/index.ts';
import type { RunnerRecord, RunnerState, Store } from '../store/index.ts';
import type { PoolRegistrar } from './executor.ts';
import type { Action, TeardownAction } from './plan.ts';

/** What the teardown rule needs: the store, GitHub, the pools' providers, and the pool-health hooks of the executor. */
export interface TeardownContext {
  controllerId: string;
  store: Store;
  github: GitHubApi;
  pools: ReadonlyMap<string, { name: string; scope: GitHubScope; labels: readonly string[]; provider: Provider; registrar?: PoolRegistrar }>;
  logger: Logger;
  /** A launch of `pool` failed (counted towards its backoff). */
  onLaunchFailure(pool: string, reason: string): void;
  /** `pool` must be marked degraded at once (a refused runner version). */
  onDegrade(pool: string, message: string): void;
}

const ACTOR = 'controller';
/** States in which the runner may hold a registration and running compute. */
const LIVE: readonly RunnerState[] = ['requested', 'provisioning', 'idle', 'busy'];

/**
 * The one teardown rule (DESIGN.md truth 2; issue 13). Every teardown of a runner that may hold
 * a registration deletes the registration first: GitHub refuses (422) while the runner runs a
 * job, and then the runner is `busy` and kept — whatever the teardown was for (a boot timeout, a
 * scale-down, a vanished pool). Only `force` (the job timeout) destroys its compute anyway, and
 * says so in the log. The compute is looked at right before acting, not taken from the plan.
 *
 * Steps, each persisted before its side effect so a crash resumes: the decision (`stopping`,
 * with its outcome), the registration, the compute, the outcome state, `removed`.
 */
export async function teardown(context: TeardownContext, action: TeardownAction): Promise<void> {
  const { store, logger } = context;
  let runner = store.getRunner(action.runnerId);
  if (runner.state === 'removed' || runner.version !== action.version) return;
  const pool = context.pools.get(runner.pool);
  const log = logger.child({ component: 'executor', pool: runner.pool, runnerId: runner.id, runnerName: runner.name });
  const computeId = runner.computeId ?? runner.name;
  const compute = pool ? await pool.provider.inspect(computeId) : null;
  const computeRuns = compute !== null && compute.state !== 'exited';
  const isLive = LIVE.includes(runner.state);

  if (isLive && action.outcome === 'lost' && computeRuns) return; // judged vanished, but it runs: judge again next pass
  if (runner.state === 'requested' && computeRuns) return; // compute appeared: the next pass adopts it
  if (isLive) {
    runner = computeRuns || action.outcome === 'removed'
      ? store.updateRunner(runner.id, { state: 'stopping', teardown: { outcome: action.outcome, isForced: action.force }, lastError: lastErrorOf(runner, action) }, ACTOR, action.reason)
      : enterOutcome(context, runner, action, action.outcome as Exclude<typeof action.outcome, 'removed'>);
  }

  // GitHub removes an ephemeral runner's registration with its job: a runner that finished and
  // exited needs no call (the ghost sweep removes a registration that lingers, at once, since the
  // store knows the name as removed). Every other teardown asks GitHub first.
  const isFinishedAndExited = !computeRuns && (action.outcome === 'finished' || runner.state === 'finished');
  let isRegistrationPending = false;
  if (pool && !isFinishedAndExited) {
    const result = await deregister(context, runner, pool);
    if (result === 'busy') {
      if (computeRuns && !runner.teardown?.isForced && !action.force) {
        if (runner.state === 'stopping') {
          store.updateRunner(runner.id, { state: 'busy', teardown: null }, ACTOR, 'GitHub refused to deregister it: it is running a job');
          log.info({ reason: action.reason }, 'kept a runner GitHub reports busy');
          return;
        }
        throw new JitpoolError('JP_GITHUB_RUNNER_BUSY', `${runner.name} is ${runner.state} here but GitHub lists it busy and its compute runs; leaving it alone and asking again later`, { retryable: true });
      }
      if (computeRuns) log.warn({ reason: action.reason }, 'destroying a runner GitHub reports busy: job timeout');
      isRegistrationPending = true;
    }
  }

  if (pool) {
    const tail = await pool.provider.logs(computeId, 20).catch(() => '');
    if (tail) runner = store.updateRunner(runner.id, { outputTail: redactOutput(tail).slice(-4000) }, ACTOR);
    await pool.provider.delete(computeId);
  }
  if (runner.state === 'stopping' && runner.teardown?.outcome && runner.teardown.outcome !== 'removed') {
    runner = enterOutcome(context, runner, action, runner.teardown.outcome);
  }
  // Its compute is gone but GitHub has not noticed yet: the runner stays counted against the
  // pool's max and the deregistration is retried with backoff until GitHub lets it go.
  if (isRegistrationPending) {
    throw new JitpoolError('JP_GITHUB_RUNNER_BUSY', `${runner.name}: compute removed, GitHub still lists it busy; retrying the deregistration`, { retryable: true });
  }
  store.updateRunner(runner.id, { state: 'removed' }, ACTOR, runner.state === 'stopping' ? 'deregistered, then compute removed' : 'cleaned up');
}

/** Moves a runner to its outcome state and applies what the plan said about the pool's health (once: on the way out of a live state). */
function enterOutcome(context: TeardownContext, runner: RunnerRecord, action: TeardownAction, outcome: 'finished' | 'failed' | 'lost'): RunnerRecord {
  if (runner.state === outcome) return runner;
  const updated = context.store.updateRunner(runner.id, { state: outcome, exitCode: action.exitCode ?? runner.exitCode, lastError: lastErrorOf(runner, action) }, ACTOR, action.reason);
  if (action.degradePool) context.onDegrade(runner.pool, action.degradePool);
  else if (action.launchFailure) context.onLaunchFailure(runner.pool, action.reason);
  return updated;
}

function lastErrorOf(runner: RunnerRecord, action: TeardownAction): string | null {
  return action.outcome === 'finished' || action.outcome === 'removed' ? runner.lastError : action.reason;
}

/**
 * Deletes the runner's registration: by its recorded id, or found by name (a launch interrupted
 * before its id was written, an adopt whose look-up missed). `gone` when none exists (any more).
 */
async function deregister(context: TeardownContext, runner: RunnerRecord, pool: { scope: GitHubScope; registrar?: PoolRegistrar }): Promise<'gone' | 'busy'> {
  const { scope, registrar } = pool;
  let githubRunnerId = runner.githubRunnerId;
  if (githubRunnerId === null) {
    const found = registrar ? await registrar.getRunnerByName(runner.name) : await context.github.getRunnerByName(scope, runner.name);
    if (!found) return 'gone';
    githubRunnerId = found.id;
    context.store.updateRunner(runner.id, { githubRunnerId }, ACTOR, 'registration found by name');
  }
  try {
    // A scale-set runner is removed through the Actions service, which answers JobStillRunningException while it is busy.
    if (registrar) await registrar.deleteRunner(githubRunnerId);
    else await context.github.deleteRunner(scope, githubRunnerId);
    return 'gone';
  } catch (err) {
    if (isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY')) return 'busy';
    throw err;
  }
}

/**
 * Re-creates the row of running compute the store does not know (a wiped or restored store, an
 * interrupted launch of another process): in the state GitHub reports for its registration, so a
 * busy runner finishes its job and an idle one is scaled down the usual way (deregistration first).
 */
export async function adoptCompute(context: TeardownContext, action: Extract<Action, { kind: 'adoptCompute' }>): Promise<void> {
  const { store } = context;
  const pool = context.pools.get(action.pool);
  if (!pool || store.findRunnerById(action.runnerId)) return;
  if (store.findRunnerByName(action.runnerName)) {
    // A name the store knows as removed: its registration was deleted before it was removed, so
    // this compute is a leftover; remove it by the orphan rule (which still asks GitHub first).
    await removeOrphanCompute(context, { kind: 'removeOrphanCompute', pool: action.pool, computeId: action.computeId, runnerName: action.runnerName, reason: 'compute of a removed runner' });
    return;
  }
  const info = await pool.provider.inspect(action.computeId);
  if (!info || info.state === 'exited') return;
  let registration: GitHubRunner | null = null;
  let lookup = 'no registration';
  try {
    registration = await context.github.getRunnerByName(pool.scope, action.runnerName);
    if (registration) lookup = `GitHub lists it ${registration.status}${registration.busy ? ' and busy' : ''}`;
  } catch (err) {
    // Adopt anyway: the row makes it count against max, and its teardown asks GitHub again.
    lookup = `GitHub could not be asked (${err instanceof Error ? err.message : String(err)})`;
  }
  const state = registration?.busy ? 'busy' : registration?.status === 'online' ? 'idle' : 'provisioning';
  store.adoptRunner(
    {
      id: action.runnerId,
      name: action.runnerName,
      pool: pool.name,
      labels: registration?.labels ?? [...pool.labels, controllerLabel(context.controllerId)],
      state,
      computeId: action.computeId,
      githubRunnerId: registration?.id ?? null,
      createdAtMs: info.createdAtMs,
    },
    ACTOR,
    `adopted: ${action.reason}; ${lookup}`,
  );
  context.logger.warn({ component: 'executor', pool: pool.name, runnerName: action.runnerName, state }, 'adopted running compute the store did not know');
}

/**
 * Removes compute no row owns: exited compute at once; running compute only after asking GitHub
 * for a registration of its name in every configured scope — kept when GitHub says busy (or
 * refuses), deregistered first otherwise.
 */
export async function removeOrphanCompute(context: TeardownContext, action: Extract<Action, { kind: 'removeOrphanCompute' }>): Promise<void> {
  const owner = action.runnerName ? context.store.findRunnerByName(action.runnerName) : undefined;
  if (owner && owner.state !== 'removed') return;
  const found = await findCompute(context, action.pool, action.computeId);
  if (!found) return;
  const { provider, info } = found;
  if (info.state !== 'exited') {
    const scopes = new Map([...context.pools.values()].map((pool) => [JSON.stringify(pool.scope), pool.scope]));
    for (const scope of scopes.values()) {
      const registration = await context.github.getRunnerByName(scope, info.runnerName);
      if (!registration) continue;
      if (registration.busy) {
        context.logger.warn({ component: 'executor', computeId: action.computeId }, 'orphan compute is busy at GitHub: left running');
        return;
      }
      try {
        await context.github.deleteRunner(scope, registration.id);
      } catch (err) {
        if (isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY')) return;
        throw err;
      }
    }
  }
  context.logger.warn({ component: 'executor', pool: action.pool, computeId: action.computeId }, 'removing orphan compute');
  await provider.delete(action.computeId);
  context.store.recordEvent('runner', action.computeId, 'orphan-removed', ACTOR, action.reason);
}

async function findCompute(context: TeardownContext, poolName: string, computeId: string): Promise<{ provider: Provider; info: ComputeInfo } | null> {
  const preferred = context.pools.get(poolName)?.provider;
  const providers = [...new Set([...(preferred ? [preferred] : []), ...[...context.pools.values()].map((pool) => pool.provider)])];
  for (const provider of providers) {
    const info = await provider.inspect(computeId);
    if (info) return { provider, info };
  }
  return null;
}
