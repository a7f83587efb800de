import { execFile, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { JitpoolError, isProcessAlive, isSafeRunnerName, readStartTicks, sleep, type Logger } from '../core/index.ts';
import { VM_ARTIFACT_FILES } from '../images/vm-artifacts.ts';
import { RUNNER_ONLINE_MARKER } from '../runner/index.ts';
import { tailFile } from './process-bookkeeping.ts';
import { VmBookkeeping, type VmMeta } from './vm-bookkeeping.ts';
import { QmpClient } from './vm-qmp.ts';
import { USER_NETWORK, qemuArguments, resolveAccel } from './vm-qemu.ts';
import type { ComputeInfo, ComputeSpec, Provider, ProviderCapabilities } from './types.ts';

/** Settings of the `vm` provider (the pool's `provider` block; see config/vm-provider-schema.ts for the defaults). */
export interface VmProviderOptions {
  controllerId: string;
  /** The image directory: `disk.img`, `vmlinux`, `initrd.img` (see images/vm-artifacts.ts). */
  image: string;
  /** Parent of the per-VM directories (overlay, sockets, console, records). */
  workRoot: string;
  accel: 'kvm' | 'tcg' | 'auto';
  cpus: number;
  memoryMb: number;
  /** Virtual size of each VM's disk; null keeps the base image's size. */
  diskGb: number | null;
  /** PID 1 of the guest's root. @default /usr/local/bin/jitpool-agent */
  init?: string;
  /** Seconds a guest gets to power off after an ACPI power-button press before QEMU is told to quit. */
  killGraceSeconds: number;
  /** @default qemu-system-x86_64 */
  qemuBinary?: string;
  /** @default qemu-img */
  qemuImgBinary?: string;
  logger: Logger;
}

const AGENT_EXIT = /jitpool-agent: runner exited (\d+)/g;
const WATCH_INTERVAL_MS = 500;
/** sun_path is 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;

const run = promisify(execFile);

/**
 * One QEMU virtual machine per runner (issue 19, seed 001's "1 VM = 1 job"): a qcow2 overlay of
 * the base disk (the base is only ever read), direct kernel boot, user-mode NAT networking, the
 * JIT config through fw_cfg from a 0600 file that is deleted as soon as QEMU has read it (never
 * argv, never a world-readable file; docs/providers/vm.md says why not virtio-serial), and QMP
 * to stop it: an ACPI power-button press, `quit` after the grace period, and a signal to the
 * verified pid only when QMP does not answer. The guest agent prints the runner's exit code on
 * the serial console and powers the VM off; QEMU then exits (`-no-reboot`).
 *
 * The compute id is the runner name. Every VM's records live in a controller-owned directory
 * under the work root, so a controller that crashed finds its VMs again (`list()`) and adopts
 * them instead of killing them; QEMU runs in its own session and outlives the controller.
 */
export class VmProvider implements Provider {
  readonly kind = 'vm';
  readonly capabilities: ProviderCapabilities = { ownNetwork: true, reportsOnline: true, pushesExit: true };
  readonly #options: VmProviderOptions;
  readonly #book: VmBookkeeping;
  readonly #events = new EventEmitter();
  readonly #log: Logger;
  readonly #seen = new Map<string, { isAlive: boolean; isOnline: boolean }>();
  /** VMs whose runner was seen online (kept: the line scrolls out of the console's tail). */
  readonly #online = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: VmProviderOptions) {
    this.#options = { ...options, image: resolve(options.image), workRoot: resolve(options.workRoot) };
    this.#book = new VmBookkeeping(this.#options.workRoot);
    this.#log = options.logger.child({ component: 'provider.vm' });
  }

  /** Proves QEMU, qemu-img, the image and the accelerator are there; rejects naming the fix. */
  async preflight(): Promise<void> {
    this.#imageFiles();
    for (const binary of [this.#qemu, this.#qemuImg]) {
      try {
        await run(binary, ['--version'], { timeout: 30_000 });
      } catch (err) {
        throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `${binary} does not run (${(err as Error).message}): apt-get install qemu-system-x86 qemu-utils`, { cause: err, retryable: false });
      }
    }
    if (this.#options.accel === 'kvm' && resolveAccel('auto') !== 'kvm') {
      throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'accel: kvm, but /dev/kvm cannot be opened (no KVM on this host, or jitpool is not in the kvm group): use accel: tcg or auto', { retryable: false });
    }
    const probe = join(this.#options.workRoot, 'jp-socket-path-probe-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'qmp.sock');
    if (Buffer.byteLength(probe) > MAX_SOCKET_PATH) {
      throw new JitpoolError('JP_CONFIG_INVALID', `workRoot ${this.#options.workRoot} is too long for unix socket paths (QMP): choose a shorter workRoot`);
    }
  }

  async create(spec: ComputeSpec): Promise<ComputeInfo> {
    if (!isSafeRunnerName(spec.runnerName)) throw new JitpoolError('JP_INPUT_INVALID', `unsafe runner name ${JSON.stringify(spec.runnerName)}`);
    if (spec.controllerId !== this.#options.controllerId) throw new JitpoolError('JP_INPUT_INVALID', `runner ${spec.runnerName} belongs to controller ${spec.controllerId}, not ${this.#options.controllerId}`);
    const existing = this.#book.read(spec.runnerName);
    if (existing) {
      if (existing.controllerId !== this.#options.controllerId) throw new JitpoolError('JP_PROVIDER_CREATE', `a VM named ${spec.runnerName} exists and is not this controller's`, { retryable: false });
      return this.#info(existing);
    }
    const image = this.#imageFiles();
    const accel = resolveAccel(this.#options.accel);
    this.#book.prepare(spec.runnerName);
    const meta: VmMeta = { runnerId: spec.runnerId, runnerName: spec.runnerName, pool: spec.pool, controllerId: spec.controllerId, pid: null, startTicks: null, createdAtMs: Date.now(), accel };
    // Recorded before anything runs: a crash from here on leaves a directory list() reports (and delete() removes).
    this.#book.write(meta);
    const file = (name: Parameters<VmBookkeeping['fileOf']>[1]) => this.#book.fileOf(spec.runnerName, name);
    if (Buffer.byteLength(file('qmp')) > MAX_SOCKET_PATH) {
      this.#book.remove(spec.runnerName);
      throw new JitpoolError('JP_CONFIG_INVALID', `QMP socket path ${file('qmp')} is longer than ${MAX_SOCKET_PATH} bytes: choose a shorter workRoot`);
    }
    try {
      const growRoot = await this.#createOverlay(image.disk, file('overlay'));
      writeSecretFile(file('jitConfig'), spec.jitConfig);
      const argv = qemuArguments({
        runnerName: spec.runnerName, accel, cpus: this.#options.cpus, memoryMb: this.#options.memoryMb, kernel: image.kernel, initrd: image.initrd,
        overlay: file('overlay'), qmpSocket: file('qmp'), consoleLog: file('console'), pidFile: file('pid'), jitConfigFile: file('jitConfig'),
        init: this.#options.init ?? '/usr/local/bin/jitpool-agent', network: USER_NETWORK, growRoot,
      });
      const pid = this.#spawn(argv, file('qemuLog'));
      const spawned: VmMeta = { ...meta, pid, startTicks: readStartTicks(pid) };
      this.#book.write(spawned);
      await this.#handshake(spawned);
      this.#log.debug({ runnerName: spec.runnerName, pool: spec.pool, pid, accel }, 'vm started');
      this.#ensureWatch();
      return this.#info(spawned);
    } catch (err) {
      rmSync(file('jitConfig'), { force: true });
      const detail = (await tailFile(file('qemuLog'), 5)).replace(/\s+/g, ' ').trim();
      await this.delete(spec.runnerName).catch((cleanupErr: unknown) => {
        this.#log.warn({ runnerName: spec.runnerName, err: (cleanupErr as Error).message }, 'could not undo a failed create; reconcile will retry');
      });
      if (err instanceof JitpoolError) throw err;
      throw new JitpoolError('JP_PROVIDER_CREATE', `could not start the VM of ${spec.runnerName}: ${(err as Error).message}${detail ? ` (qemu: ${detail})` : ''}`, { cause: err });
    }
  }

  async delete(computeId: string): Promise<void> {
    if (!isSafeRunnerName(computeId)) return;
    const meta = this.#book.read(computeId);
    if (meta && meta.controllerId !== this.#options.controllerId) return;
    if (!meta && !existsSync(this.#book.dirOf(computeId))) return;
    // A directory without a readable record is ours only if QEMU's own pidfile says so (a crash mid-create).
    const target = meta ?? this.#fromPidFile(computeId);
    if (target) await this.#stop(target);
    this.#book.remove(computeId);
    this.#seen.delete(computeId);
    this.#online.delete(computeId);
  }

  async list(): Promise<ComputeInfo[]> {
    const out: ComputeInfo[] = [];
    for (const name of this.#book.names()) {
      const meta = this.#book.read(name);
      if (meta && meta.controllerId === this.#options.controllerId) out.push(this.#info(meta));
    }
    if (out.some((info) => info.state !== 'exited')) this.#ensureWatch();
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
    const meta = this.#book.read(computeId);
    if (!meta || meta.controllerId !== this.#options.controllerId) return '';
    return tailFile(this.#book.fileOf(computeId, 'console'), lines);
  }

  onChange(listener: (info: ComputeInfo) => void): () => void {
    this.#events.on('change', listener);
    this.#ensureWatch();
    return () => this.#events.off('change', listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#events.removeAllListeners();
  }

  get #qemu(): string {
    return this.#options.qemuBinary ?? 'qemu-system-x86_64';
  }

  get #qemuImg(): string {
    return this.#options.qemuImgBinary ?? 'qemu-img';
  }

  #imageFiles(): { disk: string; kernel: string; initrd: string } {
    const files = {
      disk: join(this.#options.image, VM_ARTIFACT_FILES.disk),
      kernel: join(this.#options.image, VM_ARTIFACT_FILES.kernel),
      initrd: join(this.#options.image, VM_ARTIFACT_FILES.initrd),
    };
    const missing = Object.values(files).filter((path) => !existsSync(path));
    if (missing.length > 0) {
      throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `the VM image ${this.#options.image} lacks ${missing.map((path) => path.slice(this.#options.image.length + 1)).join(', ')}: build it with jitpool image build`, { retryable: false });
    }
    return files;
  }

  /** Creates the VM's copy-on-write disk; true when it is larger than the base (the guest then grows its filesystem). */
  async #createOverlay(base: string, overlay: string): Promise<boolean> {
    const baseBytes = statSync(base).size;
    const wantedBytes = this.#options.diskGb === null ? baseBytes : Math.max(baseBytes, Math.round(this.#options.diskGb * 1024 ** 3));
    try {
      // The base is opened read-only as the backing file; every write lands in the overlay.
      await run(this.#qemuImg, ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', base, overlay, String(wantedBytes)], { timeout: 60_000 });
    } catch (err) {
      throw new JitpoolError('JP_PROVIDER_CREATE', `qemu-img could not create the overlay of ${base}: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`, { cause: err });
    }
    return wantedBytes > baseBytes;
  }

  /** Starts QEMU in its own session (it outlives the controller), its stdout/stderr into qemu.log. */
  #spawn(argv: string[], logPath: string): number {
    const logFd = openSync(logPath, 'a', 0o600);
    try {
      // An empty environment: nothing of the controller's (tokens) reaches QEMU.
      const child = spawn(this.#qemu, argv, { detached: true, stdio: ['ignore', logFd, logFd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } });
      child.once('error', (err) => this.#log.warn({ err: err.message }, 'qemu could not be started'));
      child.once('exit', () => queueMicrotask(() => this.#tick()));
      child.unref();
      if (child.pid === undefined) throw new JitpoolError('JP_PROVIDER_CREATE', `${this.#qemu} could not be started (is qemu-system-x86 installed?)`, { retryable: false });
      return child.pid;
    } finally {
      closeSync(logFd);
    }
  }

  /**
   * Waits for QMP to answer, which QEMU does only once the machine is fully set up (fw_cfg
   * included), then deletes the JIT config file: from here on it exists only in the VM.
   */
  async #handshake(meta: VmMeta): Promise<void> {
    const socket = this.#book.fileOf(meta.runnerName, 'qmp');
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (!this.#isAlive(meta)) throw new JitpoolError('JP_PROVIDER_CREATE', `qemu exited during start-up`);
      if (existsSync(socket)) {
        const qmp = await QmpClient.connect(socket, 10_000).catch(() => null);
        if (qmp) {
          try {
            await qmp.execute('query-status');
          } finally {
            qmp.close();
          }
          rmSync(this.#book.fileOf(meta.runnerName, 'jitConfig'), { force: true });
          return;
        }
      }
      if (Date.now() > deadline) throw new JitpoolError('JP_PROVIDER_TIMEOUT', `QMP of ${meta.runnerName} did not answer within 60 s`);
      await sleep(50);
    }
  }

  /** Power button, then `quit` after the grace period, then (QMP dead) SIGTERM and SIGKILL to the verified pid. */
  async #stop(meta: VmMeta): Promise<void> {
    if (!this.#isAlive(meta)) return;
    const socket = this.#book.fileOf(meta.runnerName, 'qmp');
    const qmp = await QmpClient.connect(socket, 5_000).catch(() => null);
    if (qmp) {
      try {
        await qmp.execute('system_powerdown').catch(() => undefined);
        if (!(await this.#waitGone(meta, this.#options.killGraceSeconds * 1000))) {
          this.#log.debug({ runnerName: meta.runnerName }, 'guest did not power off in time; quitting qemu');
          await qmp.execute('quit').catch(() => undefined);
        }
      } finally {
        qmp.close();
      }
      if (await this.#waitGone(meta, 10_000)) return;
    }
    this.#log.warn({ runnerName: meta.runnerName, pid: meta.pid }, 'qemu did not stop through QMP; signalling it');
    this.#signal(meta, 'SIGTERM');
    if (await this.#waitGone(meta, 10_000)) return;
    this.#signal(meta, 'SIGKILL');
    if (!(await this.#waitGone(meta, 5_000))) throw new JitpoolError('JP_PROVIDER_DELETE', `qemu ${meta.pid} of ${meta.runnerName} survived SIGKILL`);
  }

  #signal(meta: VmMeta, signal: NodeJS.Signals): void {
    if (meta.pid === null || !this.#isAlive(meta)) return;
    try {
      process.kill(meta.pid, signal);
    } catch {
      // Gone meanwhile.
    }
  }

  async #waitGone(meta: VmMeta, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#isAlive(meta)) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  }

  /** QEMU's pid from its pidfile, accepted only when that process is QEMU running this VM's overlay. */
  #fromPidFile(name: string): VmMeta | null {
    const pid = this.#book.pidFile(name);
    if (pid === null) return null;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return null;
    }
    if (!cmdline.includes(this.#book.fileOf(name, 'overlay'))) return null;
    return { runnerId: '', runnerName: name, pool: '', controllerId: this.#options.controllerId, pid, startTicks: readStartTicks(pid), createdAtMs: 0, accel: 'tcg' };
  }

  #isAlive(meta: VmMeta): boolean {
    const pid = meta.pid ?? this.#book.pidFile(meta.runnerName);
    if (pid === null) return false;
    return isProcessAlive(pid, meta.pid === null ? null : meta.startTicks);
  }

  #info(meta: VmMeta): ComputeInfo {
    const isAlive = this.#isAlive(meta);
    const console = isAlive || meta.pid !== null ? readConsole(this.#book.fileOf(meta.runnerName, 'console')) : '';
    if (isAlive && console.includes(RUNNER_ONLINE_MARKER)) this.#online.add(meta.runnerName);
    return {
      computeId: meta.runnerName,
      runnerId: meta.runnerId,
      runnerName: meta.runnerName,
      pool: meta.pool,
      controllerId: meta.controllerId,
      state: isAlive ? 'running' : 'exited',
      exitCode: isAlive ? null : agentExitCode(console),
      isOnline: isAlive && this.#online.has(meta.runnerName),
      createdAtMs: meta.createdAtMs,
    };
  }

  /** One timer for every VM of this controller (its own and adopted ones): pushes exits and "online" as they happen. */
  #ensureWatch(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => this.#tick(), WATCH_INTERVAL_MS);
    this.#timer.unref();
  }

  #tick(): void {
    if (this.#closed) return;
    let anyAlive = false;
    for (const name of this.#book.names()) {
      const meta = this.#book.read(name);
      if (!meta || meta.controllerId !== this.#options.controllerId || meta.pid === null) continue;
      const info = this.#info(meta);
      const isAlive = info.state !== 'exited';
      anyAlive ||= isAlive;
      const before = this.#seen.get(name);
      this.#seen.set(name, { isAlive, isOnline: info.isOnline });
      if (before && before.isAlive === isAlive && before.isOnline === info.isOnline) continue;
      if (!before && isAlive && !info.isOnline) continue;
      if (!isAlive) this.#log.debug({ runnerName: name, exitCode: info.exitCode }, 'vm exited');
      this.#events.emit('change', info);
    }
    if (!anyAlive && this.#timer && this.#events.listenerCount('change') === 0) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}

/** Writes a secret into a new file only its owner can read (O_EXCL: never into something that exists). */
function writeSecretFile(path: string, content: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/** The console's last 64 KiB (where the agent's last line and a fresh runner's "online" line are): bounded work however much the guest printed. */
function readConsole(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = fstatSync(fd);
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The runner's exit code as the guest agent printed it, or null when the VM ended without saying (a failed boot, a crash). */
export function agentExitCode(console: string): number | null {
  let code: number | null = null;
  for (const match of console.matchAll(AGENT_EXIT)) code = Number(match[1]);
  return code;
}
