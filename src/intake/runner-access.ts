import { describeError, type Clock, type Logger } from '../core/index.ts';
import type { GitHubApi } from '../github/index.ts';
import { matchJob, type JobMatch, type PoolAccessSpec, type RepositoryVisibility, type RunnerGroupAccess } from '../routing/index.ts';

/** Options of {@link RunnerAccess}. */
export interface RunnerAccessOptions {
  github: GitHubApi;
  pools: readonly PoolAccessSpec[];
  logger: Logger;
  clock: Clock;
  /** How long a runner group's settings are believed before they are read again. @default 600000 */
  groupTtlMs?: number;
  /** How long a repository's visibility is believed. @default 3600000 */
  repositoryTtlMs?: number;
  /** Most repositories whose visibility is remembered (oldest forgotten first). @default 10000 */
  maxRepositories?: number;
}

interface CachedGroup {
  access: RunnerGroupAccess | null;
  readAtMs: number;
}

/**
 * What jitpool knows of GitHub's runner-group access, cached and bounded: each organisation
 * pool's runner group (one call per group per `groupTtlMs`, plus its repository list when the
 * group serves selected repositories) and repository visibility (learned free from webhooks and
 * discovery, read with one call per repository and `repositoryTtlMs` otherwise). Matching itself
 * is the pure {@link matchJob}; this only feeds it.
 */
export class RunnerAccess {
  readonly #options: RunnerAccessOptions;
  readonly #log: Logger;
  readonly #groups = new Map<string, CachedGroup>();
  readonly #visibility = new Map<string, { visibility: RepositoryVisibility; atMs: number }>();

  constructor(options: RunnerAccessOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'intake.access' });
  }

  /** Remembers a repository's visibility (from a webhook or a listing: no call). */
  noteVisibility(owner: string, repo: string, visibility: RepositoryVisibility | null | undefined): void {
    if (!visibility) return;
    const key = repoKey(owner, repo);
    this.#visibility.delete(key);
    if (this.#visibility.size >= (this.#options.maxRepositories ?? 10_000)) this.#visibility.delete(this.#visibility.keys().next().value!);
    this.#visibility.set(key, { visibility, atMs: this.#options.clock.now() });
  }

  /** A repository's visibility when known and fresh. */
  visibilityOf(owner: string, repo: string): RepositoryVisibility | null {
    const known = this.#visibility.get(repoKey(owner, repo));
    if (!known || this.#options.clock.now() - known.atMs > (this.#options.repositoryTtlMs ?? 3_600_000)) return null;
    return known.visibility;
  }

  /** The runner group of an organisation pool as last read (null: not read, not readable, or not an org pool). */
  groupOf(pool: PoolAccessSpec): RunnerGroupAccess | null {
    if (pool.scope.kind !== 'org') return null;
    return this.#groups.get(groupKey(pool.scope.org, pool.runnerGroupId ?? 1))?.access ?? null;
  }

  /** Which pool serves a job, or why none can, from what is known now (see {@link matchJob}). */
  match(job: { owner: string; repo: string; labels: readonly string[]; visibility?: RepositoryVisibility | null }): JobMatch<PoolAccessSpec> {
    this.noteVisibility(job.owner, job.repo, job.visibility);
    const visibility = job.visibility ?? this.visibilityOf(job.owner, job.repo);
    return matchJob(this.#options.pools, { ...job, visibility }, (pool) => this.groupOf(pool));
  }

  /** True when a fitting pool's group cares about visibility and the repository's is not known. */
  needsVisibility(job: { owner: string; repo: string; labels: readonly string[] }): boolean {
    if (this.visibilityOf(job.owner, job.repo) !== null) return false;
    const match = this.match(job);
    const pool = match.kind === 'ignored' ? null : match.pool;
    if (!pool) return false;
    const group = this.groupOf(pool);
    return group !== null && (!group.allowsPublicRepositories || group.visibility === 'private');
  }

  /** Reads a repository's visibility (one call); a repository GitHub does not show stays unknown. */
  async lookUpVisibility(owner: string, repo: string): Promise<void> {
    if (!this.#options.github.getRepository) return;
    try {
      const found = await this.#options.github.getRepository(owner, repo);
      if (found) this.noteVisibility(owner, repo, found.visibility);
    } catch (err) {
      this.#log.debug({ repo: `${owner}/${repo}`, err: describeError(err) }, 'could not read repository visibility');
    }
  }

  /**
   * Re-reads the runner groups whose settings are older than `groupTtlMs` (conditional requests:
   * unchanged ones cost no rate limit). Returns true when what is known changed. A group jitpool
   * may not read is taken as serving every repository, and asked about again after the TTL.
   */
  async refreshGroups(): Promise<boolean> {
    const { github, clock } = this.#options;
    let isChanged = false;
    for (const [key, org, groupId] of this.#orgGroups()) {
      const cached = this.#groups.get(key);
      if (cached && clock.now() - cached.readAtMs < (this.#options.groupTtlMs ?? 600_000)) continue;
      let access: RunnerGroupAccess | null = null;
      try {
        if (github.getRunnerGroup) {
          const group = await github.getRunnerGroup(org, groupId);
          const selected = group.visibility === 'selected' && github.listRunnerGroupRepositories
            ? (await github.listRunnerGroupRepositories(org, groupId)).items
            : null;
          access = { id: group.id, name: group.name, visibility: group.visibility, allowsPublicRepositories: group.allowsPublicRepositories, selectedRepositories: selected };
        }
      } catch (err) {
        this.#log.warn({ org, runnerGroupId: groupId, err: describeError(err) }, 'could not read the runner group; assuming it serves every repository');
        access = cached?.access ?? null;
      }
      if (JSON.stringify(access) !== JSON.stringify(cached?.access ?? null)) isChanged = true;
      this.#groups.set(key, { access, readAtMs: clock.now() });
    }
    return isChanged;
  }

  #orgGroups(): Array<[string, string, number]> {
    const seen = new Map<string, [string, string, number]>();
    for (const pool of this.#options.pools) {
      if (pool.scope.kind !== 'org') continue;
      const groupId = pool.runnerGroupId ?? 1;
      seen.set(groupKey(pool.scope.org, groupId), [groupKey(pool.scope.org, groupId), pool.scope.org, groupId]);
    }
    return [...seen.values()];
  }
}

function repoKey(owner: string, repo: string): string {
  return `${owner}/${repo}`.toLowerCase();
}

function groupKey(org: string, groupId: number): string {
  return `${org.toLowerCase()}#${groupId}`;
}
