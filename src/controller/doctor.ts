import { controllerLabel, describeError, isJitpoolError } from '../core/index.ts';
import { describeScope, type GitHubApi, type GitHubScope } from '../github/index.ts';
import { ProcessProvider, type Provider } from '../providers/index.ts';
import type { Store } from '../store/index.ts';

/** What `jitpool doctor` looks at. */
export interface DoctorDeps {
  controllerId: string;
  store: Store;
  github: GitHubApi;
  pools: ReadonlyArray<{ name: string; scope: GitHubScope; provider: Provider; bootTimeoutMs: number }>;
  nowMs: number;
}

/** A registration carrying this controller's label that no live runner owns. */
export interface GhostFinding {
  pool: string;
  scope: string;
  id: number;
  name: string;
  status: 'online' | 'offline';
  busy: boolean;
  ageMinutes: number;
  /** Old enough, offline and idle: `--cleanup-offline` removes it. */
  isRemovable: boolean;
}

/** Everything the doctor found. */
export interface DoctorReport {
  ghosts: GhostFinding[];
  staleDirs: Array<{ pool: string; name: string; path: string; ageMinutes: number }>;
  /** Directories under a work root that jitpool did not make (or cannot prove it did): never removed. */
  foreignDirs: Array<{ pool: string; name: string; path: string; reason: string }>;
  orphanCompute: Array<{ pool: string; computeId: string; state: string }>;
  stuckRunners: Array<{ pool: string; id: string; name: string; state: string; minutes: number }>;
  errors: string[];
}

/**
 * Seed 000's runner doctor, on the daemon's own modules: offline registrations with this
 * controller's label that the store does not know (age measured from when jitpool first saw
 * them, since GitHub's list has no creation time), stale work directories, orphan compute and
 * runners stuck booting. Reports only; {@link repair} acts.
 */
export async function diagnose(deps: DoctorDeps, minAgeMs: number): Promise<DoctorReport> {
  const report: DoctorReport = { ghosts: [], staleDirs: [], foreignDirs: [], orphanCompute: [], stuckRunners: [], errors: [] };
  const label = controllerLabel(deps.controllerId).toLowerCase();
  const live = deps.store.listLiveRunners();
  const liveNames = new Set(live.map((runner) => runner.name));
  const liveIds = new Set(live.map((runner) => runner.id));
  const scopes = new Map<string, (typeof deps.pools)[number]>();
  for (const pool of deps.pools) scopes.set(describeScope(pool.scope), pool);
  for (const [scopeKey, pool] of scopes) {
    try {
      const registrations = await deps.github.listRunners(pool.scope);
      const firstSeen = deps.store.recordSightings(scopeKey, registrations);
      for (const registration of registrations) {
        if (!registration.labels.some((l) => l.toLowerCase() === label) || liveNames.has(registration.name)) continue;
        const ageMs = deps.nowMs - (firstSeen.get(registration.id) ?? deps.nowMs);
        report.ghosts.push({
          pool: pool.name, scope: scopeKey, id: registration.id, name: registration.name, status: registration.status, busy: registration.busy,
          ageMinutes: Math.floor(ageMs / 60_000), isRemovable: registration.status === 'offline' && !registration.busy && ageMs >= minAgeMs,
        });
      }
    } catch (err) {
      report.errors.push(`${scopeKey}: ${describeError(err)}`);
    }
  }
  for (const provider of new Set(deps.pools.map((pool) => pool.provider))) {
    const pool = deps.pools.find((p) => p.provider === provider)!;
    try {
      for (const info of await provider.list()) {
        if (!liveIds.has(info.runnerId)) report.orphanCompute.push({ pool: info.pool, computeId: info.computeId, state: info.state });
      }
      if (provider instanceof ProcessProvider) {
        const scan = await provider.inspectWorkDirs(liveNames, minAgeMs, deps.nowMs);
        for (const dir of scan.stale) report.staleDirs.push({ pool: pool.name, name: dir.name, path: dir.path, ageMinutes: Math.floor(dir.ageMs / 60_000) });
        for (const dir of scan.foreign) report.foreignDirs.push({ pool: pool.name, ...dir });
      }
    } catch (err) {
      report.errors.push(`${provider.kind} provider of ${pool.name}: ${describeError(err)}`);
    }
  }
  for (const runner of live) {
    const pool = deps.pools.find((p) => p.name === runner.pool);
    const ms = deps.nowMs - runner.stateSinceMs;
    if (pool && (runner.state === 'requested' || runner.state === 'provisioning') && ms > pool.bootTimeoutMs) {
      report.stuckRunners.push({ pool: runner.pool, id: runner.id, name: runner.name, state: runner.state, minutes: Math.floor(ms / 60_000) });
    }
  }
  return report;
}

/** What {@link repair} did. */
export interface RepairResult {
  removedRegistrations: string[];
  removedDirs: string[];
  errors: string[];
}

/** Removes removable ghosts (`cleanupOffline`) and stale work directories (`cleanupDirs`). */
export async function repair(deps: DoctorDeps, report: DoctorReport, options: { cleanupOffline: boolean; cleanupDirs: boolean; minAgeMs?: number }): Promise<RepairResult> {
  const result: RepairResult = { removedRegistrations: [], removedDirs: [], errors: [] };
  if (options.cleanupOffline) {
    for (const ghost of report.ghosts.filter((g) => g.isRemovable)) {
      const pool = deps.pools.find((p) => p.name === ghost.pool)!;
      try {
        await deps.github.deleteRunner(pool.scope, ghost.id);
        deps.store.recordEvent('runner', ghost.name, 'ghost-removed', 'doctor', `offline for ${ghost.ageMinutes} min`);
        result.removedRegistrations.push(ghost.name);
      } catch (err) {
        // A ghost that took a job meanwhile is refused by GitHub: it stays, as it must.
        result.errors.push(`${ghost.name}: ${isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY') ? 'busy, kept' : describeError(err)}`);
      }
    }
  }
  if (options.cleanupDirs) {
    for (const dir of report.staleDirs) {
      const provider = deps.pools.find((p) => p.name === dir.pool)?.provider;
      if (!(provider instanceof ProcessProvider)) continue;
      try {
        // Judged again right before the deletion: only a directory that is still jitpool's and stale goes.
        const liveNames = new Set(deps.store.listLiveRunners().map((runner) => runner.name));
        if (await provider.removeWorkDir(dir.name, liveNames, options.minAgeMs ?? 0, deps.nowMs)) result.removedDirs.push(dir.path);
        else result.errors.push(`${dir.path}: changed since the scan, kept`);
      } catch (err) {
        result.errors.push(`${dir.path}: ${describeError(err)}`);
      }
    }
  }
  return result;
}
