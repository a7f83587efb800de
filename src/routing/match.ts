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
 * The pool that serves a job: the first pool, in configuration order, whose scope covers the
 * job's repository and whose labels include every label the job asks for (GitHub's rule,
 * case-insensitive). A job with no labels is served by no pool.
 */
export function selectPool<P extends PoolMatchSpec>(pools: readonly P[], job: { owner: string; repo: string; labels: readonly string[] }): P | null {
  if (job.labels.length === 0) return null;
  return pools.find((pool) => scopeCovers(pool.scope, job.owner, job.repo) && labelsSatisfy(pool.labels, job.labels)) ?? null;
}
