import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSafeRunnerName } from '../core/index.ts';

/**
 * The `vm` provider's records, one 0700 directory per VM under the work root, owned by the
 * controller and out of every guest's reach (a guest sees only its own overlay disk): `meta.json`
 * (name, pool, runner id, QEMU's pid and start time), `qemu.pid` (written by QEMU itself, so a
 * crash between spawn and record still finds the process), `overlay.qcow2` (the copy-on-write
 * disk), `qmp.sock`, `console.log` (the guest's serial console: the runner's output),
 * `qemu.log` (QEMU's own messages) and, for the moment between spawn and boot only,
 * `jitconfig` (0600; QEMU reads it into fw_cfg at start-up, the provider then deletes it).
 */

/** One VM's record. */
export interface VmMeta {
  runnerId: string;
  runnerName: string;
  pool: string;
  controllerId: string;
  /** QEMU's pid once spawned (null between the record and the spawn). */
  pid: number | null;
  /** Kernel start time of `pid`: guards against pid reuse. */
  startTicks: string | null;
  createdAtMs: number;
  accel: 'kvm' | 'tcg';
}

/** The files of one VM's directory. */
export const VM_FILES = {
  meta: 'meta.json',
  pid: 'qemu.pid',
  overlay: 'overlay.qcow2',
  qmp: 'qmp.sock',
  console: 'console.log',
  qemuLog: 'qemu.log',
  jitConfig: 'jitconfig',
} as const;

/** Reads and writes VM records under one work root. */
export class VmBookkeeping {
  readonly root: string;

  constructor(workRoot: string) {
    this.root = workRoot;
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  dirOf(name: string): string {
    return join(this.root, name);
  }

  fileOf(name: string, file: keyof typeof VM_FILES): string {
    return join(this.root, name, VM_FILES[file]);
  }

  /** Creates the VM's directory (empty: an older record of the same name is removed). */
  prepare(name: string): string {
    this.remove(name);
    mkdirSync(this.dirOf(name), { recursive: true, mode: 0o700 });
    return this.dirOf(name);
  }

  read(name: string): VmMeta | null {
    try {
      return JSON.parse(readFileSync(this.fileOf(name, 'meta'), 'utf8')) as VmMeta;
    } catch {
      return null;
    }
  }

  /** Replaces the record atomically. */
  write(meta: VmMeta): void {
    const file = this.fileOf(meta.runnerName, 'meta');
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(meta), { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** The pid QEMU wrote into its pidfile, or null. */
  pidFile(name: string): number | null {
    try {
      const pid = Number(readFileSync(this.fileOf(name, 'pid'), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

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
