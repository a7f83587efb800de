import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { JitpoolError } from '../core/errors.ts';

/**
 * The VM half of a base image (issue 19): from the image's root directory, the three files the
 * `vm` provider boots — `disk.img` (a raw ext4 filesystem made by `mkfs.ext4 -d`, no loop mount
 * and no root privileges on the image's files needed beyond reading them), `vmlinux` (the
 * decompressed kernel: QEMU boots an ELF kernel through its PVH entry point directly, which
 * skips the in-guest decompression that costs seconds under software emulation) and
 * `initrd.img` (busybox plus the virtio modules the Debian kernel builds as modules, and a
 * small `/init` that mounts the disk, takes the JIT config from fw_cfg into a tmpfs and hands
 * over to the image's init). The base disk is never written by a VM: every runner boots a
 * qcow2 overlay of it.
 *
 * The kernel comes from the root directory when the recipe installed one (`/boot/vmlinuz-*`
 * with its `/lib/modules/<version>`), else from Debian's kernel package, fetched with
 * `apt-get download` into a cache directory and unpacked with `dpkg-deb -x` — never installed
 * on the host.
 */

/** Options of {@link buildVmArtifacts}. */
export interface VmArtifactsOptions {
  /** Where Debian's kernel package is downloaded and unpacked. @default '/var/cache/jitpool/vm-kernel' */
  kernelCacheDir?: string;
  /** The Debian package (or metapackage) the kernel is taken from when the root has none. @default 'linux-image-cloud-amd64' */
  kernelPackage?: string;
  /** Free space in the disk image beyond what the root directory takes. @default 1024 */
  freeSpaceMb?: number;
  /** Where the static busybox for the initrd is read from (Debian's busybox-static). @default '/usr/bin/busybox' */
  busyboxPath?: string;
  /** Receives progress lines. @default ignore */
  log?: (line: string) => void;
}

/** What {@link buildVmArtifacts} wrote. */
export interface VmArtifacts {
  disk: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  /** Apparent size of the disk image (it is sparse: the blocks used are fewer). */
  diskBytes: number;
  kernelBytes: number;
  initrdBytes: number;
}

/** File names inside an image directory. */
export const VM_ARTIFACT_FILES = { disk: 'disk.img', kernel: 'vmlinux', initrd: 'initrd.img' } as const;

/**
 * The modules the initrd loads, in dependency order once resolved: the virtio PCI transport,
 * block and network devices, the console, fw_cfg (the JIT config's channel) and ext4 with what
 * it needs where a kernel builds it as a module. Missing ones are skipped (built in).
 */
const INITRD_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_console', 'virtio_rng', 'qemu_fw_cfg', 'ext4', 'crc32c_generic'];

const run = promisify(execFile);

/** Builds `disk.img`, `vmlinux` and `initrd.img` in `outDir` from the root directory `rootfsDir`. */
export async function buildVmArtifacts(rootfsDir: string, outDir: string, options: VmArtifactsOptions = {}): Promise<VmArtifacts> {
  const log = options.log ?? (() => {});
  if (!existsSync(join(rootfsDir, 'usr')) && !existsSync(join(rootfsDir, 'bin'))) {
    throw new JitpoolError('JP_INPUT_INVALID', `${rootfsDir} does not look like a root directory (no /usr, no /bin)`);
  }
  mkdirSync(outDir, { recursive: true, mode: 0o755 });
  const kernel = await locateKernel(rootfsDir, options, log);
  const scratch = mkdtempSync(join(outDir, '.build-'));
  try {
    const kernelTmp = join(scratch, VM_ARTIFACT_FILES.kernel);
    await extractVmlinux(kernel.vmlinuz, kernelTmp);
    const initrdTmp = join(scratch, VM_ARTIFACT_FILES.initrd);
    await buildInitrd(kernel.modulesDir, kernel.version, options.busyboxPath ?? '/usr/bin/busybox', join(scratch, 'initrd'), initrdTmp);
    const diskTmp = join(scratch, VM_ARTIFACT_FILES.disk);
    await buildDisk(rootfsDir, diskTmp, options.freeSpaceMb ?? 1024);
    // Each file replaces its old version only once all three are built.
    for (const name of Object.values(VM_ARTIFACT_FILES)) renameSync(join(scratch, name), join(outDir, name));
    const sizeOf = (name: string) => statSync(join(outDir, name)).size;
    log(`vm artifacts: kernel ${kernel.version}, disk ${mb(sizeOf(VM_ARTIFACT_FILES.disk))} MiB (sparse), initrd ${mb(sizeOf(VM_ARTIFACT_FILES.initrd))} MiB`);
    return {
      disk: join(outDir, VM_ARTIFACT_FILES.disk),
      kernel: join(outDir, VM_ARTIFACT_FILES.kernel),
      initrd: join(outDir, VM_ARTIFACT_FILES.initrd),
      kernelVersion: kernel.version,
      diskBytes: sizeOf(VM_ARTIFACT_FILES.disk),
      kernelBytes: sizeOf(VM_ARTIFACT_FILES.kernel),
      initrdBytes: sizeOf(VM_ARTIFACT_FILES.initrd),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface KernelSource {
  vmlinuz: string;
  modulesDir: string;
  version: string;
}

/** The root directory's own kernel, else Debian's package from the cache (downloaded once). */
async function locateKernel(rootfsDir: string, options: VmArtifactsOptions, log: (line: string) => void): Promise<KernelSource> {
  const own = kernelIn(rootfsDir);
  if (own) return own;
  const cacheDir = options.kernelCacheDir ?? '/var/cache/jitpool/vm-kernel';
  const wanted = options.kernelPackage ?? 'linux-image-cloud-amd64';
  mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
  const pkg = await resolveKernelPackage(wanted);
  const unpacked = join(cacheDir, pkg);
  const cached = kernelIn(unpacked);
  if (cached) return cached;
  log(`vm artifacts: downloading ${pkg} (not installed on this host) into ${cacheDir}`);
  try {
    await run('apt-get', ['download', pkg], { cwd: cacheDir, timeout: 600_000, maxBuffer: 4 * 1024 * 1024 });
  } catch (err) {
    throw new JitpoolError('JP_COMMAND_FAILED', `apt-get download ${pkg} failed: ${commandError(err)} (is Debian's mirror reachable? run apt-get update)`, { cause: err, retryable: true });
  }
  const deb = readdirSync(cacheDir).find((name) => name.startsWith(`${pkg}_`) && name.endsWith('.deb'));
  if (!deb) throw new JitpoolError('JP_COMMAND_FAILED', `apt-get download ${pkg} left no .deb in ${cacheDir}`);
  const tmp = mkdtempSync(join(cacheDir, '.unpack-'));
  try {
    await run('dpkg-deb', ['-x', join(cacheDir, deb), tmp], { timeout: 300_000 });
    rmSync(unpacked, { recursive: true, force: true });
    renameSync(tmp, unpacked);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new JitpoolError('JP_COMMAND_FAILED', `dpkg-deb -x ${deb} failed: ${commandError(err)}`, { cause: err });
  }
  rmSync(join(cacheDir, deb), { force: true });
  const found = kernelIn(unpacked);
  if (!found) throw new JitpoolError('JP_COMMAND_FAILED', `${pkg} holds no /boot/vmlinuz-* with its /lib/modules`);
  return found;
}

/** `/boot/vmlinuz-<v>` with `/lib/modules/<v>` under `root`, the newest version first. */
function kernelIn(root: string): KernelSource | null {
  let names: string[];
  try {
    names = readdirSync(join(root, 'boot')).filter((name) => name.startsWith('vmlinuz-')).sort().reverse();
  } catch {
    return null;
  }
  for (const name of names) {
    const version = name.slice('vmlinuz-'.length);
    for (const lib of ['lib', 'usr/lib']) {
      const modulesDir = join(root, lib, 'modules', version);
      if (existsSync(modulesDir)) return { vmlinuz: join(root, 'boot', name), modulesDir, version };
    }
  }
  return null;
}

/** A metapackage (`linux-image-cloud-amd64`) resolved to the versioned package it depends on. */
async function resolveKernelPackage(name: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9.+-]*$/.test(name)) throw new JitpoolError('JP_CONFIG_INVALID', `not a Debian package name: ${JSON.stringify(name)}`);
  if (/^linux-image-\d/.test(name)) return name;
  let stdout: string;
  try {
    ({ stdout } = await run('apt-cache', ['depends', '--important', name], { timeout: 60_000 }));
  } catch (err) {
    throw new JitpoolError('JP_COMMAND_FAILED', `apt-cache depends ${name} failed: ${commandError(err)} (run apt-get update; this needs a Debian host)`, { cause: err });
  }
  const dep = stdout.split('\n').map((line) => line.trim()).find((line) => /^Depends: linux-image-\d/.test(line));
  if (!dep) throw new JitpoolError('JP_COMMAND_FAILED', `${name} depends on no versioned linux-image package (apt-cache depends ${name})`);
  return dep.slice('Depends: '.length).trim();
}

/**
 * `vmlinux` from `vmlinuz`, the way the kernel's scripts/extract-vmlinux does it: find the
 * compressed payload by its magic bytes and decompress from there until an ELF image comes out.
 */
async function extractVmlinux(vmlinuz: string, out: string): Promise<void> {
  const image = readFileSync(vmlinuz);
  if (isElf(image)) {
    copyFileSync(vmlinuz, out);
    return;
  }
  const formats: Array<{ magic: number[]; command: string[] }> = [
    { magic: [0x1f, 0x8b, 0x08], command: ['gzip', '-dc'] },
    { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], command: ['xz', '-dc'] },
    { magic: [0x02, 0x21, 0x4c, 0x18], command: ['lz4', '-dc'] },
    { magic: [0x28, 0xb5, 0x2f, 0xfd], command: ['zstd', '-dcq'] },
    { magic: [0x42, 0x5a, 0x68], command: ['bzip2', '-dc'] },
  ];
  const tried: string[] = [];
  for (const format of formats) {
    for (let offset = image.indexOf(Buffer.from(format.magic)); offset >= 0; offset = image.indexOf(Buffer.from(format.magic), offset + 1)) {
      const output = await decompress(format.command, image.subarray(offset)).catch((err: unknown) => {
        tried.push(`${format.command[0]}: ${(err as Error).message}`);
        return null;
      });
      if (output && isElf(output)) {
        writeFileSync(out, output, { mode: 0o644 });
        return;
      }
    }
  }
  throw new JitpoolError('JP_COMMAND_FAILED', `could not decompress ${vmlinuz} into an ELF vmlinux (${tried.slice(0, 3).join('; ') || 'no known compression found'}); install the decompressor (gzip, xz-utils, lz4, zstd)`);
}

function isElf(data: Buffer): boolean {
  return data.length > 4 && data.readUInt32BE(0) === 0x7f454c46;
}

/** Runs a decompressor on `input`; the trailing bytes after the payload make it complain, which is expected. */
function decompress(command: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', (err) => reject(err));
    child.stdin.on('error', () => {});
    child.once('close', () => resolve(Buffer.concat(chunks)));
    child.stdin.end(input);
  });
}

/** The initrd: static busybox, the modules of {@link INITRD_MODULES} with their dependencies, and `/init`. */
async function buildInitrd(modulesDir: string, kernelVersion: string, busybox: string, dir: string, out: string): Promise<void> {
  if (!isStaticElf(busybox)) {
    throw new JitpoolError('JP_COMMAND_FAILED', `${busybox} is not a statically linked busybox: apt-get install busybox-static`);
  }
  for (const sub of ['bin', 'dev', 'proc', 'sys', 'newroot', 'lib/modules']) mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const modules = resolveModules(modulesDir, INITRD_MODULES);
  const order: string[] = [];
  for (const path of modules) {
    const target = join(dir, 'lib/modules', relative(modulesDir, path));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(path, target);
    order.push(relative(join(dir, 'lib/modules'), target));
  }
  writeFileSync(join(dir, 'modules.order'), `${order.join('\n')}\n`);
  await copyWithLibraries(RESIZE2FS, dir);
  writeFileSync(join(dir, 'kernel-version'), `${kernelVersion}\n`);
  writeFileSync(join(dir, 'init'), INIT_SCRIPT, { mode: 0o755 });
  // newc cpio of the directory, gzip-compressed (every Debian kernel has CONFIG_RD_GZIP).
  await new Promise<void>((resolve, reject) => {
    const find = spawn('sh', ['-c', 'find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner 0:0 --quiet | gzip -6 > "$1"', 'sh', out], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    find.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    find.once('error', reject);
    find.once('close', (code) => (code === 0 ? resolve() : reject(new JitpoolError('JP_COMMAND_FAILED', `building the initrd failed (cpio, gzip): ${stderr.trim()} (apt-get install cpio)`))));
  });
}

/** resize2fs (e2fsprogs) grows the root filesystem online when a pool's `diskGb` makes the overlay larger than the base. */
const RESIZE2FS = '/sbin/resize2fs';

/** Copies a dynamically linked binary and the shared libraries ldd names into `root`, at the same paths. */
async function copyWithLibraries(binary: string, root: string): Promise<void> {
  if (!existsSync(binary)) throw new JitpoolError('JP_COMMAND_FAILED', `${binary} is missing: apt-get install e2fsprogs`);
  const { stdout } = await run('ldd', [binary], { timeout: 30_000 }).catch((err: unknown) => {
    throw new JitpoolError('JP_COMMAND_FAILED', `ldd ${binary} failed: ${commandError(err)}`, { cause: err });
  });
  const files = [binary];
  for (const line of stdout.split('\n')) {
    const path = /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (path) files.push(path);
  }
  for (const file of files) {
    mkdirSync(join(root, dirname(file)), { recursive: true });
    copyFileSync(file, join(root, file));
    chmodSync(join(root, file), 0o755);
  }
}

function isStaticElf(path: string): boolean {
  try {
    const head = readFileSync(path).subarray(0, 4096);
    // A dynamically linked ELF names its interpreter (/lib64/ld-linux-x86-64.so.2) in its first page.
    return isElf(head) && !head.includes(Buffer.from('ld-linux'));
  } catch {
    return false;
  }
}

/**
 * The module files for `names` and everything they depend on, dependencies first. The package
 * ships no modules.dep (depmod runs at install time), so dependencies are read from each
 * module's own `.modinfo` section (`depends=a,b`).
 */
export function resolveModules(modulesDir: string, names: readonly string[]): string[] {
  const byName = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ko')) byName.set(entry.name.slice(0, -3).replace(/-/g, '_'), path);
    }
  };
  walk(join(modulesDir, 'kernel'));
  const ordered: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const key = name.replace(/-/g, '_');
    if (seen.has(key)) return;
    seen.add(key);
    const path = byName.get(key);
    if (!path) return; // built into the kernel
    for (const dep of moduleDepends(path)) visit(dep);
    ordered.push(path);
  };
  for (const name of names) visit(name);
  return ordered;
}

function moduleDepends(path: string): string[] {
  const data = readFileSync(path);
  const marker = Buffer.from('\0depends=');
  const at = data.indexOf(marker);
  if (at < 0) return [];
  const start = at + marker.length;
  const end = data.indexOf(0, start);
  return data.subarray(start, end).toString('utf8').split(',').filter((dep) => dep !== '');
}

/** The raw ext4 disk: the root directory's size plus `freeMb`, sparse, filled by mkfs.ext4 -d. */
async function buildDisk(rootfsDir: string, out: string, freeMb: number): Promise<void> {
  const { stdout } = await run('du', ['-s', '-B1M', '--apparent-size', rootfsDir], { timeout: 300_000 }).catch((err: unknown) => {
    throw new JitpoolError('JP_COMMAND_FAILED', `du ${rootfsDir} failed: ${commandError(err)}`, { cause: err });
  });
  const usedMb = Number(stdout.split(/\s+/)[0]);
  // ext4's metadata (inode tables, journal) take room too: 20 % and 64 MiB on top of the files.
  const sizeMb = Math.ceil(usedMb * 1.2) + 64 + freeMb;
  try {
    await run('mkfs.ext4', ['-q', '-F', '-L', 'jitpool-root', '-E', 'root_owner=0:0', '-d', rootfsDir, out, `${sizeMb}M`], { timeout: 600_000, maxBuffer: 4 * 1024 * 1024 });
  } catch (err) {
    throw new JitpoolError('JP_COMMAND_FAILED', `mkfs.ext4 -d ${rootfsDir} failed: ${commandError(err)} (apt-get install e2fsprogs; mkfs.ext4 -d needs e2fsprogs ≥ 1.43)`, { cause: err });
  }
  chmodSync(out, 0o644);
}

function commandError(err: unknown): string {
  const stderr = (err as { stderr?: string }).stderr;
  return (typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : err instanceof Error ? err.message : String(err)).slice(0, 500);
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/**
 * The initrd's `/init` (busybox sh). Kernel command line parameters it reads, set by the `vm`
 * provider: `jitpool.ip=` (address/prefix, or `none`), `jitpool.gw=`, `jitpool.dns=`,
 * `jitpool.hostname=`, `jitpool.init=` (what runs as PID 1 of the new root), `jitpool.resize=1`
 * (grow the root filesystem online to the disk's size: a pool's `diskGb`). The JIT config is
 * read from fw_cfg (`opt/jitpool/jitconfig`) into `/run/jitpool/jitconfig` (a tmpfs, 0600),
 * where the guest agent takes it and deletes it; the fw_cfg driver is then unloaded again so the
 * sysfs view of the config is gone. Any failure powers the machine off with a line on the
 * console saying why: a boot never hangs half-way.
 */
const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "jitpool-init: $*" >/dev/console; sync; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec >/dev/console 2>&1
ip=10.0.2.15/24 gw=10.0.2.2 dns=10.0.2.3 host=jitpool init=/usr/local/bin/jitpool-agent root=/dev/vda resize=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    jitpool.ip=*) ip="\${arg#*=}" ;;
    jitpool.gw=*) gw="\${arg#*=}" ;;
    jitpool.dns=*) dns="\${arg#*=}" ;;
    jitpool.hostname=*) host="\${arg#*=}" ;;
    jitpool.init=*) init="\${arg#*=}" ;;
    jitpool.root=*) root="\${arg#*=}" ;;
    jitpool.resize=1) resize=1 ;;
  esac
done
for module in $(cat /modules.order); do insmod "/lib/modules/$module" 2>/dev/null; done
tries=0
while [ ! -b "$root" ]; do
  tries=$((tries + 1))
  [ "$tries" -gt 300 ] && fail "no root disk $root after 30 s"
  sleep 0.1
done
mount -t ext4 -o rw,noatime "$root" /newroot || fail "could not mount $root"
if [ "$resize" = 1 ]; then
  /sbin/resize2fs "$root" >/dev/null 2>&1 || echo "jitpool-init: could not grow the root filesystem to the disk's size"
fi
mkdir -p /newroot/run /newroot/proc /newroot/sys /newroot/dev /newroot/tmp
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run || fail "could not mount /run"
mkdir -m 0700 /newroot/run/jitpool
cfg=/sys/firmware/qemu_fw_cfg/by_name/opt/jitpool/jitconfig/raw
if [ -r "$cfg" ]; then
  (umask 077; cat "$cfg" >/newroot/run/jitpool/jitconfig) || fail "could not copy the JIT config"
fi
rmmod qemu_fw_cfg 2>/dev/null
hostname "$host"
echo "$host" >/newroot/etc/hostname 2>/dev/null
ip link set lo up
if [ "$ip" != none ]; then
  ip link set eth0 up || fail "no network interface eth0"
  ip addr add "$ip" dev eth0 && ip route add default via "$gw" || fail "could not configure eth0 ($ip via $gw)"
  [ -n "$dns" ] && echo "nameserver $dns" >/newroot/etc/resolv.conf 2>/dev/null
fi
[ -x "/newroot$init" ] || fail "the image has no executable $init"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
echo "jitpool-init: starting $init"
exec switch_root /newroot "$init"
`;
