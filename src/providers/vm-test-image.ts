import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildVmArtifacts, type VmArtifacts } from '../images/vm-artifacts.ts';

/**
 * THE STAND-IN TEST IMAGE of the `vm` provider's tests, until `jitpool image build` (the image
 * pipeline, built in parallel) is merged: a root directory holding a static busybox, the
 * project's Node 24 binary with its shared libraries, the simulator's fake runner behind the
 * path the real runner has (`/home/runner/actions-runner/bin/Runner.Listener`), a `runner` user
 * (uid 1001) and a stand-in of the guest agent at `/usr/local/bin/jitpool-agent` that obeys the
 * agent contract. The lead swaps this file for the pipeline's test recipe at merge: only
 * {@link ensureVmTestImage} is used by the tests. A test helper: never imported by production code.
 */

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FAKE_RUNNER_ENTRY = join(REPO, 'src/sim/fake-runner.ts');

/** Where the test image is cached between runs (rebuilt when its inputs change). @default /var/cache/jitpool-vm-test (root), ~/.cache/jitpool-vm-test */
export const VM_TEST_IMAGE_ROOT = process.env.JITPOOL_VM_TEST_IMAGE_DIR ?? (process.getuid?.() === 0 ? '/var/cache/jitpool-vm-test' : join(homedir(), '.cache/jitpool-vm-test'));

/**
 * The stand-in agent (contract: src/images/guest-agent.sh, owned by the image pipeline): reads
 * and deletes /run/jitpool/jitconfig, runs the listener as `runner` with the config in its
 * environment (never argv), prints `jitpool-agent: runner exited <code>` on the console, writes
 * the code to /run/jitpool/exit-code and powers the machine off. It runs as PID 1.
 */
const STAND_IN_AGENT = `#!/bin/sh
export PATH=/usr/local/bin:/usr/bin:/bin
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp 2>/dev/null
cfg=/run/jitpool/jitconfig
jit=
if [ -r "$cfg" ]; then jit="$(cat "$cfg")"; rm -f "$cfg"; fi
cd /home/runner/actions-runner
ACTIONS_RUNNER_INPUT_JITCONFIG="$jit" HOME=/home/runner NODE_NO_WARNINGS=1 \\
  su -p -s /bin/sh runner -c 'exec ./bin/Runner.Listener run' </dev/null
code=$?
jit=
echo "jitpool-agent: runner exited $code"
echo "$code" >/run/jitpool/exit-code
sync
poweroff -f
`;

/** An init that never starts the runner: a boot that never comes online (boot-timeout tests). */
export const HANGING_INIT = '/usr/local/bin/jitpool-test-hang';
const HANGING_INIT_SCRIPT = `#!/bin/sh
echo "jitpool-test-hang: never starting the runner"
while :; do sleep 3600; done
`;

/** An init that reports what the guest sees (CPUs, memory, disk, the JIT config file's mode and size) and powers off. */
export const PROBE_INIT = '/usr/local/bin/jitpool-test-probe';
const PROBE_INIT_SCRIPT = `#!/bin/sh
b=/bin/busybox
echo "probe: nproc=$($b nproc)"
echo "probe: memkb=$($b awk '/MemTotal/ { print $2 }' /proc/meminfo)"
echo "probe: rootkb=$($b df -k / | $b awk 'NR == 2 { print $2 }')"
echo "probe: hostname=$($b hostname)"
echo "probe: jitconfig-mode=$($b stat -c %a /run/jitpool/jitconfig) bytes=$($b wc -c </run/jitpool/jitconfig)"
if [ -e /sys/firmware/qemu_fw_cfg ]; then echo "probe: fw_cfg=visible"; else echo "probe: fw_cfg=gone"; fi
echo "probe: route=$($b ip route | $b awk '/default/ { print $3 }')"
$b sync
$b poweroff -f
`;

const LISTENER_WRAPPER = `#!/bin/sh
exec /usr/local/bin/node /app/src/sim/fake-runner.ts "$@"
`;

/** The built test image: its root directory and the VM artifacts made from it. */
export interface VmTestImage extends VmArtifacts {
  dir: string;
  rootfs: string;
}

/** Builds (or finds up to date) the stand-in test image and its VM artifacts. */
export async function ensureVmTestImage(dir = VM_TEST_IMAGE_ROOT): Promise<VmTestImage> {
  const nodeBin = realpathSync(join(REPO, 'node_modules/node/bin/node'));
  const sources = importClosure(FAKE_RUNNER_ENTRY);
  const libs = sharedLibraries(nodeBin);
  const hash = createHash('sha256');
  for (const file of [nodeBin, ...libs, ...sources, fileURLToPath(import.meta.url), join(REPO, 'src/images/vm-artifacts.ts'), '/usr/bin/busybox']) hash.update(file).update(readFileSync(file));
  const digest = hash.digest('hex').slice(0, 32);
  const stamp = join(dir, 'digest');
  const artifacts = (): VmTestImage => {
    const sizes = JSON.parse(readFileSync(join(dir, 'sizes.json'), 'utf8')) as Record<string, number>;
    const size = (name: string) => sizes[name] ?? 0;
    return {
      dir, rootfs: join(dir, 'rootfs'), disk: join(dir, 'disk.img'), kernel: join(dir, 'vmlinux'), initrd: join(dir, 'initrd.img'),
      kernelVersion: readFileSync(join(dir, 'kernel-version'), 'utf8').trim(), diskBytes: size('diskBytes'), kernelBytes: size('kernelBytes'), initrdBytes: size('initrdBytes'),
    };
  };
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest) return artifacts();

  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const rootfs = join(dir, 'rootfs');
  const building = `${rootfs}.new`;
  rmSync(building, { recursive: true, force: true });
  for (const sub of ['bin', 'usr/bin', 'usr/local/bin', 'etc', 'tmp', 'run', 'proc', 'sys', 'dev', 'app', 'home/runner/actions-runner/bin']) mkdirSync(join(building, sub), { recursive: true });
  chmodSync(join(building, 'tmp'), 0o1777);
  copyFileSync('/usr/bin/busybox', join(building, 'bin/busybox'));
  chmodSync(join(building, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'cat', 'rm', 'mount', 'poweroff', 'su', 'sync', 'echo', 'ls', 'sleep']) symlinkSync('busybox', join(building, 'bin', applet));
  copyFileSync(nodeBin, join(building, 'usr/local/bin/node'));
  chmodSync(join(building, 'usr/local/bin/node'), 0o755);
  for (const lib of libs) {
    mkdirSync(join(building, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(building, lib));
  }
  for (const source of sources) {
    const target = join(building, 'app', relative(REPO, source));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
  }
  writeFileSync(join(building, 'app/package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(join(building, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nrunner:x:1001:1001:runner:/home/runner:/bin/sh\n');
  writeFileSync(join(building, 'etc/group'), 'root:x:0:\nrunner:x:1001:\n');
  writeFileSync(join(building, 'usr/local/bin/jitpool-agent'), STAND_IN_AGENT, { mode: 0o755 });
  writeFileSync(join(building, 'home/runner/actions-runner/bin/Runner.Listener'), LISTENER_WRAPPER, { mode: 0o755 });
  writeFileSync(join(building, HANGING_INIT), HANGING_INIT_SCRIPT, { mode: 0o755 });
  writeFileSync(join(building, PROBE_INIT), PROBE_INIT_SCRIPT, { mode: 0o755 });
  try {
    for (const sub of ['home/runner', 'home/runner/actions-runner', 'home/runner/actions-runner/bin', 'home/runner/actions-runner/bin/Runner.Listener']) chownSync(join(building, sub), 1001, 1001);
  } catch (err) {
    throw new Error(`building the VM test image needs root (its files are owned by the guest's runner uid 1001): ${(err as Error).message}`, { cause: err });
  }
  rmSync(rootfs, { recursive: true, force: true });
  renameSync(building, rootfs);

  const built = await buildVmArtifacts(rootfs, dir, { kernelCacheDir: join(dir, 'kernel'), log: (line) => process.stderr.write(`# ${line}\n`) });
  writeFileSync(join(dir, 'kernel-version'), `${built.kernelVersion}\n`);
  writeFileSync(join(dir, 'sizes.json'), JSON.stringify({ diskBytes: built.diskBytes, kernelBytes: built.kernelBytes, initrdBytes: built.initrdBytes }));
  writeFileSync(stamp, `${digest}\n`);
  return artifacts();
}

/** The relative value imports of `entry`, followed recursively (type-only imports are erased and need no file). */
function importClosure(entry: string): string[] {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(/^\s*(import|export)\s+(?!type\s)([^;]*?\sfrom\s+)?["']([^"']+)["']/gm)) {
      const spec = match[3]!;
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) throw new Error(`${relative(REPO, file)} imports package ${spec}; the test image has no node_modules`);
      todo.push(join(dirname(file), spec));
    }
  }
  return [...seen].sort();
}

/** The shared libraries of a binary (ldd), the dynamic loader included. */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    if (arrow) libs.add(arrow[1]!);
    else if (/^\s*(\/\S*ld-linux\S*)/.test(line)) libs.add(/^\s*(\/\S+)/.exec(line)![1]!);
  }
  return [...libs].sort();
}
