import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOKKEEPING_DIR, type RunnerMeta } from './process-bookkeeping.ts';

/** Helpers for tests of the process provider (not part of the public surface). */

/** The provider's record of a runner under `workRoot` (throws when there is none). */
export function readRunnerMeta(workRoot: string, runnerName: string): RunnerMeta {
  return JSON.parse(readFileSync(join(workRoot, BOOKKEEPING_DIR, runnerName, 'meta.json'), 'utf8')) as RunnerMeta;
}

/** `pid` and every process below it, parents first (a sandbox's monitor, its init, the runner, the job). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Exited meanwhile.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** The command line of a process ([] once it is gone). */
export function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
  } catch {
    return [];
  }
}

/** Host pids whose command line contains `marker`. */
export function pidsWithArgv(marker: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => argvOf(pid).some((arg) => arg.includes(marker)));
}

/** Why the sandboxed tests cannot run here (bubblewrap missing), or false. */
export function sandboxSkipReason(): string | false {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/bin'];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, 'bwrap'), constants.X_OK);
      return false;
    } catch {
      // Not here.
    }
  }
  return 'bubblewrap (bwrap) is not installed: apt-get install bubblewrap (bash .ci/run does)';
}
