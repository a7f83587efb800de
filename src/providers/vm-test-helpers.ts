import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Helpers for the `vm` provider's tests (not part of the public surface). */

/** Why the VM tests cannot run here (QEMU, qemu-img, busybox-static or mkfs.ext4 missing), or false. */
export function vmSkipReason(): string | false {
  const need: Array<[string, string]> = [
    ['qemu-system-x86_64', 'qemu-system-x86'],
    ['qemu-img', 'qemu-utils'],
    ['mkfs.ext4', 'e2fsprogs'],
    ['cpio', 'cpio'],
    ['lz4', 'lz4'],
  ];
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin', '/sbin', '/bin'];
  const has = (name: string) => dirs.some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  const missing = need.filter(([binary]) => !has(binary)).map(([, pkg]) => pkg);
  if (!existsSync('/usr/bin/busybox') || readFileSync('/usr/bin/busybox').subarray(0, 4096).includes(Buffer.from('ld-linux'))) missing.push('busybox-static');
  return missing.length > 0 ? `apt-get install ${missing.join(' ')} (bash .ci/run does)` : false;
}

/** QEMU processes whose command line names `marker` (a runner name or a work root). */
export function qemuProcesses(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('qemu-system') && argv.some((arg) => arg.includes(marker))) out.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/** What is left of a VM after delete: its directory (overlay, sockets, console) and its QEMU process. */
export function vmLeftovers(workRoot: string, name: string): string[] {
  const left: string[] = [];
  if (existsSync(join(workRoot, name))) left.push(`directory ${join(workRoot, name)}: ${readdirSync(join(workRoot, name)).join(', ')}`);
  for (const pid of qemuProcesses(`guest=${name},`)) left.push(`qemu process ${pid}`);
  return left;
}
