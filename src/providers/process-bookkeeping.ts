import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSafeRunnerName } from '../core/index.ts';

/**
 * The process provider's records of its runners, kept where no job can reach them: a 0700
 * directory of the controller's, `<workRoot>/.jitpool/<runner>/`, beside (never inside) the
 * runner's work directory, and never mounted into a sandbox. It maps a runner to the processes
 * the controller may signal, so nothing a job writes can change what `delete` kills. Holds:
 * `meta.json` (the pids), `status` (bwrap's status lines: the namespace's PID, then the exit
 * code, written by bwrap's monitor even while the controller is down), `exit` (the exit code as
 * the controller saw it) and `runner.log` (the runner's output).
 */

/** One runner's record. */
export interface RunnerMeta {
  runnerId: string;
  runnerName: string;
  pool: string;
  controllerId: string;
  /** The spawned process: bwrap's monitor in a sandbox, the runner itself with `sandbox: none`. */
  pid: number;
  /** Kernel start time of `pid` (field 22 of /proc/PID/stat): guards against pid reuse. */
  startTicks: string | null;
  createdAtMs: number;
  sandbox: 'bwrap' | 'none';
  /** PID 1 of the runner's namespace (what delete signals) and its start time, once known. */
  sandboxPid: number | null;
  sandboxStartTicks: string | null;
  /** The runner's own host uid (sandbox under a root controller). */
  runnerUid: number | null;
}

/** The directory name under the work root; not a valid runner name, so never mistaken for a work dir. */
export const BOOKKEEPING_DIR = '.jitpool';

/** Reads and writes runner records under one work root. */
export class Bookkeeping {
  readonly root: string;

  constructor(workRoot: string) {
    this.root = join(workRoot, BOOKKEEPING_DIR);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  dirOf(name: string): string {
    return join(this.root, name);
  }

  logPath(name: string): string {
    return join(this.dirOf(name), 'runner.log');
  }

  statusPath(name: string): string {
    return join(this.dirOf(name), 'status');
  }

  /** Creates the runner's directory (empty: a previous record of the same name is removed). */
  prepare(name: string): string {
    this.remove(name);
    mkdirSync(this.dirOf(name), { recursive: true, mode: 0o700 });
    return this.dirOf(name);
  }

  read(name: string): RunnerMeta | null {
    try {
      return JSON.parse(readFileSync(join(this.dirOf(name), 'meta.json'), 'utf8')) as RunnerMeta;
    } catch {
      return null;
    }
  }

  /** Replaces the record atomically (a reader sees the old one or the new one). */
  write(meta: RunnerMeta): void {
    const file = join(this.dirOf(meta.runnerName), 'meta.json');
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(meta), { mode: 0o600 });
    renameSync(tmp, file);
  }

  writeExit(name: string, exitCode: number | null): void {
    try {
      writeFileSync(join(this.dirOf(name), 'exit'), String(exitCode ?? ''), { mode: 0o600 });
    } catch {
      // Deleted meanwhile.
    }
  }

  /** The exit code: bwrap's record first (it survives a controller restart), else the controller's. */
  exitCode(name: string): number | null {
    const status = this.status(name);
    if (status.exitCode !== null) return status.exitCode;
    try {
      const text = readFileSync(join(this.dirOf(name), 'exit'), 'utf8').trim();
      return text === '' ? null : Number(text);
    } catch {
      return null;
    }
  }

  /** What bwrap's monitor wrote: `{ "child-pid": N, … }` at start, `{ "exit-code": N }` at the end. */
  status(name: string): { childPid: number | null; exitCode: number | null } {
    const out = { childPid: null as number | null, exitCode: null as number | null };
    let text = '';
    try {
      text = readFileSync(this.statusPath(name), 'utf8');
    } catch {
      return out;
    }
    for (const line of text.split('\n')) {
      try {
        const doc = JSON.parse(line) as { 'child-pid'?: number; 'exit-code'?: number };
        if (typeof doc['child-pid'] === 'number') out.childPid = doc['child-pid'];
        if (typeof doc['exit-code'] === 'number') out.exitCode = doc['exit-code'];
      } catch {
        // An incomplete last line.
      }
    }
    return out;
  }

  /** Names of every runner with a record. */
  names(): string[] {
    try {
      return readdirSync(this.root).filter(isSafeRunnerName);
    } catch {
      return [];
    }
  }

  remove(name: string): void {
    rmSync(this.dirOf(name), { recursive: true, force: true, maxRetries: 3 });
  }
}

export { isProcessAlive, parentPid, readStartTicks } from '../core/index.ts';

/** Signals a process group, else the process. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    signalPid(pid, signal);
  }
}

/** Signals one process; a process already gone is fine. */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** The number of a signal, for exit codes of 128 + n. */
export function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

/** Whether a file contains `marker` (false when unreadable). */
export function logContains(file: string, marker: string): boolean {
  try {
    return readFileSync(file, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** The last `lines` lines of a file (reads at most the last 64 KiB). */
export async function tailFile(file: string, lines: number): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').split('\n').filter((line, index, all) => line !== '' || index < all.length - 1).slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
