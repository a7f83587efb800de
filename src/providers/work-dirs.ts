import { lstatSync, readdirSync, rmSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * Which directories under a work root jitpool made, so `doctor --cleanup-dirs` deletes only
 * those. A directory counts as jitpool's only when all of these hold: its name is a runner name
 * jitpool makes (`jp-<pool>-<hex id>`), it is a real directory (not a link), it is owned by the
 * user runners run as, and the provider holds a record of it naming this controller (kept outside
 * the job's reach, so a job cannot forge it). Anything else under the work root is someone
 * else's and is left alone, whatever its age.
 */

/** `jp-<pool>-<id>`: a pool name (see `isSafePoolName`) and an 8- to 16-digit hex id. */
export const RUNNER_DIR_PATTERN = /^jp-[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?-[0-9a-f]{8,16}$/;

/** A work directory jitpool made whose runner is gone. */
export interface StaleWorkDir {
  name: string;
  path: string;
  ageMs: number;
}

/** A directory under the work root that jitpool did not make (or cannot prove it did): never deleted. */
export interface ForeignWorkDir {
  name: string;
  path: string;
  reason: string;
}

/** What {@link scanWorkDirs} found. */
export interface WorkDirScan {
  /** Removable: jitpool's, no live runner, untouched for the minimum age. */
  stale: StaleWorkDir[];
  /** Kept: not provably jitpool's. */
  foreign: ForeignWorkDir[];
}

/** Options of {@link scanWorkDirs}. */
export interface WorkDirScanOptions {
  workRoot: string;
  controllerId: string;
  /** Entries of the work root that are the provider's own (its bookkeeping): neither judged nor reported. */
  skip?: readonly string[];
  /** The provider's record of the runner named `name` (with the controller that made it), or null. */
  markerOf: (name: string) => { controllerId?: unknown } | null;
  /** True for a user a runner's work directory may be owned by (the runner users). */
  isRunnerUid: (uid: number) => boolean;
  /** Runner names the store knows alive. */
  liveNames: ReadonlySet<string>;
  minAgeMs: number;
  nowMs: number;
  /** True while the runner of that name still runs. */
  isRunning: (name: string) => boolean;
}

/** Classifies every entry of the work root (see the module comment). An unreadable root yields nothing. */
export function scanWorkDirs(options: WorkDirScanOptions): WorkDirScan {
  const scan: WorkDirScan = { stale: [], foreign: [] };
  let names: string[];
  try {
    names = readdirSync(options.workRoot).sort();
  } catch {
    return scan;
  }
  for (const name of names) {
    if (options.skip?.includes(name)) continue;
    const verdict = judgeWorkDir(options, name);
    if (verdict.kind === 'stale') scan.stale.push({ name, path: join(options.workRoot, name), ageMs: verdict.ageMs });
    else if (verdict.kind === 'foreign') scan.foreign.push({ name, path: join(options.workRoot, name), reason: verdict.reason });
  }
  return scan;
}

type Verdict = { kind: 'stale'; ageMs: number } | { kind: 'foreign'; reason: string } | { kind: 'kept' };

/** The verdict on one entry of the work root. */
export function judgeWorkDir(options: WorkDirScanOptions, name: string): Verdict {
  const path = join(options.workRoot, name);
  if (!RUNNER_DIR_PATTERN.test(name)) return { kind: 'foreign', reason: 'its name is not a jitpool runner name (jp-<pool>-<id>)' };
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch {
    return { kind: 'kept' };
  }
  if (!stat.isDirectory()) return { kind: 'foreign', reason: stat.isSymbolicLink() ? 'a symbolic link, not a directory' : 'not a directory' };
  if (!options.isRunnerUid(stat.uid)) return { kind: 'foreign', reason: `owned by uid ${stat.uid}, not a runner user` };
  const marker = options.markerOf(name);
  if (marker === null) return { kind: 'foreign', reason: 'no record of it as a runner of this controller' };
  if (marker.controllerId !== options.controllerId) return { kind: 'foreign', reason: `made by controller ${JSON.stringify(String(marker.controllerId)).slice(0, 40)}` };
  if (options.liveNames.has(name) || options.isRunning(name)) return { kind: 'kept' };
  const ageMs = options.nowMs - stat.mtimeMs;
  return ageMs >= options.minAgeMs ? { kind: 'stale', ageMs } : { kind: 'kept' };
}

/**
 * Removes one stale work directory after judging it again right before the deletion (it may have
 * changed since the scan). Returns false, deleting nothing, unless it is still stale.
 */
export function removeStaleWorkDir(options: WorkDirScanOptions, name: string): boolean {
  if (judgeWorkDir(options, name).kind !== 'stale') return false;
  rmSync(join(options.workRoot, name), { recursive: true, force: true, maxRetries: 3 });
  return true;
}
