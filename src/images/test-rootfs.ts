import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { JitpoolError } from '../core/index.ts';
import { RUNNER_HOME, RUNNER_UID, writeIdentity } from './rootfs-common.ts';
import { sourceClosure } from './source-closure.ts';

const execFileAsync = promisify(execFile);

/** The project root (sources of the fake runner are copied from here). */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The fake runner's entry point, relative to the project root. */
const FAKE_RUNNER_ENTRY = 'src/sim/fake-runner.ts';

/** Where the fake runner's sources live inside the test image. */
const APP_DIR = '/opt/jitpool/fake-runner';

/** Busybox candidates: Debian's busybox-static first (no libraries to copy). */
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** What goes into the test image, resolved on this host (hashed into the input digest). */
export interface TestImageInputs {
  nodeBinary: string;
  libraries: string[];
  sources: string[];
  busybox: string;
}

/** Finds the Node binary, its shared libraries, the fake runner's sources and a static busybox. */
export async function resolveTestImageInputs(): Promise<TestImageInputs> {
  const nodeBinary = realpathSync(process.execPath);
  const busybox = BUSYBOX_CANDIDATES.find((path) => existsSync(path));
  if (!busybox) throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', 'the test image needs a static busybox for its shell: apt-get install busybox-static');
  const { stdout: fileType } = await execFileAsync('ldd', [busybox]).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: `${err.stdout ?? ''}${err.stderr ?? ''}` }));
  if (!/not a dynamic executable|statically linked/.test(fileType)) {
    throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `${busybox} is not statically linked; the test image needs Debian's busybox-static (apt-get install busybox-static)`);
  }
  const { stdout } = await execFileAsync('ldd', [nodeBinary]);
  const libraries = [...new Set(stdout.split('\n').flatMap((line) => {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    if (arrow) return [arrow[1]!];
    const loader = /^\s*(\/\S*ld-linux\S*)/.exec(line);
    return loader ? [loader[1]!] : [];
  }))].sort();
  return { nodeBinary, libraries, sources: sourceClosure(join(PROJECT_ROOT, FAKE_RUNNER_ENTRY), PROJECT_ROOT), busybox };
}

/**
 * Assembles the test image's root: busybox as /bin/sh (and its applets), the project's Node
 * binary with its shared libraries at their host paths, the fake runner's import closure under
 * /opt/jitpool/fake-runner, and at the runner's path a wrapper that starts it, so the guest agent
 * and the provider cannot tell it from the real runner.
 */
export async function assembleTestRootfs(rootfs: string, inputs: TestImageInputs): Promise<void> {
  for (const dir of ['bin', 'sbin', 'etc', 'tmp', 'run', 'proc', 'sys', 'dev', 'root', 'var/tmp', 'usr/bin', 'usr/sbin', 'usr/local/bin', `${APP_DIR}/src`]) mkdirSync(join(rootfs, dir), { recursive: true, mode: 0o755 });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  chmodSync(join(rootfs, 'var/tmp'), 0o1777);
  copyFileSync(inputs.busybox, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  const { stdout } = await execFileAsync(inputs.busybox, ['--list-full']);
  for (const applet of stdout.split('\n').filter((line) => /^[a-z/]+[a-z0-9_.[-]+$/.test(line))) {
    const target = join(rootfs, applet);
    if (existsSync(target) || applet === 'bin/busybox') continue;
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync('/bin/busybox', target);
  }
  copyFileSync(inputs.nodeBinary, join(rootfs, 'usr/local/bin/node'));
  chmodSync(join(rootfs, 'usr/local/bin/node'), 0o755);
  for (const lib of inputs.libraries) {
    mkdirSync(join(rootfs, dirname(lib)), { recursive: true });
    copyFileSync(realpathSync(lib), join(rootfs, lib));
  }
  for (const source of inputs.sources) {
    mkdirSync(join(rootfs, APP_DIR, dirname(source)), { recursive: true });
    copyFileSync(join(PROJECT_ROOT, source), join(rootfs, APP_DIR, source));
  }
  writeFileSync(join(rootfs, APP_DIR, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(join(rootfs, 'etc/os-release'), 'ID=jitpool-test\nNAME="jitpool test image"\nPRETTY_NAME="jitpool test image (fake runner)"\n');
  writeIdentity(rootfs, '/bin/sh');
  const bin = join(rootfs, RUNNER_HOME, 'actions-runner/bin');
  mkdirSync(bin, { recursive: true });
  // JITPOOL_TEST_BOOT_DELAY_SECONDS (a pool's env) makes a slow boot, or one that never comes online, for tests.
  writeFileSync(
    join(bin, 'Runner.Listener'),
    `#!/bin/sh\n# The simulator's fake runner in place of the actions runner (test image).\n[ -z "\${JITPOOL_TEST_BOOT_DELAY_SECONDS:-}" ] || sleep "$JITPOOL_TEST_BOOT_DELAY_SECONDS"\nNODE_NO_WARNINGS=1 exec /usr/local/bin/node ${APP_DIR}/${FAKE_RUNNER_ENTRY} "$@"\n`,
    { mode: 0o755 },
  );
  for (const dir of [RUNNER_HOME, `${RUNNER_HOME}/actions-runner`, `${RUNNER_HOME}/actions-runner/bin`]) chownSync(join(rootfs, dir), RUNNER_UID, RUNNER_UID);
}
