import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The non-root account the runner runs as in every image. */
export const RUNNER_USER = 'runner';

/** Its uid and gid (the Docker test image uses the same). */
export const RUNNER_UID = 1001;

/** Its home; the runner package sits in `actions-runner/` below it. */
export const RUNNER_HOME = '/home/runner';

/** Where the guest agent is installed in an image. */
export const AGENT_PATH = '/usr/local/bin/jitpool-agent';

/** The guest agent's source (POSIX sh). */
export const GUEST_AGENT_SCRIPT = fileURLToPath(new URL('./guest-agent.sh', import.meta.url));

/** Installs the guest agent into a root. */
export function installAgent(rootfs: string): void {
  mkdirSync(join(rootfs, 'usr/local/bin'), { recursive: true });
  copyFileSync(GUEST_AGENT_SCRIPT, join(rootfs, AGENT_PATH));
  chmodSync(join(rootfs, AGENT_PATH), 0o755);
}

/** Writes /etc/passwd and /etc/group with root and the runner user (images without useradd). */
export function writeIdentity(rootfs: string, shell: string): void {
  mkdirSync(join(rootfs, RUNNER_HOME), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), `root:x:0:0:root:/root:${shell}\n${RUNNER_USER}:x:${RUNNER_UID}:${RUNNER_UID}:runner:${RUNNER_HOME}:${shell}\n`, { mode: 0o644 });
  writeFileSync(join(rootfs, 'etc/group'), `root:x:0:\n${RUNNER_USER}:x:${RUNNER_UID}:\n`, { mode: 0o644 });
}
