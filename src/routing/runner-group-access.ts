import { labelsSatisfy, normalizeLabel } from '../core/index.ts';
import { mostSpecificFirst, scopeCovers, type PoolMatchSpec } from './match.ts';

/**
 * Which repositories an organisation runner group serves, as GitHub's runner-group API reports
 * it (`GET /orgs/{org}/actions/runner-groups/{id}` and its `/repositories`). GitHub gives a job
 * only to runners of a group that serves the job's repository, so a pool whose group does not is
 * no supply for that job, however well its labels match.
 * https://docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/managing-access-to-self-hosted-runners-using-groups
 */
export interface RunnerGroupAccess {
  id: number;
  name: string;
  /** `all` repositories, only `selected` ones, or all `private` ones. */
  visibility: 'all' | 'selected' | 'private';
  /** Public repositories may use the group. GitHub's default is false, for every group. */
  allowsPublicRepositories: boolean;
  /** `owner/repo` names a `selected` group serves; null when not known (not read, or not allowed to). */
  selectedRepositories: readonly string[] | null;
}

/** A repository's visibility as GitHub reports it. */
export type RepositoryVisibility = 'public' | 'private' | 'internal';

/** The repository a job belongs to, with its visibility when known. */
export interface JobRepository {
  owner: string;
  repo: string;
  visibility: RepositoryVisibility | null;
}

/** Whether a group serves a repository, and if not, why (words for an operator). */
export type GroupVerdict = { isAllowed: true } | { isAllowed: false; reason: string };

/**
 * GitHub's group access rule, as far as it is known: what is unknown (the group, the repository's
 * visibility, a selection jitpool may not read) is assumed allowed — an unknown is never a reason
 * to leave a job without runners.
 */
export function runnerGroupServes(group: RunnerGroupAccess | null, repository: JobRepository): GroupVerdict {
  if (group === null) return { isAllowed: true };
  const fullName = `${repository.owner}/${repository.repo}`;
  const label = `runner group "${group.name}" (${group.id})`;
  if (repository.visibility === 'public' && !group.allowsPublicRepositories) {
    return { isAllowed: false, reason: `${label} does not allow public repositories, and ${fullName} is public` };
  }
  if (group.visibility === 'private' && repository.visibility === 'public') {
    return { isAllowed: false, reason: `${label} serves private repositories only, and ${fullName} is public` };
  }
  if (group.visibility === 'selected' && group.selectedRepositories !== null) {
    const wanted = fullName.toLowerCase();
    if (!group.selectedRepositories.some((name) => name.toLowerCase() === wanted)) {
      return { isAllowed: false, reason: `${label} is limited to selected repositories, and ${fullName} is not one of them` };
    }
  }
  return { isAllowed: true };
}

/** A pool as job matching needs it: labels, scope and its runner group. */
export interface PoolAccessSpec extends PoolMatchSpec {
  /** The group its runners register in (org scope); 1 is `Default`. */
  runnerGroupId?: number;
}

/** The outcome of {@link matchJob}. */
export type JobMatch<P> =
  /** A pool can serve it. */
  | { kind: 'served'; pool: P }
  /** No pool can: `pool` is the first whose labels and scope fit (its group refuses), or null when no pool has the labels. */
  | { kind: 'unservable'; pool: P | null; reason: string }
  /** Not a job for jitpool at all (GitHub-hosted labels, another runner fleet's labels). */
  | { kind: 'ignored' };

/**
 * Which pool serves a job: the most specific (fewest labels, repository scope first, then
 * configuration order: {@link mostSpecificFirst}) whose scope covers the job's repository, whose
 * labels include every label the job asks for (case-insensitive) and whose runner group serves
 * the repository. Pure: `groupOf` answers from what jitpool last read.
 *
 * A job no pool serves is `unservable` (recorded, shown, never demand) when it is meant for
 * self-hosted runners like jitpool's — it asks for `self-hosted` or for a label a pool in its
 * scope carries — and `ignored` otherwise.
 */
export function matchJob<P extends PoolAccessSpec>(
  pools: readonly P[],
  job: { owner: string; repo: string; labels: readonly string[]; visibility?: RepositoryVisibility | null },
  groupOf: (pool: P) => RunnerGroupAccess | null,
): JobMatch<P> {
  if (job.labels.length === 0) return { kind: 'ignored' };
  const inScope = pools.filter((pool) => scopeCovers(pool.scope, job.owner, job.repo));
  const fitting = mostSpecificFirst(inScope.filter((pool) => labelsSatisfy(pool.labels, job.labels)));
  const repository: JobRepository = { owner: job.owner, repo: job.repo, visibility: job.visibility ?? null };
  let refusal: string | null = null;
  for (const pool of fitting) {
    // Repository-scope runners serve their one repository: groups are an organisation's matter.
    if (pool.scope.kind === 'repo') return { kind: 'served', pool };
    const verdict = runnerGroupServes(groupOf(pool), repository);
    if (verdict.isAllowed) return { kind: 'served', pool };
    refusal ??= `pool ${pool.name}: ${verdict.reason}`;
  }
  if (fitting.length > 0) return { kind: 'unservable', pool: fitting[0]!, reason: refusal ?? 'no runner group serves the repository' };
  const asked = job.labels.map(normalizeLabel);
  const poolLabels = new Set(inScope.flatMap((pool) => pool.labels.map(normalizeLabel)));
  const isForSelfHosted = asked.includes('self-hosted') || asked.some((label) => poolLabels.has(label));
  if (!isForSelfHosted) return { kind: 'ignored' };
  const missing = inScope.length === 0 ? asked : asked.filter((label) => !poolLabels.has(label));
  const reason = inScope.length === 0
    ? `no pool serves ${job.owner}/${job.repo}`
    : `no pool has every label of [${job.labels.join(', ')}]${missing.length > 0 ? ` (none carries ${missing.join(', ')})` : ''}`;
  return { kind: 'unservable', pool: null, reason };
}
