import { describeError, isSafeLabel, isSafeRunnerName, labelsSatisfy, type Clock, type Logger } from '../core/index.ts';
import type { GitHubApi, GitHubJob, RepoRef } from '../github/index.ts';
import { selectPool, workflowRunsOn, type PoolMatchSpec } from '../routing/index.ts';
import type { JobObservation, JobState, Store } from '../store/index.ts';
import { nextPollDelayMs } from './poll-delay.ts';

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

const QUEUED_LIKE = new Set(['queued', 'requested', 'pending']);

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
      jobsChanged += await this.#pollRepo(repo).catch((err: unknown) => {
        this.#log.warn({ repo: `${repo.owner}/${repo.repo}`, err: describeError(err) }, 'could not poll repository');
        return 0;
      });
    }
    const after = this.#options.github.stats();
    const requests = after.total - before.total;
    const notModified = after.notModified - before.notModified;
    this.#lastCountedCalls = Math.max(1, requests - notModified);
    if (jobsChanged > 0) this.#options.onChange();
    return { repos: this.watched.length, requests, notModified, jobsChanged };
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
      .filter((job) => job.state !== 'waiting' && !listed.has(job.id) && job.updatedAtMs < startedMs);
    for (const job of vanished) {
      const fresh = await github.getJob(ref.owner, ref.repo, job.id);
      if (this.#record(ref, fresh)) changed += 1;
    }
    return changed;
  }

  #record(ref: RepoRef, job: GitHubJob): boolean {
    const { store, pools } = this.#options;
    // What GitHub returns is input too: labels and names are checked before they are stored.
    if (!job.labels.every(isSafeLabel)) return false;
    const state: JobState = QUEUED_LIKE.has(job.status) ? 'queued' : (job.status as JobState);
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
    const pool = known ? known.pool : (selectPool(pools, observation)?.name ?? null);
    if (!known && (pool === null || state === 'completed')) return false;
    return store.observeJob(observation, pool, 'poller').changed;
  }
}
