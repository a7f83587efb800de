import { labelsSatisfy } from '../core/index.ts';

/** What pool selection needs to know about a pool. */
export interface PoolMatchSpec {
  name: string;
  labels: readonly string[];
  scope: { kind: 'repo'; owner: string; repo: string } | { kind: 'org'; org: string } | { kind: 'enterprise'; enterprise: string };
}

/** True when the pool's runners can register where the job's repository can use them. */
export function scopeCovers(scope: PoolMatchSpec['scope'], owner: string, repo: string): boolean {
  switch (scope.kind) {
    case 'repo':
      return scope.owner.toLowerCase() === owner.toLowerCase() && scope.repo.toLowerCase() === repo.toLowerCase();
    case 'org':
      return scope.org.toLowerCase() === owner.toLowerCase();
    case 'enterprise':
      return true;
  }
}

/**
 * Most specific first: fewer labels, then a repository scope before an organisation's, then
 * configuration order. A pool `[self-hosted, linux, large]` listed before `[self-hosted, linux]`
 * must not take every job of the smaller one: a job asking for `[self-hosted, linux]` fits both,
 * and the pool that carries nothing it did not ask for is the one meant for it.
 */
export function mostSpecificFirst<P extends PoolMatchSpec>(pools: readonly P[]): P[] {
  const rank = (scope: PoolMatchSpec['scope']) => (scope.kind === 'repo' ? 0 : scope.kind === 'org' ? 1 : 2);
  // Array.prototype.sort is stable: equal pools keep configuration order.
  return [...pools].sort((a, b) => new Set(a.labels.map((l) => l.toLowerCase())).size - new Set(b.labels.map((l) => l.toLowerCase())).size || rank(a.scope) - rank(b.scope));
}

/**
 * The pool that serves a job: of the pools whose scope covers the job's repository and whose
 * labels include every label the job asks for (GitHub's rule, case-insensitive), the most
 * specific ({@link mostSpecificFirst}). A job with no labels is served by no pool.
 */
export function selectPool<P extends PoolMatchSpec>(pools: readonly P[], job: { owner: string; repo: string; labels: readonly string[] }): P | null {
  if (job.labels.length === 0) return null;
  return mostSpecificFirst(pools.filter((pool) => scopeCovers(pool.scope, job.owner, job.repo) && labelsSatisfy(pool.labels, job.labels)))[0] ?? null;
}
