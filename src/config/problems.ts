/**
 * How a configuration problem is described and printed. One shape for YAML syntax errors,
 * schema violations and bad environment overrides, so `jitpool config check`, the daemon's
 * start-up error and editors (which understand `FILE:LINE:COL:`) all read the same thing.
 */

/** One thing wrong with a configuration. */
export interface ConfigProblem {
  /** Where in the config, e.g. `pools[0].max`; empty for a YAML syntax error or the whole document. */
  path: string;
  /** What is wrong. */
  message: string;
  /** 1-based line in the YAML source (absent when the value came from an environment override). */
  line?: number;
  /** 1-based column in the YAML source. */
  column?: number;
  /** The `JITPOOL_*` variable the offending value came from, when it came from one. */
  envVar?: string;
}

/** Turns `['pools', 0, 'max']` into `pools[0].max`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** `FILE:LINE:COL: path: message` (position and path left out when unknown). */
export function formatProblem(sourceName: string, problem: ConfigProblem): string {
  const position = problem.line === undefined ? '' : `:${problem.line}:${problem.column ?? 1}`;
  const path = problem.path === '' ? '' : `${problem.path}: `;
  return `${sourceName}${position}: ${path}${problem.message}`;
}

/** Every problem, one per line, in source order. */
export function formatProblems(sourceName: string, problems: readonly ConfigProblem[]): string {
  return problems.map((problem) => formatProblem(sourceName, problem)).join('\n');
}
