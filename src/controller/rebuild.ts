import { controllerLabel, describeError, isSafeRunnerName } from '../core/index.ts';
import { describeScope, type GitHubApi, type GitHubRunner, type GitHubScope } from '../github/index.ts';
import type { ComputeInfo, Provider } from '../providers/index.ts';
import type { RunnerRecord, RunnerState, Store } from '../store/index.ts';

/**
 * Finding runners again when the store lost them (`jitpool store rebuild` after a damaged
 * database; the same mapping serves adopting orphan compute). Everything jitpool owns is
 * findable (truth 5): compute carries the pool, the runner id and name; GitHub lists the
 * registration under that name with the controller's label. {@link planRecovery} is the pure
 * mapping; {@link observeForRecovery} reads the two views; {@link applyRecovery} writes the rows.
 */

/** A runner row to re-create, in the state its compute and registration show. */
export interface FoundRunner {
  id: string;
  name: string;
  pool: string;
  state: RunnerState;
  labels: string[];
  computeId: string;
  githubRunnerId: number | null;
  createdAtMs: number;
  /** Why this state (for the operator). */
  reason: string;
}

/** What the providers and GitHub show, as {@link planRecovery} reads it. */
export interface RecoveryInput {
  controllerId: string;
  pools: ReadonlyArray<{ name: string; labels: readonly string[] }>;
  /** Every compute the providers list for this controller. */
  compute: readonly ComputeInfo[];
  /** Registrations GitHub lists in the pools' scopes. */
  registrations: ReadonlyArray<{ pool: string; runner: GitHubRunner }>;
}

/** What {@link planRecovery} decided. */
export interface RecoveryPlan {
  runners: FoundRunner[];
  /** Registrations with this controller's label and no compute: not re-created; the reconcile removes them as ghosts. */
  ghosts: Array<{ pool: string; name: string; githubRunnerId: number; status: string }>;
  /** Compute that cannot be taken back (an unsafe name, a duplicate). */
  skipped: Array<{ computeId: string; reason: string }>;
  /** Views that could not be read: their runners are not re-created now (a reconcile finds them later as orphans or ghosts). */
  errors: string[];
}

/**
 * The runner rows a store should hold, from compute and registrations alone. Pure.
 * - compute running, registration busy → `busy` (never killed: it finishes its job);
 * - compute running, registration online and idle → `idle`;
 * - compute running, registration offline or absent → `provisioning` (the boot timeout judges it);
 * - compute exited, registration listed → `lost` (the cleanup deregisters, then removes compute);
 * - compute exited, no registration → `finished` (GitHub removed the ephemeral registration).
 */
export function planRecovery(input: RecoveryInput): Omit<RecoveryPlan, 'errors'> {
  const label = controllerLabel(input.controllerId).toLowerCase();
  const ours = input.registrations.filter(({ runner }) => runner.labels.some((l) => l.toLowerCase() === label));
  const byName = new Map(ours.map((entry) => [entry.runner.name, entry]));
  const poolLabels = new Map(input.pools.map((pool) => [pool.name, pool.labels]));
  const plan: Omit<RecoveryPlan, 'errors'> = { runners: [], ghosts: [], skipped: [] };
  const taken = new Set<string>();
  for (const compute of [...input.compute].sort((a, b) => a.createdAtMs - b.createdAtMs)) {
    if (compute.controllerId !== input.controllerId) continue;
    if (!isSafeRunnerName(compute.runnerName) || compute.runnerId.length === 0) {
      plan.skipped.push({ computeId: compute.computeId, reason: 'its runner name or id is not one jitpool makes' });
      continue;
    }
    if (taken.has(compute.runnerName) || taken.has(`id:${compute.runnerId}`)) {
      plan.skipped.push({ computeId: compute.computeId, reason: `a second compute for ${compute.runnerName}` });
      continue;
    }
    taken.add(compute.runnerName).add(`id:${compute.runnerId}`);
    const registration = byName.get(compute.runnerName)?.runner ?? null;
    const { state, reason } = stateOf(compute, registration);
    plan.runners.push({
      id: compute.runnerId,
      name: compute.runnerName,
      pool: compute.pool,
      state,
      labels: registration ? [...registration.labels] : [...(poolLabels.get(compute.pool) ?? []), controllerLabel(input.controllerId)],
      computeId: compute.computeId,
      githubRunnerId: registration?.id ?? null,
      createdAtMs: compute.createdAtMs,
      reason,
    });
  }
  for (const { pool, runner } of ours) {
    if (!taken.has(runner.name)) plan.ghosts.push({ pool, name: runner.name, githubRunnerId: runner.id, status: runner.status });
  }
  return plan;
}

function stateOf(compute: ComputeInfo, registration: GitHubRunner | null): { state: RunnerState; reason: string } {
  if (compute.state === 'exited') {
    return registration
      ? { state: 'lost', reason: 'its compute exited while GitHub still lists it: cleanup deregisters it' }
      : { state: 'finished', reason: 'its compute exited and GitHub no longer lists it' };
  }
  if (registration?.busy) return { state: 'busy', reason: 'GitHub reports it busy: it finishes its job' };
  if (registration?.status === 'online') return { state: 'idle', reason: 'online and idle at GitHub' };
  return { state: 'provisioning', reason: registration ? 'registered, not online yet' : 'compute running, no registration listed (yet)' };
}

/** What reading the two views needs. */
export interface RecoveryDeps {
  controllerId: string;
  github: GitHubApi;
  pools: ReadonlyArray<{ name: string; labels: readonly string[]; scope: GitHubScope; provider: Provider }>;
}

/** Lists every provider's compute and every pool scope's registrations (one list per scope and provider). */
export async function observeForRecovery(deps: RecoveryDeps): Promise<RecoveryInput & { errors: string[] }> {
  const errors: string[] = [];
  const compute = new Map<string, ComputeInfo>();
  for (const provider of new Set(deps.pools.map((pool) => pool.provider))) {
    try {
      for (const info of await provider.list()) compute.set(info.computeId, info);
    } catch (err) {
      errors.push(`${provider.kind} provider: ${describeError(err)}`);
    }
  }
  const registrations: Array<{ pool: string; runner: GitHubRunner }> = [];
  const scopes = new Map<string, (typeof deps.pools)[number]>();
  for (const pool of deps.pools) if (!scopes.has(describeScope(pool.scope))) scopes.set(describeScope(pool.scope), pool);
  for (const [key, pool] of scopes) {
    try {
      for (const runner of await deps.github.listRunners(pool.scope)) registrations.push({ pool: pool.name, runner });
    } catch (err) {
      errors.push(`${key}: ${describeError(err)}`);
    }
  }
  return { controllerId: deps.controllerId, pools: deps.pools, compute: [...compute.values()], registrations, errors };
}

/** Writes the found runners into `store` (each one transition, by `actor`); returns the rows. */
export function applyRecovery(store: Store, runners: readonly FoundRunner[], actor: string): RunnerRecord[] {
  return store.transaction(() =>
    runners.filter((runner) => !store.findRunnerById(runner.id) && !store.findRunnerByName(runner.name)).map((runner) => store.insertFoundRunner(runner, actor, `found again: ${runner.reason}`)),
  );
}
