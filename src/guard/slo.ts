import { percentile, round } from '../core/index.ts';
import type { JobRecord, RouteAuditRecord, Store } from '../store/index.ts';

/** How one trusted run went, as far as the rollback triggers care. */
export interface TrustedRunFigure {
  runId: number;
  /** When its first job was queued. */
  queuedAtMs: number;
  /**
   * `boot-failed`: a job never started and either ended unsuccessfully or saw a runner of its pool
   * fail to boot/register while it waited; `pending`: a job still waits with no such failure;
   * `ok`: every job started.
   */
  outcome: 'boot-failed' | 'pending' | 'ok';
  /** Queue wait of each job (started − queued; still queued: now − queued). */
  queueWaitsMs: number[];
  /** Why it counts as a boot failure. */
  bootFailure: { jobId: number; reason: string } | null;
}

/** The figures the rollback triggers read, for one repository. */
export interface GuardFigures {
  owner: string;
  repo: string;
  /** Evidence older than this is ignored (the last restore, or 0). */
  windowStartMs: number;
  /** Latest trusted runs, newest first. */
  runs: TrustedRunFigure[];
  /** Route audits in the window that found an untrusted run on a self-hosted pool. */
  mismatches: RouteAuditRecord[];
  /** Registrations of the pools serving the repository that are offline, with for how long (counted from the last recovery when later). */
  offlineRunners: Array<{ pool: string; name: string; offlineMs: number }>;
}

/** Reads the latest trusted runs of a repository from the store and classifies each. */
export function trustedRunFigures(store: Store, owner: string, repo: string, options: { sinceMs: number; runs: number; nowMs: number }): TrustedRunFigure[] {
  const bootFailuresByPool = new Map<string, Array<{ atMs: number; reason: string | null; name: string }>>();
  const failuresOf = (pool: string) => {
    let list = bootFailuresByPool.get(pool);
    if (!list) bootFailuresByPool.set(pool, (list = store.guard.bootFailures(pool, options.sinceMs)));
    return list;
  };
  return store.guard.trustedRunJobs(owner, repo, options.sinceMs, options.runs).map(({ runId, jobs }) => {
    let bootFailure: TrustedRunFigure['bootFailure'] = null;
    let isPending = false;
    for (const job of jobs) {
      if (job.startedAtMs !== null || (job.state === 'completed' && job.conclusion === 'success')) continue;
      const failure = job.pool ? failuresOf(job.pool).find((f) => f.atMs >= job.queuedAtMs && (job.completedAtMs === null || f.atMs <= job.completedAtMs)) : undefined;
      if (failure) {
        bootFailure ??= { jobId: job.id, reason: `runner ${failure.name} failed to boot/register: ${failure.reason ?? 'unknown'}` };
      } else if (job.state === 'completed') {
        bootFailure ??= { jobId: job.id, reason: `job ${job.name} ended ${job.conclusion ?? 'without a conclusion'} before any runner started it` };
      } else {
        isPending = true;
      }
    }
    return {
      runId,
      queuedAtMs: Math.min(...jobs.map((job) => job.queuedAtMs)),
      outcome: bootFailure ? 'boot-failed' : isPending ? 'pending' : 'ok',
      queueWaitsMs: jobs.map((job) => queueWaitMs(job, options.nowMs)).filter((wait): wait is number => wait !== null),
      bootFailure,
    };
  });
}

/** A job's queue wait: started − queued, or now − queued while it still waits; null for a job cancelled before it started. */
export function queueWaitMs(job: JobRecord, nowMs: number): number | null {
  if (job.startedAtMs !== null) return Math.max(0, job.startedAtMs - job.queuedAtMs);
  if (job.state === 'completed') return null;
  return Math.max(0, nowMs - job.queuedAtMs);
}

/** Routing correctness over the latest `last` audited runs (seed 001 §11: it must be 100 %). */
export interface RoutingCorrectness {
  /** Audited runs considered. */
  audited: number;
  /** Untrusted runs that reached a self-hosted pool. */
  mismatches: number;
  /** Percentage of audited runs routed correctly; 100 when none were audited. */
  correctPercent: number;
  /** The mismatched runs (run id, repository, rule, reason). */
  mismatchedRuns: Array<{ runId: number; repository: string; rule: string; reason: string }>;
}

/**
 * Routing correctness for `jitpool report --last N`: of the latest `last` runs audited on
 * self-hosted pools, the share that the policy trusts. Trusted runs sent to hosted runners are
 * visible only in the route action's output, not here.
 */
export function routingCorrectness(store: Store, last: number): RoutingCorrectness {
  const audits = store.guard.listRouteAudits({ limit: last });
  const mismatched = audits.filter((audit) => audit.isMismatch);
  return {
    audited: audits.length,
    mismatches: mismatched.length,
    correctPercent: audits.length === 0 ? 100 : round((100 * (audits.length - mismatched.length)) / audits.length, 2),
    mismatchedRuns: mismatched.map((audit) => ({ runId: audit.runId, repository: `${audit.owner}/${audit.repo}`, rule: audit.rule, reason: audit.reason })),
  };
}

/** The p95 of the queue waits of `runs`, in ms (0 without samples). */
export function p95QueueWaitMs(runs: readonly TrustedRunFigure[]): number {
  return percentile(runs.flatMap((run) => run.queueWaitsMs), 95);
}
