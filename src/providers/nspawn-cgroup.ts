import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JitpoolError, sleep } from '../core/index.ts';

/**
 * Resource limits of an nspawn machine written straight into the kernel's cgroup files.
 *
 * Why not systemd: on a host without systemd as PID 1 (this project's CI machines, most
 * containers) nspawn must run with `--keep-unit --register=no`, and then there is no scope unit to
 * put `MemoryMax=` on. jitpool makes one cgroup per machine itself and starts nspawn inside it, so
 * the limits hold for every process of the machine and `delete` can find (and kill) all of them
 * even after a controller crash. On a systemd host the same limits are what
 * `systemd-nspawn --property=MemoryMax=… --property=MemorySwapMax=0 --property=CPUQuota=…` sets
 * on the machine's scope (docs/providers/nspawn.md).
 *
 * cgroup v2 (unified): `<root>/jitpool/<name>` with memory.max, memory.swap.max = 0, cpu.max and
 * pids.max. cgroup v1 (legacy or hybrid, as here): one directory per controller hierarchy,
 * memory.limit_in_bytes = memory.memsw.limit_in_bytes (memory + swap = memory: no swap),
 * cpu.cfs_quota_us / cpu.cfs_period_us and pids.max.
 */

/** The limits of one machine. */
export interface MachineLimits {
  cpus: number;
  memoryMb: number;
  pidsLimit: number;
}

/** The cgroup directories of one machine (v2: one; v1: one per controller). */
export interface MachineCgroup {
  version: 1 | 2;
  /** Directories, each with its own `cgroup.procs`. */
  dirs: string[];
}

const CGROUP_ROOT = '/sys/fs/cgroup';
const CPU_PERIOD_US = 100_000;
const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

/** Which cgroup layout the host has. */
export function cgroupVersion(root = CGROUP_ROOT): 1 | 2 {
  return existsSync(join(root, 'cgroup.controllers')) ? 2 : 1;
}

/** The cgroup of machine `name` (not created). */
export function machineCgroup(name: string, root = CGROUP_ROOT): MachineCgroup {
  if (cgroupVersion(root) === 2) return { version: 2, dirs: [join(root, 'jitpool', name)] };
  return { version: 1, dirs: V1_CONTROLLERS.map((controller) => join(root, controller, 'jitpool', name)) };
}

/** Checks the host can enforce the limits; JP_PROVIDER_UNAVAILABLE names the fix. */
export function checkCgroups(root = CGROUP_ROOT): void {
  if (cgroupVersion(root) === 2) {
    const available = readFileSync(join(root, 'cgroup.controllers'), 'utf8');
    for (const controller of ['memory', 'cpu', 'pids']) {
      if (!available.split(/\s+/).includes(controller)) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `nspawn provider: the cgroup v2 controller ${controller} is not available at ${root} (enable it in the kernel / the parent cgroup)`);
    }
    return;
  }
  for (const controller of V1_CONTROLLERS) {
    if (!existsSync(join(root, controller, 'cgroup.procs'))) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `nspawn provider: no cgroup v1 ${controller} hierarchy at ${join(root, controller)} (mount it, or boot with cgroup v2)`);
  }
  if (!existsSync(join(root, 'memory', 'memory.memsw.limit_in_bytes')) && hostHasSwap()) {
    throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'nspawn provider: the host has swap but no swap accounting (memory.memsw.*), so "no swap" cannot be enforced: boot with swapaccount=1, or switch swap off');
  }
}

/** Creates the machine's cgroup with its limits. */
export function createCgroup(cgroup: MachineCgroup, limits: MachineLimits, root = CGROUP_ROOT): void {
  const memoryBytes = limits.memoryMb * 1024 * 1024;
  const quotaUs = Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US));
  try {
    if (cgroup.version === 2) {
      // Controllers must be enabled on every ancestor for the leaf to get their files.
      enableControllers(root);
      mkdirSync(join(root, 'jitpool'), { recursive: true });
      enableControllers(join(root, 'jitpool'));
      const dir = cgroup.dirs[0]!;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.max'), String(memoryBytes));
      writeFileSync(join(dir, 'memory.swap.max'), '0');
      writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${CPU_PERIOD_US}`);
      writeFileSync(join(dir, 'pids.max'), String(limits.pidsLimit));
      return;
    }
    const [memory, cpu, pids] = cgroup.dirs as [string, string, string];
    for (const dir of cgroup.dirs) mkdirSync(dir, { recursive: true });
    writeFileSync(join(memory, 'memory.limit_in_bytes'), String(memoryBytes));
    if (existsSync(join(memory, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(memory, 'memory.memsw.limit_in_bytes'), String(memoryBytes));
    writeFileSync(join(memory, 'memory.swappiness'), '0');
    writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(quotaUs));
    writeFileSync(join(pids, 'pids.max'), String(limits.pidsLimit));
  } catch (err) {
    throw new JitpoolError('JP_PROVIDER_CREATE', `nspawn provider: could not set up cgroup ${cgroup.dirs[0]}: ${(err as Error).message}`, { cause: err });
  }
}

/** The `cgroup.procs` files a process joins to be limited (what the launcher writes its pid to). */
export function procsFiles(cgroup: MachineCgroup): string[] {
  return cgroup.dirs.map((dir) => join(dir, 'cgroup.procs'));
}

/** Every process in the machine's cgroup (the v1 pids hierarchy holds all of them). */
export function cgroupPids(cgroup: MachineCgroup): number[] {
  const dir = cgroup.version === 2 ? cgroup.dirs[0]! : cgroup.dirs[2]!;
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((line) => line !== '').map(Number);
  } catch {
    return [];
  }
}

/** Kills every process of the machine (cgroup.kill on v2, SIGKILL to each pid until none is left) and removes its cgroup. */
export async function destroyCgroup(cgroup: MachineCgroup, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(cgroup);
    if (pids.length === 0) break;
    if (cgroup.version === 2 && existsSync(join(cgroup.dirs[0]!, 'cgroup.kill'))) writeFileSync(join(cgroup.dirs[0]!, 'cgroup.kill'), '1');
    else for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    if (Date.now() > deadline) throw new JitpoolError('JP_PROVIDER_DELETE', `nspawn provider: processes ${pids.slice(0, 5).join(', ')} of ${cgroup.dirs[0]} survived SIGKILL`);
    await sleep(50);
  }
  for (const dir of cgroup.dirs) {
    for (let attempt = 0; existsSync(dir); attempt++) {
      try {
        rmdirSync(dir);
      } catch (err) {
        // EBUSY for a moment after the last process died (its exit is still being accounted).
        if (attempt > 100) throw new JitpoolError('JP_PROVIDER_DELETE', `nspawn provider: could not remove cgroup ${dir}: ${(err as Error).message}`, { cause: err });
        await sleep(50);
      }
    }
  }
}

/** Whether the machine's cgroup still exists. */
export function cgroupExists(cgroup: MachineCgroup): boolean {
  return cgroup.dirs.some((dir) => existsSync(dir));
}

/** Whether the OOM killer hit the machine (v1: memory.oom_control; v2: memory.events). */
export function wasOomKilled(cgroup: MachineCgroup): boolean {
  try {
    const file = cgroup.version === 2 ? join(cgroup.dirs[0]!, 'memory.events') : join(cgroup.dirs[0]!, 'memory.oom_control');
    const match = /oom_kill (\d+)/.exec(readFileSync(file, 'utf8'));
    return match !== null && Number(match[1]) > 0;
  } catch {
    return false;
  }
}

function enableControllers(dir: string): void {
  const file = join(dir, 'cgroup.subtree_control');
  const enabled = readFileSync(file, 'utf8').split(/\s+/);
  const missing = ['memory', 'cpu', 'pids'].filter((controller) => !enabled.includes(controller));
  if (missing.length > 0) writeFileSync(file, missing.map((controller) => `+${controller}`).join(' '));
}

function hostHasSwap(): boolean {
  try {
    return readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
  } catch {
    return false;
  }
}
