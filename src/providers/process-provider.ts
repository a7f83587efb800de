import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, lchownSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { JitpoolError, isSafeRunnerName, sleep, type Logger } from '../core/index.ts';
import { RUNNER_ONLINE_MARKER, createRunnerRoot, ensureRunnerPackage, listenerCommand, prepareMountedRoot, resolveRunnerPackageSpec, runnerEnvironment, type RunnerPackageSpec } from '../runner/index.ts';
import { BOOKKEEPING_DIR, Bookkeeping, isProcessAlive, logContains, parentPid, readStartTicks, signalGroup, signalNumber, signalPid, tailFile, type RunnerMeta } from './process-bookkeeping.ts';
import {
  DEFAULT_RUNNER_UIDS, SANDBOX_HOME, commandRoots, identityFiles, insideUid, spawnSandbox,
  type ProcessSandboxOptions, type SandboxHost, type SandboxLayout,
} from './process-sandbox.ts';
import { probeSandbox } from './process-sandbox-probe.ts';
import type { ComputeInfo, ComputeSpec, Provider, ProviderCapabilities } from './types.ts';
import { removeStaleWorkDir, scanWorkDirs, type StaleWorkDir, type WorkDirScan, type WorkDirScanOptions } from './work-dirs.ts';

/** Settings of the process provider (from the pool's `provider` block). */
export interface ProcessProviderOptions {
  controllerId: string;
  /** The runner command, e.g. `['/opt/actions-runner/bin/Runner.Listener', 'run']`; or give `runnerPackage`. */
  command?: string[];
  /** The pinned runner package: mounted read-only into each runner's root (hard-linked with `sandbox: none`), and `bin/Runner.Listener run` is launched there. */
  runnerPackage?: RunnerPackageSpec;
  /** Parent directory of the per-runner work directories. */
  workRoot: string;
  /** Extra environment (placeholders like `{runner_name}` are filled in). */
  env?: Record<string, string>;
  /** Seconds between SIGTERM and SIGKILL on delete. @default 10 */
  killGraceSeconds?: number;
  /** How each runner is isolated (docs/providers/process.md). @default { kind: 'bwrap', network: 'host' } */
  sandbox?: ProcessSandboxOptions;
  logger: Logger;
}

/** Host uids being handed out by a create that has not written its record yet (all providers of this process). */
const reservedUids = new Set<number>();

/**
 * Runs each runner as a local process in a fresh work directory under `workRoot`, by default in
 * a bubblewrap sandbox (see process-sandbox.ts), with `sandbox: none` as the controller's own
 * user. The JIT config goes through `ACTIONS_RUNNER_INPUT_JITCONFIG`, never argv; the
 * controller's environment (tokens) is not inherited. The records that say which processes a
 * runner is live in a controller-owned directory no job can reach (process-bookkeeping.ts), so a
 * runner outlives a controller crash and is found again by `list()`, and nothing a job writes
 * changes what `delete` signals.
 */
export class ProcessProvider implements Provider {
  readonly kind = 'process';
  readonly capabilities: ProviderCapabilities = { ownNetwork: false, reportsOnline: true, pushesExit: true };
  readonly #options: ProcessProviderOptions;
  readonly #sandbox: ProcessSandboxOptions & { kind: 'bwrap' | 'none' };
  readonly #book: Bookkeeping;
  readonly #children = new Map<string, ChildProcess>();
  readonly #online = new Set<string>();
  readonly #events = new EventEmitter();
  #host: Promise<SandboxHost> | null = null;

  constructor(options: ProcessProviderOptions) {
    if ((options.command === undefined) === (options.runnerPackage === undefined)) {
      throw new JitpoolError('JP_CONFIG_INVALID', 'process provider: give exactly one of `command` or `runner`');
    }
    const sandbox = { kind: 'bwrap' as const, network: 'host' as const, ...options.sandbox };
    if (sandbox.kind === 'none' && (sandbox.network === 'none' || (sandbox.readOnlyPaths ?? []).length > 0)) {
      throw new JitpoolError('JP_CONFIG_INVALID', 'process provider: `network: none` and `readOnlyPaths` need the sandbox (remove `sandbox: none`)');
    }
    // Showing /, /proc, /sys or /dev would show the host's processes and devices through the sandbox.
    const refused = (sandbox.readOnlyPaths ?? []).find((path) => !isAbsolute(path) || path === '/' || /^\/(proc|sys|dev)(\/|$)/.test(path));
    if (refused !== undefined) throw new JitpoolError('JP_CONFIG_INVALID', `process provider: readOnlyPaths takes absolute directories other than /, /proc, /sys and /dev, got ${JSON.stringify(refused)}`);
    // A digest jitpool does not ship and nobody gave fails at start-up, not at the first job.
    if (options.runnerPackage) resolveRunnerPackageSpec(options.runnerPackage);
    this.#sandbox = sandbox;
    this.#options = { ...options, workRoot: resolve(options.workRoot) };
    mkdirSync(this.#options.workRoot, { recursive: true, mode: 0o750 });
    this.#book = new Bookkeeping(this.#options.workRoot);
  }

  /** Whether runners run in the sandbox (false only with `sandbox: none`). */
  get isSandboxed(): boolean {
    return this.#sandbox.kind === 'bwrap';
  }

  /** Proves the sandbox starts on this machine; `JP_SANDBOX_UNAVAILABLE` (naming the fix) when it cannot. */
  async preflight(): Promise<void> {
    if (this.isSandboxed) await this.#sandboxHost();
  }

  async create(spec: ComputeSpec): Promise<ComputeInfo> {
    if (!isSafeRunnerName(spec.runnerName)) throw new JitpoolError('JP_INPUT_INVALID', `unsafe runner name ${JSON.stringify(spec.runnerName)}`);
    const existing = this.#book.read(spec.runnerName);
    if (existing) {
      if (existing.controllerId !== this.#options.controllerId) throw new JitpoolError('JP_PROVIDER_CREATE', `work directory of ${spec.runnerName} belongs to another controller`, { retryable: false });
      return this.#info(existing);
    }
    const host = this.isSandboxed ? await this.#sandboxHost() : null;
    const dir = this.#dir(spec.runnerName);
    // A directory without a record is the leftover of a launch that never started: start clean.
    rmSync(dir, { recursive: true, force: true });
    const runnerUid = host?.isRoot ? this.#allocateUid() : null;
    try {
      const root = await this.#prepareRoot(dir, host !== null);
      if (runnerUid !== null) chownExcept(dir, runnerUid, root.mounted ?? []);
      const bookDir = this.#book.prepare(spec.runnerName);
      const meta: RunnerMeta = {
        runnerId: spec.runnerId, runnerName: spec.runnerName, pool: spec.pool, controllerId: spec.controllerId, pid: 0, startTicks: null,
        createdAtMs: Date.now(), sandbox: host ? 'bwrap' : 'none', sandboxPid: null, sandboxStartTicks: null, runnerUid,
      };
      const env = runnerEnvironment({
        runnerName: spec.runnerName,
        jitConfig: spec.jitConfig,
        extra: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: host ? SANDBOX_HOME : dir, LANG: process.env.LANG ?? 'C.UTF-8', ...fillPlaceholders(this.#options.env ?? {}, spec.context) },
      });
      // The record is written the moment the process exists, so a crash right after leaves nothing unfindable.
      const record = (pid: number) => this.#book.write({ ...meta, pid, startTicks: readStartTicks(pid) });
      const logFd = openSync(this.#book.logPath(spec.runnerName), 'a', 0o600);
      let started: { child: ChildProcess; sandboxPid: number | null };
      try {
        started = host
          ? await this.#spawnSandboxed(this.#layout(host, dir, bookDir, runnerUid, root), env, logFd, spec.runnerName, record)
          : { child: await spawnPlain(root.command, dir, env, logFd, record), sandboxPid: null };
      } finally {
        closeSync(logFd);
      }
      const { child, sandboxPid } = started;
      const final: RunnerMeta = { ...meta, pid: child.pid!, startTicks: readStartTicks(child.pid!), sandboxPid, sandboxStartTicks: sandboxPid === null ? null : readStartTicks(sandboxPid) };
      this.#book.write(final);
      this.#watch(child, final);
      return this.#info(final);
    } finally {
      if (runnerUid !== null) reservedUids.delete(runnerUid);
    }
  }

  async delete(computeId: string): Promise<void> {
    if (!isSafeRunnerName(computeId)) return;
    const meta = this.#book.read(computeId);
    if (meta && meta.controllerId !== this.#options.controllerId) return;
    if (meta) await this.#stop(meta);
    this.#children.delete(computeId);
    this.#online.delete(computeId);
    rmSync(this.#dir(computeId), { recursive: true, force: true, maxRetries: 3 });
    this.#book.remove(computeId);
  }

  async list(): Promise<ComputeInfo[]> {
    const out: ComputeInfo[] = [];
    for (const name of this.#book.names()) {
      const meta = this.#book.read(name);
      if (meta && meta.controllerId === this.#options.controllerId) out.push(this.#info(meta));
    }
    return out;
  }

  async inspect(computeId: string): Promise<ComputeInfo | null> {
    if (!isSafeRunnerName(computeId)) return null;
    const meta = this.#book.read(computeId);
    if (!meta || meta.controllerId !== this.#options.controllerId) return null;
    return this.#info(meta);
  }

  async logs(computeId: string, lines: number): Promise<string> {
    if (!isSafeRunnerName(computeId)) return '';
    return tailFile(this.#book.logPath(computeId), lines);
  }

  /**
   * The work root judged for `jitpool doctor` (see work-dirs.ts): directories jitpool made whose
   * runner is gone and which were untouched for `minAgeMs` (stale), and everything else under the
   * root that is not provably jitpool's (foreign: never deleted). The proof of ownership is this
   * controller's own record of the runner, kept outside any job's reach.
   */
  async inspectWorkDirs(liveNames: ReadonlySet<string>, minAgeMs: number, nowMs = Date.now()): Promise<WorkDirScan> {
    return scanWorkDirs(this.#scanOptions(liveNames, minAgeMs, nowMs));
  }

  /** The stale work directories alone (see {@link inspectWorkDirs}). */
  async staleWorkDirs(liveNames: ReadonlySet<string>, minAgeMs: number, nowMs = Date.now()): Promise<StaleWorkDir[]> {
    return (await this.inspectWorkDirs(liveNames, minAgeMs, nowMs)).stale;
  }

  /** Removes one stale work directory and its record, judged again first; false (nothing deleted) when it is not stale any more. */
  async removeWorkDir(name: string, liveNames: ReadonlySet<string> = new Set(), minAgeMs = 0, nowMs = Date.now()): Promise<boolean> {
    if (!removeStaleWorkDir(this.#scanOptions(liveNames, minAgeMs, nowMs), name)) return false;
    this.#book.remove(name);
    return true;
  }

  #scanOptions(liveNames: ReadonlySet<string>, minAgeMs: number, nowMs: number): WorkDirScanOptions {
    const range = this.#sandbox.runnerUids ?? DEFAULT_RUNNER_UIDS;
    const ownUid = process.getuid ? process.getuid() : 0;
    return {
      workRoot: this.#options.workRoot,
      controllerId: this.#options.controllerId,
      skip: [BOOKKEEPING_DIR],
      markerOf: (name) => this.#book.read(name),
      // Unsandboxed (or as a non-root controller) runners run as the controller's user; sandboxed ones as a uid of the runner range.
      isRunnerUid: (uid) => uid === ownUid || (uid >= range.first && uid < range.first + range.count),
      liveNames,
      minAgeMs,
      nowMs,
      isRunning: (name) => {
        const meta = this.#book.read(name);
        return meta !== null && isAlive(meta);
      },
    };
  }

  onChange(listener: (info: ComputeInfo) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async close(): Promise<void> {
    this.#events.removeAllListeners();
  }

  #sandboxHost(): Promise<SandboxHost> {
    this.#host ??= this.#probe();
    // A failed probe is retried at the next call (an operator may install bwrap meanwhile).
    this.#host.catch(() => (this.#host = null));
    return this.#host;
  }

  async #probe(): Promise<SandboxHost> {
    const scratch = mkdtempSync(join(this.#book.root, '.probe-'));
    try {
      return await probeSandbox(this.#sandbox, (host) => {
        const uid = host.isRoot ? (this.#sandbox.runnerUids ?? DEFAULT_RUNNER_UIDS).first : null;
        const work = join(scratch, 'work');
        mkdirSync(work, { mode: 0o700 });
        if (uid !== null) lchownSync(work, uid, uid);
        return this.#layout(host, work, scratch, uid, { command: ['/bin/true'] });
      });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  async #prepareRoot(dir: string, isSandboxed: boolean): Promise<{ command: string[]; packageDir?: string; mounted?: string[] }> {
    if (!this.#options.runnerPackage) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return { command: this.#options.command! };
    }
    const pkg = await ensureRunnerPackage(this.#options.runnerPackage, { logger: this.#options.logger });
    if (!isSandboxed) {
      await createRunnerRoot(pkg.dir, dir);
      return { command: listenerCommand(dir) };
    }
    const { mounted } = await prepareMountedRoot(pkg.dir, dir);
    return { command: listenerCommand(SANDBOX_HOME), packageDir: pkg.dir, mounted };
  }

  #layout(host: SandboxHost, workDir: string, bookDir: string, runnerUid: number | null, root: { command: string[]; packageDir?: string; mounted?: string[] }): SandboxLayout {
    const layout: SandboxLayout = {
      host,
      network: this.#sandbox.network ?? 'host',
      workDir,
      packageDir: root.packageDir,
      mounted: root.mounted,
      readOnly: [...(this.#sandbox.readOnlyPaths ?? []), ...(this.#options.command ? commandRoots(this.#options.command) : [])],
      // Sibling work dirs, every record and the package cache stay out of sight.
      hidden: [...(this.#sandbox.hiddenPaths ?? []), this.#options.workRoot, ...(this.#options.runnerPackage?.cacheDir ? [this.#options.runnerPackage.cacheDir] : [])],
      passwdFile: join(bookDir, 'passwd'),
      groupFile: join(bookDir, 'group'),
      emptyDir: join(bookDir, 'empty'),
      runnerUid,
      command: root.command,
    };
    const identity = identityFiles(insideUid(layout));
    writeFileSync(layout.passwdFile, identity.passwd, { mode: 0o644 });
    writeFileSync(layout.groupFile, identity.group, { mode: 0o644 });
    mkdirSync(layout.emptyDir, { recursive: true, mode: 0o555 });
    return layout;
  }

  async #spawnSandboxed(layout: SandboxLayout, env: Record<string, string>, logFd: number, name: string, record: (pid: number) => void): Promise<{ child: ChildProcess; sandboxPid: number }> {
    const statusFd = openSync(this.#book.statusPath(name), 'a', 0o600);
    try {
      return await spawnSandbox(layout, env, { logFd, statusFd }, record);
    } catch (err) {
      const detail = (await tailFile(this.#book.logPath(name), 3)).replace(/\s+/g, ' ').trim();
      throw new JitpoolError('JP_PROVIDER_CREATE', `could not start the sandbox of ${name}: ${(err as Error).message}${detail ? ` (${detail})` : ''}`, { cause: err });
    } finally {
      closeSync(statusFd);
    }
  }

  #watch(child: ChildProcess, meta: RunnerMeta): void {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      this.#children.delete(meta.runnerName);
      const exitCode = code ?? (signal ? 128 + signalNumber(signal) : null);
      this.#book.writeExit(meta.runnerName, exitCode);
      this.#options.logger.debug({ component: 'provider.process', runnerName: meta.runnerName, exitCode }, 'runner process exited');
      this.#events.emit('change', this.#info(meta));
    };
    child.unref();
    // A runner that exits at once may have done so while the launch was still awaited.
    if (child.exitCode !== null || child.signalCode !== null) {
      queueMicrotask(() => onExit(child.exitCode, child.signalCode));
      return;
    }
    this.#children.set(meta.runnerName, child);
    child.once('exit', onExit);
  }

  /** Stops a runner: SIGTERM to its namespace's init (or process group), SIGKILL after the grace period. */
  async #stop(meta: RunnerMeta): Promise<void> {
    if (!isAlive(meta)) return;
    const send = (signal: NodeJS.Signals) => {
      if (meta.sandbox === 'none') return signalGroup(meta.pid, signal);
      const sandboxPid = this.#sandboxPidOf(meta);
      // The monitor is only signalled when the namespace is unknown (killed during its setup).
      if (sandboxPid !== null) signalPid(sandboxPid, signal);
      else signalPid(meta.pid, 'SIGKILL');
    };
    send('SIGTERM');
    const deadline = Date.now() + (this.#options.killGraceSeconds ?? 10) * 1000;
    // A SIGTERM that lands while bwrap still sets the namespace up (or before the init's traps) is
    // ignored by PID 1: repeat it; the init passes only the first one on to the runner.
    for (let tick = 1; isAlive(meta) && Date.now() < deadline; tick++) {
      await sleep(50);
      if (meta.sandbox === 'bwrap' && tick % 5 === 0) send('SIGTERM');
    }
    if (!isAlive(meta)) return;
    send('SIGKILL');
    const killDeadline = Date.now() + 5000;
    while (isAlive(meta) && Date.now() < killDeadline) await sleep(20);
    if (isAlive(meta)) throw new JitpoolError('JP_PROVIDER_DELETE', `runner process ${meta.pid} of ${meta.runnerName} survived SIGKILL`);
  }

  /** PID 1 of the runner's namespace: from the record, else from bwrap's status while its monitor still owns it. */
  #sandboxPidOf(meta: RunnerMeta): number | null {
    if (meta.sandboxPid !== null) return isProcessAlive(meta.sandboxPid, meta.sandboxStartTicks) ? meta.sandboxPid : null;
    const { childPid } = this.#book.status(meta.runnerName);
    return childPid !== null && isProcessAlive(meta.pid, meta.startTicks) && parentPid(childPid) === meta.pid ? childPid : null;
  }

  #allocateUid(): number {
    const range = this.#sandbox.runnerUids ?? DEFAULT_RUNNER_UIDS;
    const used = new Set(reservedUids);
    for (const name of this.#book.names()) {
      const meta = this.#book.read(name);
      if (meta && meta.runnerUid !== null && meta.runnerUid !== undefined && isAlive(meta)) used.add(meta.runnerUid);
    }
    for (let uid = range.first; uid < range.first + range.count; uid++) {
      if (used.has(uid)) continue;
      reservedUids.add(uid);
      return uid;
    }
    throw new JitpoolError('JP_PROVIDER_CREATE', `all ${range.count} runner uids from ${range.first} are in use (raise runnerUids.count)`);
  }

  #dir(runnerName: string): string {
    return join(this.#options.workRoot, runnerName);
  }

  #info(meta: RunnerMeta): ComputeInfo {
    const alive = this.#children.has(meta.runnerName) || isAlive(meta);
    const exitCode = alive ? null : this.#book.exitCode(meta.runnerName);
    if (alive && !this.#online.has(meta.runnerName) && logContains(this.#book.logPath(meta.runnerName), RUNNER_ONLINE_MARKER)) {
      this.#online.add(meta.runnerName);
    }
    return {
      computeId: meta.runnerName,
      runnerId: meta.runnerId,
      runnerName: meta.runnerName,
      pool: meta.pool,
      controllerId: meta.controllerId,
      state: alive ? 'running' : 'exited',
      exitCode,
      isOnline: alive && this.#online.has(meta.runnerName),
      createdAtMs: meta.createdAtMs,
    };
  }
}

/** Replaces `{name}` placeholders in every value with `context[name]` (unknown ones stay as written). */
export function fillPlaceholders(env: Record<string, string>, context: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    out[key] = value.replace(/\{([a-z_]+)\}/g, (whole, name: string) => context[name] ?? whole);
  }
  return out;
}

/** `sandbox: none`: the runner as a detached child process of the controller's own user. */
async function spawnPlain(commandLine: string[], dir: string, env: Record<string, string>, logFd: number, onSpawn: (pid: number) => void): Promise<ChildProcess> {
  const [command, ...args] = commandLine as [string, ...string[]];
  const child = spawn(command, args, { cwd: dir, env, detached: true, stdio: ['ignore', logFd, logFd] });
  if (child.pid !== undefined) onSpawn(child.pid);
  await new Promise<void>((resolveSpawn, reject) => {
    child.once('spawn', () => resolveSpawn());
    child.once('error', (err) => reject(new JitpoolError('JP_PROVIDER_CREATE', `could not start ${command}: ${err.message}`, { retryable: false })));
  });
  return child;
}

/** A runner is alive while its spawned process is, or (sandbox) while its namespace's init is. */
function isAlive(meta: RunnerMeta): boolean {
  return isProcessAlive(meta.pid, meta.startTicks) || (meta.sandboxPid !== null && isProcessAlive(meta.sandboxPid, meta.sandboxStartTicks));
}

/** Gives the runner's uid its work dir and what was copied into it (the mount stubs stay the controller's). */
function chownExcept(dir: string, uid: number, keep: readonly string[]): void {
  lchownSync(dir, uid, uid);
  for (const name of readdirSync(dir)) if (!keep.includes(name)) lchownSync(join(dir, name), uid, uid);
}
