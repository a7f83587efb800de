import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { JitpoolError } from '../core/index.ts';

/**
 * The process provider's sandbox, built with bubblewrap (`bwrap`): each runner gets its own PID,
 * mount, IPC and UTS namespace (and network namespace with `network: none`), a fresh root with
 * the system directories read-only, a private /tmp, its work directory as the only writable tree
 * (at {@link SANDBOX_HOME}), and an unprivileged identity:
 *
 * - controller running as root: the runner runs as a host uid of its own (one per live runner,
 *   from {@link DEFAULT_RUNNER_UIDS}), switched to by `setpriv` after bwrap (as root) built the
 *   namespaces — no capability, `no_new_privs`, nosuid mounts;
 * - controller running as another user: bwrap creates a user namespace in which the controller's
 *   uid appears as 1001 with no capability, and nested user namespaces are disabled.
 *
 * The command runs under a tiny `sh` init as PID 1 of the namespace: it forwards SIGTERM/SIGINT/
 * SIGHUP to the runner and exits with the runner's status, and when PID 1 exits the kernel kills
 * every other process of the namespace — nothing a job starts outlives its runner. bwrap's
 * monitor is detached from the controller, so a runner survives a controller crash, and it
 * writes the namespace's PID and the exit code to a status file the controller owns.
 * See docs/providers/process.md for the threat model.
 */

/** `bwrap` (default) isolates each runner; `none` runs it as the controller's own user (the old, unsafe behaviour). */
export type SandboxKind = 'bwrap' | 'none';
/** `host` shares the host's network (default); `none` gives the runner a network namespace with only loopback. */
export type SandboxNetwork = 'host' | 'none';

/** Sandbox settings of the process provider. */
export interface ProcessSandboxOptions {
  /** @default 'bwrap' */
  kind?: SandboxKind;
  /** @default 'host' */
  network?: SandboxNetwork;
  /** Host paths shown read-only (at the same path) besides the system directories and the command's own files. */
  readOnlyPaths?: readonly string[];
  /** Host paths never shown, even under a visible path: the state dir, config file, secret files. */
  hiddenPaths?: readonly string[];
  /** The bwrap executable. @default `bwrap` on PATH */
  bwrapPath?: string;
  /** Host uids handed to runners when jitpool runs as root (one per live runner). @default DEFAULT_RUNNER_UIDS */
  runnerUids?: { first: number; count: number };
}

/** Where the runner's work directory (its root and HOME) appears inside the sandbox. */
export const SANDBOX_HOME = '/home/runner';
/** The uid the runner has inside the user namespace when jitpool does not run as root. */
export const SANDBOX_NAMESPACE_UID = 1001;
/**
 * Host uids for runners under a root controller: above systemd's container range
 * (0x00080000–0x6FFFFFFF, used by `systemd-nspawn --private-users=pick`) and below its
 * "foreign" range, so they collide with no account.
 */
export const DEFAULT_RUNNER_UIDS = { first: 0x70000000, count: 65536 } as const;

/** Shown read-only: the system, never /home, /root, /run, /var or /srv. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'];
/** Hidden whatever the settings say: the conventional place of jitpool's config and env file. */
const ALWAYS_HIDDEN = ['/etc/jitpool'];

/** PID 1 of the sandbox: runs the command, forwards signals, exits with its status (see the module comment). */
const INIT_SCRIPT = [
  // The work dir is the runner's (0700): entered as the runner, after bwrap and setpriv.
  `cd ${SANDBOX_HOME} || exit 127`,
  // Traps first (a signal before them is lost: PID 1 ignores what it has no handler for), then
  // the command; a signal that came between the two is forwarded once the command exists.
  'sig=; child=',
  // The provider repeats SIGTERM until the sandbox ends: only the first signal is passed on.
  'for s in TERM INT HUP; do trap "[ -n \\"\\$sig\\" ] || { sig=$s; [ -n \\"\\$child\\" ] && kill -$s \\"\\$child\\" 2>/dev/null; }" "$s"; done',
  '"$@" &',
  'child=$!',
  '[ -n "$sig" ] && kill -"$sig" "$child" 2>/dev/null',
  'while :; do wait "$child"; status=$?; kill -0 "$child" 2>/dev/null || exit "$status"; done',
].join('\n');

/** How this machine runs sandboxes (found by {@link probeSandbox}). */
export interface SandboxHost {
  bwrap: string;
  /** jitpool runs as root: runners get host uids of their own (else a user namespace maps the controller's uid). */
  isRoot: boolean;
  /** `setpriv` (util-linux), which switches a root-built sandbox to the runner's uid. */
  setpriv: string | null;
}

/** Everything one runner's sandbox is built from. */
export interface SandboxLayout {
  host: SandboxHost;
  network: SandboxNetwork;
  /** Host directory mounted writable at {@link SANDBOX_HOME}. */
  workDir: string;
  /** The runner package and its top-level entries, mounted read-only into the work dir (runner package mode). */
  packageDir?: string;
  mounted?: readonly string[];
  /** Host directories shown read-only at their own path (extra paths and the command's own files). */
  readOnly: readonly string[];
  /** Host paths masked wherever they would be visible. */
  hidden: readonly string[];
  /** Generated `/etc/passwd` and `/etc/group` naming the runner user, and an empty directory used as a mask. */
  passwdFile: string;
  groupFile: string;
  emptyDir: string;
  /** The runner's host uid (root controller only). */
  runnerUid: number | null;
  /** The command as seen inside the sandbox. */
  command: readonly string[];
}

/** The uid the runner has inside its sandbox. */
export function insideUid(layout: Pick<SandboxLayout, 'host' | 'runnerUid'>): number {
  return layout.host.isRoot ? layout.runnerUid! : SANDBOX_NAMESPACE_UID;
}

/** bwrap's argv for a layout: fd 3 receives the namespace's PID, fd 4 the status (PID, then exit code). */
export function bwrapArgs(layout: SandboxLayout): string[] {
  const args: string[] = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (layout.network === 'none') args.push('--unshare-net');
  if (layout.host.isRoot) {
    // Root builds the namespaces itself (so it can read the sources behind 0700 directories); the
    // command keeps only what setpriv needs to become the runner's uid, and setpriv drops that too.
    args.push('--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP');
  } else {
    args.push('--unshare-user', '--disable-userns', '--uid', String(SANDBOX_NAMESPACE_UID), '--gid', String(SANDBOX_NAMESPACE_UID));
  }
  args.push('--new-session', '--as-pid-1', '--info-fd', '3', '--json-status-fd', '4');
  for (const dir of SYSTEM_DIRS) {
    const stat = lstatOrNull(dir);
    if (stat?.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (stat?.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  // Parents bwrap creates on its own are 0700 (root's): the runner must be able to traverse them.
  args.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--tmpfs', '/tmp', '--perms', '0755', '--dir', '/var', '--perms', '1777', '--tmpfs', '/var/tmp', '--perms', '0755', '--dir', '/home');
  const readOnly = [...new Set(layout.readOnly)].filter((dir) => !isSystemPath(dir));
  for (const dir of ancestorsOf(readOnly)) args.push('--perms', '0755', '--dir', dir);
  for (const dir of readOnly) args.push('--ro-bind', dir, dir);
  args.push('--ro-bind', layout.passwdFile, '/etc/passwd', '--ro-bind', layout.groupFile, '/etc/group');
  for (const mask of masksFor([...SYSTEM_DIRS, ...layout.readOnly], layout.hidden)) {
    args.push('--ro-bind', mask.isDirectory ? layout.emptyDir : '/dev/null', mask.path);
  }
  args.push('--bind', layout.workDir, SANDBOX_HOME);
  for (const entry of layout.mounted ?? []) args.push('--ro-bind', join(layout.packageDir!, entry), join(SANDBOX_HOME, entry));
  args.push('--');
  if (layout.host.isRoot) {
    const uid = String(layout.runnerUid);
    args.push(layout.host.setpriv!, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--');
  }
  args.push('/bin/sh', '-c', INIT_SCRIPT, 'jitpool-init', ...layout.command);
  return args;
}

/**
 * Where hidden paths would show through a visible tree: each hidden path that exists and lies
 * inside one of `visible` (compared by real path, masked at the path the sandbox shows).
 */
export function masksFor(visible: readonly string[], hidden: readonly string[]): Array<{ path: string; isDirectory: boolean }> {
  const out = new Map<string, boolean>();
  const roots = visible.map((dir) => ({ dir, real: realOrNull(dir) })).filter((r) => r.real !== null);
  for (const path of [...ALWAYS_HIDDEN, ...hidden]) {
    const real = realOrNull(path);
    if (real === null) continue;
    const isDirectory = statSync(real).isDirectory();
    for (const root of roots) {
      if (real === root.real || real.startsWith(`${root.real}/`)) out.set(join(root.dir, real.slice(root.real!.length)), isDirectory);
      else if (path.startsWith(`${root.dir}/`)) out.set(path, isDirectory);
    }
  }
  // A mask over a directory hides everything beneath it: drop the masks it covers.
  const paths = [...out.keys()].sort();
  return paths.filter((path) => !paths.some((other) => other !== path && out.get(other) && path.startsWith(`${other}/`))).map((path) => ({ path, isDirectory: out.get(path)! }));
}

/**
 * The host directories a command needs visible: for every absolute path on its command line
 * (and the program found on PATH) outside the system directories, the nearest enclosing Node
 * project (a `package.json` not inside `node_modules`), else the file's own directory. Never `/`
 * or the controller's home directory as a whole.
 */
export function commandRoots(command: readonly string[], path = process.env.PATH ?? ''): string[] {
  const roots = new Set<string>();
  command.forEach((arg, index) => {
    const file = isAbsolute(arg) ? arg : index === 0 && !arg.includes('/') ? findOnPath(arg, path) : null;
    if (file === null || !existsSync(file) || isSystemPath(file) || isSystemPath(realOrNull(file) ?? file)) return;
    const start = statSync(file).isDirectory() ? file : dirname(file);
    let root = start;
    for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
      if (!dir.split('/').includes('node_modules') && existsSync(join(dir, 'package.json'))) {
        root = dir;
        break;
      }
    }
    if (root === '/' || root === homedir()) root = start;
    if (root !== '/') roots.add(root);
  });
  return [...roots];
}

/** `/etc/passwd` and `/etc/group` as the sandbox shows them: the host's, plus the `runner` user. */
export function identityFiles(uid: number): { passwd: string; group: string } {
  const keep = (file: string, idField: number) =>
    readOrEmpty(file).split('\n').filter((line) => line !== '' && !line.startsWith('runner:') && line.split(':')[idField] !== String(uid));
  return {
    passwd: [...keep('/etc/passwd', 2), `runner:x:${uid}:${uid}:jitpool runner:${SANDBOX_HOME}:/bin/sh`, ''].join('\n'),
    group: [...keep('/etc/group', 2), `runner:x:${uid}:`, ''].join('\n'),
  };
}

/** What {@link spawnSandbox} started. */
export interface SandboxProcess {
  /** bwrap's monitor: outlives the controller, exits with the runner's status. */
  child: ChildProcess;
  /** The host PID of the namespace's PID 1 (the init that holds the runner). */
  sandboxPid: number;
}

/** How long bwrap may take to create the namespaces before a launch is given up. */
export const SETUP_TIMEOUT_MS = 30_000;

/**
 * Starts a sandbox: bwrap detached (own session, so it outlives the controller), its output on
 * `logFd`, its status on `statusFd`, the environment given (never inherited). Resolves once the
 * namespaces exist and bwrap named PID 1; `onSpawn` sees the monitor's pid at once (so the caller
 * records it before anything can go wrong).
 */
export async function spawnSandbox(layout: SandboxLayout, env: Record<string, string>, fds: { logFd: number | 'pipe'; statusFd: number | 'pipe' }, onSpawn?: (pid: number) => void): Promise<SandboxProcess> {
  const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', fds.logFd, fds.logFd, 'pipe', fds.statusFd];
  // bwrap hands every open fd down to the command: one the controller inherited without
  // close-on-exec (a directory fd is a way out of any mount namespace) becomes /dev/null there.
  const devNull = openSync('/dev/null', 'r');
  for (const fd of inheritableFds()) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = devNull;
  }
  let child: ChildProcess;
  try {
    child = spawn(layout.host.bwrap, bwrapArgs(layout), { cwd: '/', env, detached: true, stdio });
  } finally {
    closeSync(devNull);
  }
  if (child.pid !== undefined) onSpawn?.(child.pid);
  const info = child.stdio[3]!;
  try {
    const text = await new Promise<string>((resolveInfo, reject) => {
      let data = '';
      const timer = setTimeout(() => reject(new JitpoolError('JP_PROVIDER_CREATE', `bwrap did not create the sandbox within ${SETUP_TIMEOUT_MS / 1000} s`)), SETUP_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      info.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      info.once('close', () => {
        clearTimeout(timer);
        resolveInfo(data);
      });
    });
    const sandboxPid = Number((JSON.parse(text || '{}') as { 'child-pid'?: number })['child-pid']);
    if (!Number.isInteger(sandboxPid) || sandboxPid <= 0) throw new JitpoolError('JP_PROVIDER_CREATE', 'bwrap exited before creating the sandbox (see the runner log)');
    return { child, sandboxPid };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    info.destroy();
  }
}

/** Fds above 4 this process holds without close-on-exec (read from /proc/self/fdinfo). */
function inheritableFds(): number[] {
  const out: number[] = [];
  for (const entry of readdirOrEmpty('/proc/self/fdinfo')) {
    const fd = Number(entry);
    if (!(fd > 4)) continue;
    const flags = /^flags:\s+([0-7]+)/m.exec(readOrEmpty(`/proc/self/fdinfo/${fd}`));
    if (flags && (Number.parseInt(flags[1]!, 8) & O_CLOEXEC) === 0) out.push(fd);
  }
  return out;
}

/** O_CLOEXEC as /proc/PID/fdinfo shows it (octal 02000000 on Linux). */
const O_CLOEXEC = 0o2000000;

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function findOnPath(name: string, path: string): string | null {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  return null;
}

/** The parents of `paths` the sandbox's fresh root lacks, outermost first (so each is created 0755). */
function ancestorsOf(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const path of paths) {
    const chain: string[] = [];
    for (let dir = dirname(path); dir !== '/' && !isSystemPath(dir); dir = dirname(dir)) chain.unshift(dir);
    for (const dir of chain) if (!paths.includes(dir)) out.add(dir);
  }
  return [...out].filter((dir) => dir !== '/home');
}

function isSystemPath(path: string): boolean {
  return SYSTEM_DIRS.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function realOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
