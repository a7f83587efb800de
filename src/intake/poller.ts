import { jobStateOf, retireMissingJob, retireRepositoryJobs } from '../controller/index.ts';
import { describeError, isJitpoolError, isSafeLabel, isSafeRunnerName, labelsSatisfy, type Clock, type Logger } from '../core/index.ts';
import type { GitHubApi, GitHubJob, RepoRef } from '../github/index.ts';
import { matchJob, workflowRunsOn, type JobMatch, type PoolMatchSpec } from '../routing/index.ts';
import type { JobObservation, Store } from '../store/index.ts';
import { nextPollDelayMs } from './poll-delay.ts';
import type { RunnerAccess } from './runner-access.ts';

/** Options of {@link Poller}. */
export interface PollerOptions {
  github: GitHubApi;
  store: Store;
  pools: readonly PoolMatchSpec[];
  logger: Logger;
  clock: Clock;
  /** Time between polls (stretched when the rate-limit budget runs low). */
  intervalMs: number;
  /** Time between repository discoveries for org-scope pools. @default 1800000 */
  discoveryIntervalMs?: number;
  /** Repositories to watch for org-scope pools instead of discovering them (`owner/name`). */
  repos?: readonly string[];
  /** Runner-group access; without it only labels and scopes are matched. */
  access?: RunnerAccess;
  /** Called after a poll recorded a change (the controller's `kick`). */
  onChange: () => void;
}

/** What one poll did. */
export interface PollResult {
  repos: number;
  requests: number;
  notModified: number;
  jobsChanged: number;
}

/** Most open jobs of one repository read one by one in a poll (jobs no open run lists any more). */
const MAX_VANISHED_READS_PER_REPO = 50;
/** Longest a failing repository is left alone between two polls of it. */
const MAX_REPO_BACKOFF_MS = 60 * 60_000;

/**
 * The backstop for lost webhooks, downtime and poll-only setups. Every request is conditional
 * (a 304 costs no rate limit), job lists are read only for runs whose list changed, and org
 * scopes watch only repositories whose workflows ask for labels a pool carries (seed 003's
 * discovery), refreshed on their own schedule.
 */
export class Poller {
  readonly #options: PollerOptions;
  readonly #log: Logger;
  #watched: RepoRef[] | null = null;
  #lastDiscoveryMs = -Infinity;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #lastCountedCalls = 1;
  #running: Promise<PollResult> | null = null;
  /** Job ids each repository's open-run lists held at their last fresh read. */
  readonly #listedJobs = new Map<string, Set<number>>();
  /** Repositories whose poll failed, and when to try them again (one bad repository never stops the others, nor costs every poll). */
  readonly #repoBackoff = new Map<string, { failures: number; untilMs: number }>();

  constructor(options: PollerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'intake.poller' });
  }

  /** Repositories being watched (after discovery). */
  get watched(): readonly RepoRef[] {
    return this.#watched ?? [];
  }

  /** Polls at once, then on the interval (stretched when the budget runs low). */
  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      await this.pollOnce().catch((err: unknown) => this.#log.warn({ err: describeError(err) }, 'poll failed'));
      if (this.#stopped) return;
      const delayMs = nextPollDelayMs(this.#options.intervalMs, this.#options.github.rateLimit(), this.#lastCountedCalls, this.#options.clock.now());
      if (delayMs > this.#options.intervalMs) this.#log.warn({ delayMs }, 'rate-limit budget low: polling slows down');
      this.#timer = setTimeout(() => void tick(), delayMs);
      this.#timer.unref();
    };
    void tick();
  }

  /** Stops polling; an in-flight poll finishes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  /** The delay the poller would wait now before its next poll. */
  nextDelayMs(): number {
    return nextPollDelayMs(this.#options.intervalMs, this.#options.github.rateLimit(), this.#lastCountedCalls, this.#options.clock.now());
  }

  /** One poll of every watched repository (discovering them first when due). */
  async pollOnce(): Promise<PollResult> {
    this.#running ??= this.#poll().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #poll(): Promise<PollResult> {
    if (this.#options.clock.now() - this.#lastDiscoveryMs >= (this.#options.discoveryIntervalMs ?? 30 * 60_000)) {
      await this.discover();
    }
    const before = this.#options.github.stats();
    let jobsChanged = 0;
    for (const repo of this.watched) {
      if (this.#stopped) break;
      const key = `${repo.owner}/${repo.repo}`.toLowerCase();
      const backoff = this.#repoBackoff.get(key);
      if (backoff && backoff.untilMs > this.#options.clock.now()) continue;
      try {
        jobsChanged += await this.#pollRepo(repo);
        this.#repoBackoff.delete(key);
      } catch (err) {
        jobsChanged += this.#repoFailed(repo, err);
      }
    }
    const after = this.#options.github.stats();
    const requests = after.total - before.total;
    const notModified = after.notModified - before.notModified;
    this.#lastCountedCalls = Math.max(1, requests - notModified);
    if (jobsChanged > 0) this.#options.onChange();
    return { repos: this.watched.length, requests, notModified, jobsChanged };
  }

  /**
   * A repository's poll failed: it is left alone for a growing delay. A 404 means the
   * repository is gone (or no longer visible to the token): its open jobs are retired.
   */
  #repoFailed(repo: RepoRef, err: unknown): number {
    const key = `${repo.owner}/${repo.repo}`.toLowerCase();
    const failures = (this.#repoBackoff.get(key)?.failures ?? 0) + 1;
    const delayMs = Math.min(MAX_REPO_BACKOFF_MS, this.#options.intervalMs * 2 ** (failures - 1));
    this.#repoBackoff.set(key, { failures, untilMs: this.#options.clock.now() + delayMs });
    this.#log.warn({ repo: `${repo.owner}/${repo.repo}`, failures, retryInMs: delayMs, err: describeError(err) }, 'could not poll repository; trying it again later');
    if (!isJitpoolError(err, 'JP_GITHUB_NOT_FOUND')) return 0;
    return retireRepositoryJobs({ store: this.#options.store, logger: this.#log }, repo.owner, repo.repo, 'poller');
  }

  /** Rebuilds the watch list: repo-scope pools' repositories plus, for org scopes, discovered ones. */
  async discover(): Promise<void> {
    const { pools, github, repos } = this.#options;
    const watched = new Map<string, RepoRef>();
    const add = (ref: RepoRef) => watched.set(`${ref.owner}/${ref.repo}`.toLowerCase(), ref);
    for (const pool of pools) if (pool.scope.kind === 'repo') add({ owner: pool.scope.owner, repo: pool.scope.repo });
    const orgs = [...new Set(pools.flatMap((pool) => (pool.scope.kind === 'org' ? [pool.scope.org] : [])))];
    if (repos && repos.length > 0) {
      for (const full of repos) {
        const [owner = '', repo = ''] = full.split('/');
        add({ owner, repo });
      }
    } else {
      for (const org of orgs) {
        const orgPools = pools.filter((pool) => pool.scope.kind === 'org' && pool.scope.org.toLowerCase() === org.toLowerCase());
        const { items } = await github.listScopeRepos(org);
        for (const ref of items) this.#options.access?.noteVisibility(ref.owner, ref.repo, ref.visibility);
        for (const ref of items.filter((r) => r.owner.toLowerCase() === org.toLowerCase())) {
          if (await this.#usesPoolLabels(ref, orgPools)) add(ref);
        }
      }
    }
    this.#watched = [...watched.values()];
    this.#lastDiscoveryMs = this.#options.clock.now();
    this.#log.info({ repos: this.#watched.map((r) => `${r.owner}/${r.repo}`) }, 'watching repositories');
  }

  /** True when a workflow of the repository asks for labels one of the pools carries (or cannot be read statically). */
  async #usesPoolLabels(ref: RepoRef, pools: readonly PoolMatchSpec[]): Promise<boolean> {
    const { github } = this.#options;
    const { items: paths } = await github.listWorkflowPaths(ref.owner, ref.repo);
    for (const path of paths) {
      const { text } = await github.getFileText(ref.owner, ref.repo, path);
      if (text === null) continue;
      for (const runsOn of workflowRunsOn(text)) {
        // An expression may resolve to our labels at run time: watch rather than miss jobs.
        if (runsOn.kind === 'unresolvable') return true;
        if (pools.some((pool) => labelsSatisfy(pool.labels, runsOn.labels))) return true;
      }
    }
    return false;
  }

  async #pollRepo(ref: RepoRef): Promise<number> {
    const { github, store } = this.#options;
    const repoKey = `${ref.owner}/${ref.repo}`.toLowerCase();
    const startedMs = this.#options.clock.now();
    let changed = 0;
    let isAnyListFresh = false;
    const listed = new Set<number>();
    const readRuns = new Set<number>();
    // A run is `in_progress` as soon as one of its jobs started, though others may still be queued.
    for (const status of ['queued', 'in_progress'] as const) {
      const memoKey = `${repoKey} ${status}`;
      const runs = await github.listWorkflowRuns(ref.owner, ref.repo, status);
      const remembered = this.#listedJobs.get(memoKey);
      if (runs.notModified && remembered) {
        // Same runs as last time: their jobs were recorded then; only remember what they hold.
        for (const id of remembered) listed.add(id);
        continue;
      }
      isAnyListFresh = true;
      const ids = new Set<number>();
      for (const run of runs.items) {
        // A run listed twice (it changed status between the two lists) is read once.
        if (readRuns.has(run.id)) continue;
        readRuns.add(run.id);
        const jobs = await github.listRunJobs(ref.owner, ref.repo, run.id);
        for (const job of jobs.items) {
          ids.add(job.id);
          if (!jobs.notModified && this.#record(ref, job)) changed += 1;
        }
      }
      this.#listedJobs.set(memoKey, ids);
      for (const id of ids) listed.add(id);
    }
    if (!isAnyListFresh) return changed;
    // Jobs the store thinks open but no open run lists any more finished while nobody told us
    // (lost `completed` webhooks, downtime): read each once to learn how it ended.
    const vanished = store
      .listOpenJobs()
      .filter((job) => `${job.owner}/${job.repo}`.toLowerCase() === repoKey)
      .filter((job) => job.state !== 'waiting' && !listed.has(job.id) && job.updatedAtMs < startedMs)
      .slice(0, MAX_VANISHED_READS_PER_REPO);
    for (const job of vanished) changed += await this.#readVanished(ref, job.id);
    return changed;
  }

  /** Reads one job no open run lists: how it ended, or — 404 — that it is gone. One failure never stops the others. */
  async #readVanished(ref: RepoRef, jobId: number): Promise<number> {
    const { github, store, clock } = this.#options;
    try {
      return this.#record(ref, await github.getJob(ref.owner, ref.repo, jobId)) ? 1 : 0;
    } catch (err) {
      if (isJitpoolError(err, 'JP_GITHUB_NOT_FOUND')) return retireMissingJob({ store, github, clock, logger: this.#log }, { id: jobId, ...ref }, 'poller');
      this.#log.warn({ repo: `${ref.owner}/${ref.repo}`, jobId, err: describeError(err) }, 'could not read job; trying again at the next poll');
      return 0;
    }
  }

  #record(ref: RepoRef, job: GitHubJob): boolean {
    const { store, pools } = this.#options;
    // What GitHub returns is input too: labels and names are checked before they are stored.
    if (!job.labels.every(isSafeLabel)) return false;
    // `pending` (held by a concurrency group) is not demand yet: recorded like `waiting`.
    const state = jobStateOf(job.status);
    const observation: JobObservation = {
      id: job.id,
      runId: job.runId,
      owner: ref.owner,
      repo: ref.repo,
      name: job.name.slice(0, 200),
      labels: job.labels,
      state,
      conclusion: job.conclusion,
      runnerName: job.runnerName && isSafeRunnerName(job.runnerName) ? job.runnerName : null,
      queuedAtMs: Date.parse(job.createdAt),
      startedAtMs: job.startedAt ? Date.parse(job.startedAt) : null,
      completedAtMs: job.completedAt ? Date.parse(job.completedAt) : null,
    };
    const known = store.getJob(job.id);
    if (known) return store.observeJob(observation, known.pool, 'poller').changed;
    const match: JobMatch<PoolMatchSpec> = this.#options.access ? this.#options.access.match(observation) : matchJob(pools, observation, () => null);
    if (match.kind === 'ignored' || state === 'completed') return false;
    const pool = match.pool?.name ?? null;
    return store.transaction(() => {
      const result = store.observeJob(observation, pool, 'poller');
      // A job no runner of jitpool may take is recorded with the reason, and never counted as demand.
      if (match.kind === 'unservable') store.setJobMatch(job.id, pool, match.reason, 'poller');
      return result.changed;
    });
  }
}
