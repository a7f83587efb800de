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

/** The start time of `pid` in clock ticks since boot, or null when it cannot be read. */
export function readStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** This process. */
export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, host: hostname(), startTicks: readStartTicks(process.pid) };
}

/** True while the process `pid` started at `startTicks` runs on this host (a zombie does not count). */
export function isProcessAlive(pid: number, startTicks: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (startTicks === null) return true;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] === startTicks && fields[0] !== 'Z';
}
