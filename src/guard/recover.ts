import { controllerLabel, describeError, type Clock } from '../core/index.ts';
import { DEGRADED_AFTER_FAILURES, type Action, type Controller, type PoolRuntime } from '../controller/index.ts';
import type { GitHubApi } from '../github/index.ts';
import { scopeCovers } from '../routing/index.ts';
import type { Store } from '../store/index.ts';
import { recoveredKey, type Guard } from './guard.ts';

/** What `recover` needs: the pieces of a runtime, without its loop or server. */
export interface RecoverDeps {
  guard: Guard;
  controller: Controller;
  store: Store;
  github: GitHubApi;
  pools: readonly PoolRuntime[];
  controllerId: string;
  variableName: string;
  clock: Clock;
}

/** One step of a recovery, as printed. */
export interface RecoverStep {
  step: 'routing-off' | 'reconcile' | 'repair' | 'health' | 'routing-on';
  ok: boolean;
  detail: string;
}

/** The outcome of `jitpool recover`. */
export interface RecoverResult {
  owner: string;
  repo: string;
  isDryRun: boolean;
  isHealthy: boolean;
  steps: RecoverStep[];
  problems: string[];
}

const REPAIRS: ReadonlyArray<Action['kind']> = ['removeGhost', 'teardown', 'removeOrphanCompute', 'adoptCompute'];

/**
 * One-command recovery (seed 001 §9): routing off first (always safe), reconcile the store,
 * the providers and GitHub, remove ghost registrations and stuck runners, check health, and turn
 * routing back on only when healthy. Each step is reported through `print` as it finishes.
 */
export async function recover(deps: RecoverDeps, owner: string, repo: string, options: { dryRun?: boolean; print?: (step: RecoverStep) => void } = {}): Promise<RecoverResult> {
  const isDryRun = options.dryRun ?? false;
  const steps: RecoverStep[] = [];
  const report = (step: RecoverStep) => {
    steps.push(step);
    options.print?.(step);
  };

  if (isDryRun) report({ step: 'routing-off', ok: true, detail: `would set ${deps.variableName}=false` });
  else {
    await deps.github.setVariable(owner, repo, deps.variableName, 'false');
    deps.store.guard.mark(recoveredKey(owner, repo));
    report({ step: 'routing-off', ok: true, detail: `${deps.variableName}=false (trusted PRs run on the fallback meanwhile)` });
  }

  let first;
  try {
    // An operator asked for recovery: ghosts go now, without waiting out their minimum age.
    first = await deps.controller.reconcileOnce({ syncGitHub: true, dryRun: isDryRun, ghostMinAgeMs: 0 });
    if (!isDryRun) await deps.controller.settle();
    report({ step: 'reconcile', ok: first.syncedWithGitHub, detail: `${isDryRun ? 'planned' : 'performed'} ${summarize(first.actions)}${first.syncedWithGitHub ? '' : ' (GitHub could not be listed)'}` });
  } catch (err) {
    report({ step: 'reconcile', ok: false, detail: describeError(err) });
  }

  const repairs = (first?.actions ?? []).filter((action) => REPAIRS.includes(action.kind));
  if (isDryRun) {
    report({ step: 'repair', ok: true, detail: repairs.length === 0 ? 'nothing to repair' : `would ${describeRepairs(repairs)}` });
  } else {
    // A second pass finishes what the first one unblocked (a cleanup after a ghost went away).
    const second = await deps.controller.reconcileOnce({ syncGitHub: true, ghostMinAgeMs: 0 }).catch(() => null);
    await deps.controller.settle();
    const all = [...repairs, ...(second?.actions ?? []).filter((action) => REPAIRS.includes(action.kind))];
    report({ step: 'repair', ok: true, detail: all.length === 0 ? 'nothing to repair' : describeRepairs(all) });
  }

  const problems = await healthProblems(deps, owner, repo);
  const isHealthy = problems.length === 0;
  report({ step: 'health', ok: isHealthy, detail: isHealthy ? 'healthy: no offline or stuck runners, no degraded pool' : problems.join('; ') });

  if (!isHealthy) report({ step: 'routing-on', ok: false, detail: `left ${deps.variableName}=false: not healthy` });
  else if (isDryRun) report({ step: 'routing-on', ok: true, detail: `would set ${deps.variableName}=true` });
  else {
    await deps.guard.restore(owner, repo, { reason: 'jitpool recover: healthy after repair' });
    report({ step: 'routing-on', ok: true, detail: `${deps.variableName}=true` });
  }
  return { owner, repo, isDryRun, isHealthy, steps, problems };
}

/** Why the pools serving a repository are not healthy (empty when healthy). */
export async function healthProblems(deps: Pick<RecoverDeps, 'controller' | 'store' | 'github' | 'pools' | 'controllerId' | 'clock'>, owner: string, repo: string): Promise<string[]> {
  const problems: string[] = [];
  const ours = controllerLabel(deps.controllerId).toLowerCase();
  const nowMs = deps.clock.now();
  const live = deps.store.listLiveRunners();
  for (const pool of deps.pools.filter((p) => scopeCovers(p.scope, owner, repo))) {
    const health = deps.controller.health[pool.name];
    if (health && health.consecutiveFailures >= DEGRADED_AFTER_FAILURES) problems.push(`pool ${pool.name} is degraded (${health.consecutiveFailures} launch failures: ${health.lastError ?? 'unknown'})`);
    const booting = new Set(live.filter((r) => r.pool === pool.name && (r.state === 'requested' || r.state === 'provisioning') && nowMs - r.stateSinceMs < pool.bootTimeoutMs).map((r) => r.name));
    const stuck = live.filter((r) => r.pool === pool.name && (r.state === 'failed' || r.state === 'lost' || ((r.state === 'requested' || r.state === 'provisioning') && nowMs - r.stateSinceMs >= pool.bootTimeoutMs)));
    if (stuck.length > 0) problems.push(`pool ${pool.name}: ${stuck.length} stuck runner(s) (${stuck.map((r) => `${r.name} ${r.state}`).join(', ')})`);
    try {
      const offline = (await deps.github.listRunners(pool.scope)).filter(
        (r) => r.status === 'offline' && r.name.startsWith(`jp-${pool.name}-`) && r.labels.some((l) => l.toLowerCase() === ours) && !booting.has(r.name),
      );
      if (offline.length > 0) problems.push(`pool ${pool.name}: ${offline.length} offline registration(s) (${offline.map((r) => r.name).join(', ')})`);
    } catch (err) {
      problems.push(`pool ${pool.name}: cannot list runners at GitHub (${describeError(err)})`);
    }
  }
  return problems;
}

function summarize(actions: readonly Action[]): string {
  if (actions.length === 0) return 'no actions';
  const counts: Record<string, number> = {};
  for (const action of actions) counts[action.kind] = (counts[action.kind] ?? 0) + 1;
  return Object.entries(counts).map(([kind, n]) => `${n} ${kind}`).join(', ');
}

function describeRepairs(actions: readonly Action[]): string {
  const ghosts = actions.filter((a) => a.kind === 'removeGhost').length;
  const stuck = actions.filter((a) => a.kind === 'teardown').length;
  const orphans = actions.filter((a) => a.kind === 'removeOrphanCompute').length;
  const adopted = actions.filter((a) => a.kind === 'adoptCompute').length;
  return `remove ${ghosts} ghost registration(s), tear down ${stuck} stuck/ended runner(s), remove ${orphans} orphan compute, adopt ${adopted} running runner(s) the store did not know`;
}
