import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who a process is, robustly against pid reuse: its pid plus the kernel's start time of that pid
 * (field 22 of /proc/PID/stat). Used by the store lease (is its holder still running?).
 */
export interface ProcessIdentity {
  pid: number;
  host: string;
  /** null where /proc is not readable (then only the pid is checked). */
  startTicks: string | null;
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces): state, ppid, …; null when it does not exist. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or null when it cannot be read. */
export function readStartTicks(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** The parent pid of a process, or null. */
export function parentPid(pid: number): number | null {
  const fields = statFields(pid);
  return fields ? Number(fields[1]) : null;
}

/** This process. */
export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, host: hostname(), startTicks: readStartTicks(process.pid) };
}

/** True while the process `pid` started at `startTicks` runs on this host (a zombie does not count; null ticks: any process with that pid). */
export function isProcessAlive(pid: number, startTicks: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const fields = statFields(pid);
  if (fields === null) return startTicks === null;
  if (startTicks !== null && fields[19] !== startTicks) return false;
  return fields[0] !== 'Z';
}
