import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { JitpoolError } from '../core/index.ts';
import { SETUP_TIMEOUT_MS, bwrapArgs, type ProcessSandboxOptions, type SandboxHost, type SandboxLayout } from './process-sandbox.ts';

/**
 * Whether the process sandbox can start on this machine, found once per provider before its
 * first launch (and by `jitpool up` at start). Every failure is a `JP_SANDBOX_UNAVAILABLE` whose
 * message names the fix.
 */

/**
 * Finds bwrap and proves the sandbox starts here by running `/bin/true` in `layout` (a scratch
 * work dir, the pool's own visible and hidden paths). Any failure is a `JP_SANDBOX_UNAVAILABLE`
 * naming the fix — never a silent fall-back to running unsandboxed.
 */
export async function probeSandbox(options: ProcessSandboxOptions, layout: (host: SandboxHost) => SandboxLayout): Promise<SandboxHost> {
  const isRoot = process.getuid?.() === 0;
  const bwrap = resolveExecutable(options.bwrapPath ?? 'bwrap');
  if (bwrap === null) {
    throw unavailable(`the process sandbox needs bubblewrap (bwrap)${options.bwrapPath ? ` at ${options.bwrapPath}` : ''}, which is not installed here`, 'install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)');
  }
  const setpriv = isRoot ? resolveExecutable('setpriv') : null;
  if (isRoot && setpriv === null) throw unavailable('the process sandbox needs setpriv (util-linux) to run runners under their own uid', 'install util-linux');
  const host: SandboxHost = { bwrap, isRoot, setpriv };
  const probe = { ...layout(host), command: ['/bin/true'] };
  const child = spawn(bwrap, bwrapArgs(probe), { cwd: '/', env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
  const code = await new Promise<number | null>((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), SETUP_TIMEOUT_MS);
    child.once('error', () => done(null));
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      done(exitCode);
    });
  });
  if (code !== 0) throw classifyProbeFailure(host, stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${code}`);
  return host;
}

function classifyProbeFailure(host: SandboxHost, line: string): JitpoolError {
  if (/Unknown option|unrecognized option/i.test(line)) {
    return unavailable(`bubblewrap at ${host.bwrap} is too old (${line}); jitpool needs bubblewrap 0.8 or later`, 'upgrade bubblewrap');
  }
  if (/namespace|uid map|setgroups|No permissions to creat/i.test(line)) {
    return host.isRoot
      ? unavailable(`namespaces cannot be created here (${line}); jitpool may be running in a container without CAP_SYS_ADMIN`, 'run jitpool on the host or in a VM')
      : unavailable(
          `user namespaces are not available to this user (${line})`,
          'allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; on Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap), or run jitpool as root',
        );
  }
  return unavailable(`the process sandbox did not start (${line})`, 'check the pool\'s readOnlyPaths and that its command exists');
}

function unavailable(problem: string, fix: string): JitpoolError {
  return new JitpoolError('JP_SANDBOX_UNAVAILABLE', `${problem}. Fix: ${fix}; or set \`sandbox: none\` on the pool to run its jobs without isolation (not advised)`, {
    details: { fix },
  });
}

/** The executable `name` (a path, or looked up on PATH and the usual system directories), or null. */
function resolveExecutable(name: string): string | null {
  const candidates = isAbsolute(name) || name.includes('/') ? [resolve(name)] : [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'].filter(Boolean).map((dir) => join(dir, name));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // Not there.
    }
  }
  return null;
}
