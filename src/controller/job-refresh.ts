import { isJitpoolError, type Clock, type Logger } from '../core/index.ts';
import type { GitHubApi, GitHubJob } from '../github/index.ts';
import type { JobRecord, JobState, Store } from '../store/index.ts';

/**
 * Re-reading jobs whose view may be stale, on a budget. A job GitHub keeps `queued` (no runner of
 * its group may take it, or GitHub is slow to assign) is re-read with a growing delay persisted
 * in the store, so neither reconciles nor restarts make it a hot loop; a job GitHub answers 404
 * for is retired (`gone`), with its whole repository's jobs when the repository is gone.
 */

/** First delay between two refreshes of a job that stays queued; it doubles each time. */
export const REFRESH_BASE_MS = 60_000;
/** Longest delay between two refreshes of one job. */
export const REFRESH_MAX_DELAY_MS = 30 * 60_000;
/** Most refreshes one reconcile plans per pool (the rest wait for a later pass). */
export const MAX_REFRESHES_PER_POOL = 10;
/** How long a repository found gone (or present) is believed without asking again. */
const REPOSITORY_VERDICT_TTL_MS = 10 * 60_000;

/** The delay before refresh number `attempts + 1` of a job that stayed queued. */
export function refreshDelayMs(attempts: number): number {
  return Math.min(REFRESH_MAX_DELAY_MS, REFRESH_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/** True when a queued job may be re-read now: on its persisted schedule, or once it went `staleJobMs` without news. */
export function isRefreshDue(job: JobRecord, nowMs: number, staleJobMs: number): boolean {
  const next = job.nextRefreshAtMs ?? null;
  if (next !== null) return nowMs >= next;
  return nowMs - job.updatedAtMs > staleJobMs;
}

/**
 * The queued jobs to re-read this pass: due ones, at most {@link MAX_REFRESHES_PER_POOL}, taken
 * round-robin across repositories (each repository's longest overdue first) — one 404 retires a
 * whole vanished repository, so ten reads of the same one would be nine wasted. Pure.
 */
export function dueJobRefreshes(queued: readonly JobRecord[], nowMs: number, staleJobMs: number): JobRecord[] {
  const dueAt = (job: JobRecord) => job.nextRefreshAtMs ?? job.updatedAtMs + staleJobMs;
  const due = queued.filter((job) => !job.unservableReason && isRefreshDue(job, nowMs, staleJobMs)).sort((a, b) => dueAt(a) - dueAt(b) || a.id - b.id);
  const byRepo = new Map<string, JobRecord[]>();
  for (const job of due) {
    const key = `${job.owner}/${job.repo}`.toLowerCase();
    byRepo.set(key, [...(byRepo.get(key) ?? []), job]);
  }
  const picked: JobRecord[] = [];
  for (let round = 0; picked.length < MAX_REFRESHES_PER_POOL && picked.length < due.length; round += 1) {
    for (const jobs of byRepo.values()) {
      const job = jobs[round];
      if (job && picked.length < MAX_REFRESHES_PER_POOL) picked.push(job);
    }
  }
  return picked;
}

/** What refreshing and retiring jobs needs. */
export interface JobRefreshDeps {
  store: Store;
  github: GitHubApi;
  clock: Clock;
  logger: Logger;
}

/**
 * Re-reads one job from GitHub. The next attempt is scheduled (persisted) before the call, so a
 * failure, a crash or GitHub's unchanged "queued" all leave the job waiting its turn. A 404
 * retires the job (see {@link retireMissingJob}); other errors are thrown for the executor's
 * backoff.
 */
export async function refreshJob(deps: JobRefreshDeps, target: { jobId: number; owner: string; repo: string }): Promise<void> {
  const { store, github, clock } = deps;
  const current = store.getJob(target.jobId);
  if (!current || current.state === 'completed' || current.state === 'gone') return;
  const attempts = (current.refreshAttempts ?? 0) + 1;
  store.scheduleJobRefresh(current.id, attempts, clock.now() + refreshDelayMs(attempts));
  let job: GitHubJob;
  try {
    job = await github.getJob(target.owner, target.repo, target.jobId);
  } catch (err) {
    if (isJitpoolError(err, 'JP_GITHUB_NOT_FOUND')) {
      await retireMissingJob(deps, current, 'github-refresh');
      return;
    }
    throw err;
  }
  store.observeJob(
    {
      ...current,
      state: jobStateOf(job.status),
      conclusion: job.conclusion,
      runnerName: job.runnerName,
      startedAtMs: job.startedAt ? Date.parse(job.startedAt) : null,
      completedAtMs: job.completedAt ? Date.parse(job.completedAt) : null,
    },
    current.pool,
    'github-refresh',
  );
}

/**
 * The store state of a job status GitHub reports: `pending` (held by a concurrency group) is
 * not runnable yet, like `waiting`; `requested` is about to be queued.
 */
export function jobStateOf(status: GitHubJob['status']): JobState {
  if (status === 'completed' || status === 'in_progress' || status === 'waiting') return status;
  if (status === 'pending') return 'waiting';
  return 'queued';
}

/**
 * Retires a job GitHub answered 404 for. When its repository is gone too (deleted, or no longer
 * visible to the token: one call, cached), every open job of that repository is retired at once;
 * otherwise only this one (its run was deleted). Each retirement is a `gone` transition (an event
 * the metrics count). Returns how many jobs were retired.
 */
export async function retireMissingJob(deps: JobRefreshDeps, job: Pick<JobRecord, 'id' | 'owner' | 'repo'>, actor: string): Promise<number> {
  const isRepositoryGone = await repositoryIsGone(deps, job.owner, job.repo);
  return isRepositoryGone ? retireRepositoryJobs(deps, job.owner, job.repo, actor) : retire(deps, [job.id], 'GitHub no longer knows the job (its run was deleted)', actor);
}

/** Retires every open job of a repository GitHub no longer shows (404). Returns how many. */
export function retireRepositoryJobs(deps: Pick<JobRefreshDeps, 'store' | 'logger'>, owner: string, repo: string, actor: string): number {
  const key = `${owner}/${repo}`.toLowerCase();
  const ids = deps.store.listOpenJobs().filter((open) => `${open.owner}/${open.repo}`.toLowerCase() === key).map((open) => open.id);
  return retire(deps, ids, `repository ${owner}/${repo} not found at GitHub (deleted, or no longer visible to jitpool's token)`, actor);
}

function retire(deps: Pick<JobRefreshDeps, 'store' | 'logger'>, ids: readonly number[], reason: string, actor: string): number {
  if (ids.length === 0) return 0;
  const retired = deps.store.retireJobs(ids, reason, actor);
  if (retired.length > 0) {
    deps.logger.warn({ component: 'controller.jobs', jobs: retired.length, jobIds: retired.slice(0, 10).map((job) => job.id), reason }, 'jobs retired: GitHub answers 404');
  }
  return retired.length;
}

/** One verdict per repository and client at a time, believed for a while (many jobs 404 together). */
const verdicts = new WeakMap<GitHubApi, Map<string, { atMs: number; isGone: Promise<boolean> }>>();

async function repositoryIsGone(deps: JobRefreshDeps, owner: string, repo: string): Promise<boolean> {
  const { github, clock } = deps;
  if (!github.getRepository) return false;
  const byRepo = verdicts.get(github) ?? new Map<string, { atMs: number; isGone: Promise<boolean> }>();
  verdicts.set(github, byRepo);
  const key = `${owner}/${repo}`.toLowerCase();
  const cached = byRepo.get(key);
  if (cached && clock.now() - cached.atMs < REPOSITORY_VERDICT_TTL_MS) return cached.isGone;
  if (byRepo.size >= 1000) byRepo.delete(byRepo.keys().next().value!);
  const isGone = github.getRepository(owner, repo).then((found) => found === null);
  byRepo.set(key, { atMs: clock.now(), isGone });
  // A failed lookup is not a verdict: forget it so the next 404 asks again.
  isGone.catch(() => byRepo.delete(key));
  return isGone;
}
