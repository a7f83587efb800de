import { dirname } from 'node:path';
import { isSameOrInside, isSystemDirectory } from '../core/index.ts';
import type { Config } from './schema.ts';

/** A path setting that must be refused, with where it is in the config. */
export interface PathProblem {
  path: Array<string | number>;
  message: string;
}

/**
 * Directories jitpool deletes inside (work roots) or takes as its own (the state directory)
 * must not be `/`, a system directory, or each other: a work root holding the state directory
 * would put the database among the directories `doctor --cleanup-dirs` judges. Run on the
 * config with its paths resolved.
 */
export function pathProblems(config: Config): PathProblem[] {
  const problems: PathProblem[] = [];
  const { stateDir } = config.store;
  const sqliteDir = dirname(config.store.sqlitePath ?? `${stateDir}/jitpool.sqlite`);
  if (isSystemDirectory(stateDir)) {
    problems.push({ path: ['store', 'stateDir'], message: `${stateDir} is / or a system directory; use a directory of jitpool's own, e.g. /var/lib/jitpool` });
  }
  if (config.store.sqlitePath !== undefined && isSystemDirectory(sqliteDir) && sqliteDir !== stateDir) {
    problems.push({ path: ['store', 'sqlitePath'], message: `${config.store.sqlitePath} lies directly in a system directory; keep the database in the state directory` });
  }
  config.pools.forEach((pool, index) => {
    if (pool.provider.kind !== 'process' || pool.provider.workRoot === undefined) return;
    const workRoot = pool.provider.workRoot;
    const at = ['pools', index, 'provider', 'workRoot'];
    if (isSystemDirectory(workRoot)) {
      problems.push({ path: at, message: `${workRoot} is / or a system directory; runner work directories need a directory of their own (default: <stateDir>/work)` });
    } else if (isSameOrInside(stateDir, workRoot) || isSameOrInside(sqliteDir, workRoot)) {
      problems.push({ path: at, message: `${workRoot} holds the state directory or the database; use a directory below it instead (default: <stateDir>/work)` });
    }
  });
  return problems;
}
