import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { JitpoolError, isSafeRunnerName, sleep, type Logger } from '../core/index.ts';
import { RUNNER_ONLINE_MARKER, createRunnerRoot, ensureRunnerPackage, listenerCommand, runnerEnvironment, type RunnerPackageSpec } from '../runner/index.ts';
import type { ComputeInfo, ComputeSpec, Provider, ProviderCapabilities } from './types.ts';

/** Settings of the process provider (from the pool's `provider` block). */
export interface ProcessProviderOptions {
  controllerId: string;
  /** The runner command, e.g. `['/opt/actions-runner/bin/Runner.Listener', 'run']`; or give `runnerPackage`. */
  command?: string[];
  /** The pinned runner package: each runner's work directory becomes a hard-linked root of it, and `bin/Runner.Listener run` is launched there. */
  runnerPackage?: RunnerPackageSpec;
  /** Parent directory of the per-runner work directories. */
  workRoot: string;
  /** Extra environment (placeholders like `{runner_name}` are filled in). */
  env?: Record<string, string>;
  /** Seconds between SIGTERM and SIGKILL on delete. @default 10 */
  killGraceSeconds?: number;
  logger: Logger;
}

interface Meta {
  runnerId: string;
  runnerName: string;
  pool: string;
  controllerId: string;
  pid: number;
  /** Kernel start time of the process (field 22 of /proc/PID/stat), guards against pid reuse. */
  startTicks: string | null;
  createdAtMs: number;
}

const META_FILE = '.jitpool.json';
const EXIT_FILE = '.jitpool-exit';
const LOG_FILE = 'runner.log';

/**
 * Runs each runner as a local child process in a fresh work directory under `workRoot`. The JIT
 * config goes through `ACTIONS_RUNNER_INPUT_JITCONFIG` (which the real runner reads), never argv;
 * the controller's own environment (tokens) is not inherited. Output goes to `runner.log` in the
 * work directory through a file descriptor, so a runner outlives a controller crash and is found
 * again by `list()` from its metadata file.
 */
export class ProcessProvider implements Provider {
  readonly kind = 'process';
  readonly capabilities: ProviderCapabilities = { ownNetwork: false, reportsOnline: true, pushesExit: true };
  readonly #options: ProcessProviderOptions;
  readonly #children = new Map<string, ChildProcess>();
  readonly #online = new Set<string>();
  readonly #events = new EventEmitter();

  constructor(options: ProcessProviderOptions) {
    if ((options.command === undefined) === (options.runnerPackage === undefined)) {
      throw new JitpoolError('JP_CONFIG_INVALID', 'process provider: give exactly one of `command` or `runner`');
    }
    this.#options = { ...options, workRoot: resolve(options.workRoot) };
    mkdirSync(this.#options.workRoot, { recursive: true, mode: 0o750 });
  }

  async create(spec: ComputeSpec): Promise<ComputeInfo> {
    if (!isSafeRunnerName(spec.runnerName)) throw new JitpoolError('JP_INPUT_INVALID', `unsafe runner name ${JSON.stringify(spec.runnerName)}`);
    const dir = this.#dir(spec.runnerName);
    if (existsSync(join(dir, META_FILE))) {
      const existing = await this.inspect(spec.runnerName);
      if (existing) return existing;
    }
    let commandLine = this.#options.command;
    if (this.#options.runnerPackage) {
      // A directory without metadata is the leftover of a launch that never started: start clean.
      if (existsSync(join(dir, META_FILE))) throw new JitpoolError('JP_PROVIDER_CREATE', `work directory of ${spec.runnerName} belongs to another controller`, { retryable: false });
      rmSync(dir, { recursive: true, force: true });
      const pkg = await ensureRunnerPackage(this.#options.runnerPackage, { logger: this.#options.logger });
      await createRunnerRoot(pkg.dir, dir);
      commandLine = listenerCommand(dir);
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const logFd = openSync(join(dir, LOG_FILE), 'a', 0o600);
    const env = runnerEnvironment({
      runnerName: spec.runnerName,
      jitConfig: spec.jitConfig,
      extra: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: dir, LANG: process.env.LANG ?? 'C.UTF-8', ...fillPlaceholders(this.#options.env ?? {}, spec.context) },
    });
    const [command, ...args] = commandLine as [string, ...string[]];
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd: dir, env, detached: true, stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    const pid = await new Promise<number>((resolvePid, reject) => {
      child.once('spawn', () => resolvePid(child.pid!));
      child.once('error', (err) => reject(new JitpoolError('JP_PROVIDER_CREATE', `could not start ${command}: ${err.message}`, { retryable: false })));
    });
    const meta: Meta = {
      runnerId: spec.runnerId,
      runnerName: spec.runnerName,
      pool: spec.pool,
      controllerId: spec.controllerId,
      pid,
      startTicks: readStartTicks(pid),
      createdAtMs: Date.now(),
    };
    writeFileSync(join(dir, META_FILE), JSON.stringify(meta), { mode: 0o600 });
    this.#children.set(spec.runnerName, child);
    child.once('exit', (code, signal) => {
      this.#children.delete(spec.runnerName);
      const exitCode = code ?? (signal ? 128 + signalNumber(signal) : null);
      if (existsSync(dir)) writeFileSync(join(dir, EXIT_FILE), String(exitCode ?? ''), { mode: 0o600 });
      this.#options.logger.debug({ component: 'provider.process', runnerName: spec.runnerName, exitCode }, 'runner process exited');
      this.#events.emit('change', this.#info(meta, dir));
    });
    child.unref();
    return this.#info(meta, dir);
  }

  async delete(computeId: string): Promise<void> {
    if (!isSafeRunnerName(computeId)) return;
    const dir = this.#dir(computeId);
    const meta = readMeta(dir);
    if (meta && meta.controllerId !== this.#options.controllerId) return;
    if (meta && isAlive(meta)) {
      signalGroup(meta.pid, 'SIGTERM');
      const deadline = Date.now() + (this.#options.killGraceSeconds ?? 10) * 1000;
      while (isAlive(meta) && Date.now() < deadline) await sleep(50);
      if (isAlive(meta)) {
        signalGroup(meta.pid, 'SIGKILL');
        const killDeadline = Date.now() + 5000;
        while (isAlive(meta) && Date.now() < killDeadline) await sleep(20);
        if (isAlive(meta)) throw new JitpoolError('JP_PROVIDER_DELETE', `runner process ${meta.pid} of ${computeId} survived SIGKILL`);
      }
    }
    this.#children.delete(computeId);
    this.#online.delete(computeId);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }

  async list(): Promise<ComputeInfo[]> {
    const out: ComputeInfo[] = [];
    for (const name of this.#workDirNames()) {
      const dir = this.#dir(name);
      const meta = readMeta(dir);
      if (!meta || meta.controllerId !== this.#options.controllerId) continue;
      out.push(this.#info(meta, dir));
    }
    return out;
  }

  async inspect(computeId: string): Promise<ComputeInfo | null> {
    if (!isSafeRunnerName(computeId)) return null;
    const dir = this.#dir(computeId);
    const meta = readMeta(dir);
    if (!meta || meta.controllerId !== this.#options.controllerId) return null;
    return this.#info(meta, dir);
  }

  async logs(computeId: string, lines: number): Promise<string> {
    if (!isSafeRunnerName(computeId)) return '';
    return tailFile(join(this.#dir(computeId), LOG_FILE), lines);
  }

  /**
   * Work directories no live runner owns: no metadata (a crash before it was written) or a dead
   * process, untouched for `minAgeMs`, and not named in `liveNames`. For `jitpool doctor`.
   */
  async staleWorkDirs(liveNames: ReadonlySet<string>, minAgeMs: number, nowMs = Date.now()): Promise<Array<{ name: string; path: string; ageMs: number }>> {
    const out: Array<{ name: string; path: string; ageMs: number }> = [];
    for (const name of this.#workDirNames()) {
      if (liveNames.has(name)) continue;
      const dir = this.#dir(name);
      const meta = readMeta(dir);
      if (meta && (meta.controllerId !== this.#options.controllerId || isAlive(meta))) continue;
      let ageMs: number;
      try {
        ageMs = nowMs - statSync(dir).mtimeMs;
      } catch {
        continue;
      }
      if (ageMs >= minAgeMs) out.push({ name, path: dir, ageMs });
    }
    return out;
  }

  /** Removes one stale work directory (see {@link staleWorkDirs}). */
  async removeWorkDir(name: string): Promise<void> {
    if (!isSafeRunnerName(name)) return;
    rmSync(this.#dir(name), { recursive: true, force: true, maxRetries: 3 });
  }

  onChange(listener: (info: ComputeInfo) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async close(): Promise<void> {
    this.#events.removeAllListeners();
  }

  /** Names under the work root that could be runner work directories (none when it is unreadable). */
  #workDirNames(): string[] {
    try {
      return readdirSync(this.#options.workRoot).filter(isSafeRunnerName);
    } catch {
      return [];
    }
  }

  #dir(runnerName: string): string {
    return join(this.#options.workRoot, runnerName);
  }

  #info(meta: Meta, dir: string): ComputeInfo {
    const alive = this.#children.has(meta.runnerName) || isAlive(meta);
    let exitCode: number | null = null;
    if (!alive) {
      try {
        const text = readFileSync(join(dir, EXIT_FILE), 'utf8').trim();
        exitCode = text === '' ? null : Number(text);
      } catch {
        exitCode = null;
      }
    }
    if (alive && !this.#online.has(meta.runnerName) && logContains(join(dir, LOG_FILE), RUNNER_ONLINE_MARKER)) {
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

function readMeta(dir: string): Meta | null {
  try {
    return JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as Meta;
  } catch {
    return null;
  }
}

function readStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(meta: Meta): boolean {
  try {
    process.kill(meta.pid, 0);
  } catch {
    return false;
  }
  if (meta.startTicks === null) return true;
  const ticks = readStartTicks(meta.pid);
  if (ticks !== meta.startTicks) return false;
  // A zombie (exited, not yet reaped) is not alive.
  try {
    const stat = readFileSync(`/proc/${meta.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

function logContains(file: string, marker: string): boolean {
  try {
    return readFileSync(file, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** The last `lines` lines of a file (reads at most the last 64 KiB). */
export async function tailFile(file: string, lines: number): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').split('\n').filter((line, index, all) => line !== '' || index < all.length - 1).slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
