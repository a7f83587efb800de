import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { JitpoolError, isProcessAlive, isSafeRunnerName, parentPid, readStartTicks, sleep, writeFileAtomic, type Logger } from '../core/index.ts';
import { AGENT_PATH, RUNNER_UID, readImage } from '../images/index.ts';
import { RUNNER_ONLINE_MARKER, runnerEnvironment } from '../runner/index.ts';
import { cgroupExists, cgroupPids, checkCgroups, createCgroup, destroyCgroup, machineCgroup, procsFiles, wasOomKilled, type MachineCgroup } from './nspawn-cgroup.ts';
import { checkPrivateNetwork, createPrivateNetwork, removePrivateNetwork, type PrivateNetwork, type PrivateNetworkOptions } from './nspawn-network.ts';
import { logContains, signalNumber, signalPid, tailFile } from './process-bookkeeping.ts';
import { fillPlaceholders } from './process-provider.ts';
import type { ComputeInfo, ComputeSpec, Provider, ProviderCapabilities } from './types.ts';

const execFileAsync = promisify(execFile);

/** Settings of the nspawn provider (the pool's `provider` block; see config/schema.ts for the defaults). */
export interface NspawnProviderOptions {
  controllerId: string;
  /** An image directory made by `jitpool image build` (manifest.json + rootfs). */
  image: string;
  /** Parent of the per-machine directories (overlay upper/work/root) and of the records in `.jitpool/`. */
  workRoot: string;
  /** `host`: the host's network; `private`: a namespace, veth pair and subnet per machine. */
  network: 'host' | 'private';
  privateNetwork: PrivateNetworkOptions;
  cpus: number;
  memoryMb: number;
  pidsLimit: number;
  /** Extra environment (placeholders like `{runner_name}` are filled in); no secrets (it is on nspawn's command line). */
  env: Record<string, string>;
  /** Seconds between SIGTERM and SIGKILL on delete. */
  killGraceSeconds: number;
  /** @default systemd-nspawn */
  nspawnPath?: string;
  logger: Logger;
}

/** One machine's record, kept in `<workRoot>/.jitpool/<runner>/meta.json` (0700, never inside a machine). */
interface MachineRecord {
  runnerId: string;
  runnerName: string;
  pool: string;
  controllerId: string;
  createdAtMs: number;
  /** `preparing` until nspawn is started (a create that died in between is cleaned up by delete). */
  phase: 'preparing' | 'started';
  /** systemd-nspawn's pid and its kernel start time (pid reuse guard). */
  pid: number;
  startTicks: string | null;
  /** The image root the overlay's lower layer is (resolved at create). */
  lowerDir: string;
  cgroup: MachineCgroup;
  network: PrivateNetwork | null;
}

/** The directory of records under the work root; not a runner name, so never taken for a machine. */
export const NSPAWN_BOOKKEEPING_DIR = '.jitpool';

/** A create that has not started nspawn after this long died half-way. */
const PREPARING_STALE_MS = 120_000;

/** nspawn's own complaint about its propagation directory on a host without systemd; noise in the runner's log. */
const NSPAWN_NOISE = /^Attempted to remove disk file system under "\/run\/systemd\/nspawn\/propagate\/.*$/;

/**
 * Runs each runner as an ephemeral systemd-nspawn machine (seed 004): its root is an overlay whose
 * lower layer is the image's root (never written) and whose upper layer is the machine's own,
 * deleted with it; its processes live in a cgroup of jitpool's with CPU, memory (no swap) and pids
 * limits; with `network: private` it has a namespace, veth pair and subnet of its own. The guest
 * agent is the payload: it reads the JIT config from /run/jitpool/jitconfig — a file in a 0700
 * directory of the controller's, bound into the machine, owned by the runner user and mode 0400 —
 * deletes it and runs the runner as `runner`. The config is never on a command line.
 *
 * nspawn runs with `--keep-unit --register=no`, which works with or without systemd as PID 1 (see
 * nspawn-cgroup.ts for what a systemd host could do instead). Records live outside every machine,
 * so a controller that crashed finds its machines again (`list()`) and adopts them; `delete` stops
 * the payload (SIGTERM, then SIGKILL to every process in the machine's cgroup) and removes the
 * overlay, the cgroup, the network and the records.
 */
export class NspawnProvider implements Provider {
  readonly kind = 'nspawn';
  readonly capabilities: ProviderCapabilities;
  readonly #options: NspawnProviderOptions;
  readonly #bookRoot: string;
  readonly #children = new Map<string, ChildProcess>();
  readonly #online = new Set<string>();
  /** Machines started by an earlier controller that this one watches for their exit. */
  readonly #adopted = new Set<string>();
  readonly #events = new EventEmitter();
  readonly #log: Logger;
  #adoptionTimer: NodeJS.Timeout | null = null;

  constructor(options: NspawnProviderOptions) {
    const workRoot = resolve(options.workRoot);
    // The overlay's mount options are comma- and colon-separated.
    if (/[,:\s]/.test(workRoot)) throw new JitpoolError('JP_CONFIG_INVALID', `nspawn provider: workRoot ${JSON.stringify(workRoot)} may not contain commas, colons or spaces (overlay mount options)`);
    this.#options = { ...options, workRoot };
    this.capabilities = { ownNetwork: options.network === 'private', reportsOnline: true, pushesExit: true };
    this.#bookRoot = join(workRoot, NSPAWN_BOOKKEEPING_DIR);
    this.#log = options.logger.child({ component: 'provider.nspawn' });
  }

  /** Proves machines can start here; JP_PROVIDER_UNAVAILABLE / JP_PROVIDER_IMAGE_MISSING name the fix. */
  async preflight(): Promise<void> {
    if (process.getuid?.() !== 0) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'nspawn provider: systemd-nspawn, overlay mounts and cgroups need root; run jitpool as root (or use the process or docker provider)');
    await execFileAsync(this.#options.nspawnPath ?? 'systemd-nspawn', ['--version'], { timeout: 10_000 }).catch(() => {
      throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'nspawn provider: systemd-nspawn is not installed: apt-get install systemd-container');
    });
    if (!readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n')) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'nspawn provider: the kernel has no overlay filesystem: modprobe overlay');
    checkCgroups();
    if (this.#options.network === 'private') await checkPrivateNetwork(this.#options.privateNetwork);
    readImage(this.#options.image);
  }

  async create(spec: ComputeSpec): Promise<ComputeInfo> {
    if (!isSafeRunnerName(spec.runnerName)) throw new JitpoolError('JP_INPUT_INVALID', `unsafe runner name ${JSON.stringify(spec.runnerName)}`);
    if (spec.controllerId !== this.#options.controllerId) throw new JitpoolError('JP_INPUT_INVALID', `runner ${spec.runnerName} belongs to controller ${spec.controllerId}, not ${this.#options.controllerId}`);
    const existing = this.#read(spec.runnerName);
    if (existing) {
      if (existing.controllerId !== this.#options.controllerId) throw new JitpoolError('JP_PROVIDER_CREATE', `machine ${spec.runnerName} belongs to another controller`, { retryable: false });
      return this.#info(existing);
    }
    const { rootfs } = readImage(this.#options.image);
    const name = spec.runnerName;
    // The record comes first: whatever a crash leaves behind from here on is found and removed by delete.
    const record: MachineRecord = {
      runnerId: spec.runnerId, runnerName: name, pool: spec.pool, controllerId: spec.controllerId, createdAtMs: Date.now(),
      phase: 'preparing', pid: 0, startTicks: null, lowerDir: realpathSync(rootfs), cgroup: machineCgroup(name), network: null,
    };
    mkdirSync(this.#bookRoot, { recursive: true, mode: 0o700 });
    rmSync(this.#bookDir(name), { recursive: true, force: true });
    mkdirSync(join(this.#bookDir(name), 'agent'), { recursive: true, mode: 0o700 });
    await this.#write(record);
    try {
      await this.#mountRoot(record);
      if (this.#options.network === 'private') {
        record.network = await createPrivateNetwork(name, this.#options.privateNetwork);
        await this.#write(record);
      }
      createCgroup(record.cgroup, this.#options);
      this.#writeJitConfig(name, spec.jitConfig);
      const child = await this.#spawn(record, spec);
      record.pid = child.pid!;
      record.startTicks = readStartTicks(child.pid!);
      record.phase = 'started';
      await this.#write(record);
      this.#watch(child, record);
    } catch (err) {
      await this.delete(name).catch((cleanupErr: unknown) => {
        this.#log.warn({ runnerName: name, err: (cleanupErr as Error).message }, 'could not undo a failed create; reconcile will retry');
      });
      throw err instanceof JitpoolError ? err : new JitpoolError('JP_PROVIDER_CREATE', `could not start machine ${name}: ${(err as Error).message}`, { cause: err });
    }
    this.#log.debug({ runnerName: name, pool: spec.pool, network: record.network?.subnet ?? 'host' }, 'machine started');
    return this.#info(record);
  }

  async delete(computeId: string): Promise<void> {
    if (!isSafeRunnerName(computeId)) return;
    const record = this.#read(computeId);
    if (!record || record.controllerId !== this.#options.controllerId) return;
    await this.#stop(record);
    await destroyCgroup(record.cgroup);
    await this.#unmountRoot(computeId);
    if (record.network || this.#options.network === 'private') await removePrivateNetwork(computeId);
    this.#children.delete(computeId);
    this.#online.delete(computeId);
    this.#adopted.delete(computeId);
    rmSync(this.#machineDir(computeId), { recursive: true, force: true, maxRetries: 3 });
    // nspawn leaves its (empty) mount propagation directory behind when there is no systemd to clean it.
    rmSync(`/run/systemd/nspawn/propagate/${computeId}`, { recursive: true, force: true });
    rmSync(this.#bookDir(computeId), { recursive: true, force: true, maxRetries: 3 });
  }

  async list(): Promise<ComputeInfo[]> {
    const out: ComputeInfo[] = [];
    for (const name of this.#names()) {
      const record = this.#read(name);
      if (record && record.controllerId === this.#options.controllerId) out.push(this.#info(record));
    }
    return out;
  }

  async inspect(computeId: string): Promise<ComputeInfo | null> {
    if (!isSafeRunnerName(computeId)) return null;
    const record = this.#read(computeId);
    if (!record || record.controllerId !== this.#options.controllerId) return null;
    return this.#info(record);
  }

  async logs(computeId: string, lines: number): Promise<string> {
    if (!isSafeRunnerName(computeId)) return '';
    const record = this.#read(computeId);
    if (!record || record.controllerId !== this.#options.controllerId) return '';
    const text = (await tailFile(this.#logPath(computeId), lines + 2)).split('\n').filter((line) => !NSPAWN_NOISE.test(line)).slice(-lines).join('\n');
    // The kernel's OOM kill leaves no line of its own: say it, or exit code 137 stays a riddle.
    const note = cgroupExists(record.cgroup) && wasOomKilled(record.cgroup) ? `[jitpool] machine process killed: out of memory (limit ${this.#options.memoryMb} MiB, no swap)` : '';
    return [text, note].filter((part) => part !== '').join('\n');
  }

  onChange(listener: (info: ComputeInfo) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async close(): Promise<void> {
    this.#events.removeAllListeners();
    if (this.#adoptionTimer) clearInterval(this.#adoptionTimer);
    this.#adoptionTimer = null;
  }

  async #mountRoot(record: MachineRecord): Promise<void> {
    const dir = this.#machineDir(record.runnerName);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The upper layer's root becomes the machine's `/` (its mode too); the 0700 machine dir keeps host users out.
    for (const sub of ['upper', 'work', 'root']) mkdirSync(join(dir, sub), { mode: 0o755 });
    const options = `lowerdir=${record.lowerDir},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`;
    await execFileAsync('mount', ['-t', 'overlay', 'overlay', '-o', options, join(dir, 'root')], { timeout: 30_000 }).catch((err: unknown) => {
      throw new JitpoolError('JP_PROVIDER_CREATE', `could not mount the overlay root of ${record.runnerName}: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`, { cause: err });
    });
  }

  async #unmountRoot(name: string): Promise<void> {
    const root = join(this.#machineDir(name), 'root');
    for (let attempt = 0; isMounted(root); attempt++) {
      // A lazy unmount as the last resort: the mount is gone from the tree at once, freed when its last user exits.
      const args = attempt < 20 ? [root] : ['-l', root];
      try {
        await execFileAsync('umount', args, { timeout: 30_000 });
      } catch (err) {
        if (attempt >= 20) throw new JitpoolError('JP_PROVIDER_DELETE', `could not unmount ${root}: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`, { cause: err });
        await sleep(100);
      }
    }
  }

  /** The JIT config, readable only by the runner user inside the machine (and by root). */
  #writeJitConfig(name: string, jitConfig: string): void {
    const agentDir = join(this.#bookDir(name), 'agent');
    const file = join(agentDir, 'jitconfig');
    writeFileSync(file, jitConfig, { mode: 0o400, flag: 'wx' });
    chownSync(file, RUNNER_UID, RUNNER_UID);
    // Inside the machine /run/jitpool is root's: the runner user can read its file but not write an exit code.
    chownSync(agentDir, 0, 0);
    chmodSync(agentDir, 0o755);
  }

  async #spawn(record: MachineRecord, spec: ComputeSpec): Promise<ChildProcess> {
    const name = record.runnerName;
    // The environment without the JIT config: these values are on nspawn's command line.
    const env = { ...runnerEnvironment({ runnerName: name, extra: fillPlaceholders(this.#options.env, spec.context) }), JITPOOL_AGENT_POWEROFF: '0' };
    const args = [
      // The agent is the machine's PID 1 (not --as-pid2: nspawn's stub init ends at once on a halt,
      // SIGKILLing the runner mid-job). With --kill-signal=SIGTERM a SIGTERM to nspawn reaches the
      // agent, which passes it on to the runner and exits with the runner's code.
      '--quiet', '--keep-unit', '--register=no', '--console=pipe',
      `--machine=${name}`, `--directory=${join(this.#machineDir(name), 'root')}`,
      `--bind=${join(this.#bookDir(name), 'agent')}:/run/jitpool`,
      '--resolv-conf=copy-host', '--timezone=off', '--kill-signal=SIGTERM',
      // No setuid binary of the image lifts the job (the unprivileged runner user) back to root.
      '--no-new-privileges=yes',
      ...(record.network ? [`--network-namespace-path=/run/netns/${record.network.netns}`] : []),
      ...Object.entries(env).map(([key, value]) => `--setenv=${key}=${value}`),
      AGENT_PATH,
    ];
    const logFd = openSync(this.#logPath(name), 'a', 0o600);
    try {
      // The launcher joins the machine's cgroups before it becomes nspawn, so every process of the machine is limited and findable.
      const launcher = 'for f in $JP_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; exec "$@"';
      const child = spawn('/bin/sh', ['-c', launcher, 'jitpool-nspawn', this.#options.nspawnPath ?? 'systemd-nspawn', ...args], {
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', JP_CGROUP_PROCS: procsFiles(record.cgroup).join(' ') },
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
      await new Promise<void>((resolveSpawn, reject) => {
        child.once('spawn', () => resolveSpawn());
        child.once('error', (err) => reject(new JitpoolError('JP_PROVIDER_CREATE', `could not start systemd-nspawn: ${err.message}`, { retryable: false })));
      });
      // Resolve once the launcher is in the machine's cgroup: from then on every process of the machine is found there.
      const deadline = Date.now() + 10_000;
      while (!cgroupPids(record.cgroup).includes(child.pid!) && child.exitCode === null && child.signalCode === null) {
        if (Date.now() > deadline) throw new JitpoolError('JP_PROVIDER_CREATE', `the launcher of ${name} did not join its cgroup ${record.cgroup.dirs[0]}`);
        await sleep(10);
      }
      return child;
    } finally {
      closeSync(logFd);
    }
  }

  #watch(child: ChildProcess, record: MachineRecord): void {
    const name = record.runnerName;
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      this.#children.delete(name);
      const exitCode = code ?? (signal ? 128 + signalNumber(signal) : null);
      try {
        writeFileSync(join(this.#bookDir(name), 'exit'), String(exitCode ?? ''), { mode: 0o600 });
      } catch {
        // Deleted meanwhile.
      }
      this.#log.debug({ runnerName: name, exitCode }, 'machine exited');
      const current = this.#read(name);
      if (current) this.#events.emit('change', this.#info(current));
    };
    child.unref();
    if (child.exitCode !== null || child.signalCode !== null) {
      queueMicrotask(() => onExit(child.exitCode, child.signalCode));
      return;
    }
    this.#children.set(name, child);
    child.once('exit', onExit);
  }

  /** SIGTERM to nspawn (which passes it to the machine: the agent forwards it to the runner), SIGKILL to everything after the grace period. */
  async #stop(record: MachineRecord): Promise<void> {
    if (!this.#isAlive(record)) return;
    if (record.pid > 0 && isProcessAlive(record.pid, record.startTicks)) signalPid(record.pid, 'SIGTERM');
    const deadline = Date.now() + this.#options.killGraceSeconds * 1000;
    for (let tick = 1; this.#isAlive(record) && Date.now() < deadline; tick++) {
      await sleep(50);
      // A SIGTERM that reached the machine before the agent set its trap was ignored (an init
      // ignores signals it has no handler for). Repeat it to the machine's PID 1 itself, never to
      // nspawn: a second SIGTERM there would kill the machine at once.
      if (tick % 10 === 0) for (const pid of cgroupPids(record.cgroup)) if (pid !== record.pid && parentPid(pid) === record.pid) signalPid(pid, 'SIGTERM');
    }
    // Whatever is left (nspawn itself, or processes a killed nspawn left behind) dies with the cgroup.
  }

  #isAlive(record: MachineRecord): boolean {
    return this.#children.has(record.runnerName) || (record.pid > 0 && isProcessAlive(record.pid, record.startTicks)) || cgroupPids(record.cgroup).length > 0;
  }

  #info(record: MachineRecord): ComputeInfo {
    const name = record.runnerName;
    const alive = this.#isAlive(record);
    const preparing = record.phase === 'preparing' && Date.now() - record.createdAtMs < PREPARING_STALE_MS;
    if (alive && !this.#children.has(name)) this.#adopt(name);
    if (alive && !this.#online.has(name) && logContains(this.#logPath(name), RUNNER_ONLINE_MARKER)) this.#online.add(name);
    return {
      computeId: name,
      runnerId: record.runnerId,
      runnerName: name,
      pool: record.pool,
      controllerId: record.controllerId,
      state: alive ? 'running' : preparing ? 'starting' : 'exited',
      exitCode: alive || preparing ? null : this.#exitCode(name),
      isOnline: alive && this.#online.has(name),
      createdAtMs: record.createdAtMs,
    };
  }

  /** nspawn's exit code as this controller saw it, else the one the agent wrote (it survives a controller crash). */
  #exitCode(name: string): number | null {
    for (const file of [join(this.#bookDir(name), 'exit'), join(this.#bookDir(name), 'agent', 'exit-code')]) {
      try {
        const text = readFileSync(file, 'utf8').trim();
        if (/^\d+$/.test(text)) return Number(text);
      } catch {
        // Not written.
      }
    }
    return null;
  }

  /** Watches a machine this controller did not start (found after a restart) so its exit is pushed too. */
  #adopt(name: string): void {
    if (this.#adopted.has(name)) return;
    this.#adopted.add(name);
    this.#adoptionTimer ??= setInterval(() => {
      for (const adopted of this.#adopted) {
        const record = this.#read(adopted);
        if (record && this.#isAlive(record)) continue;
        this.#adopted.delete(adopted);
        if (record) this.#events.emit('change', this.#info(record));
      }
      if (this.#adopted.size === 0 && this.#adoptionTimer) {
        clearInterval(this.#adoptionTimer);
        this.#adoptionTimer = null;
      }
    }, 1000);
    this.#adoptionTimer.unref();
  }

  #read(name: string): MachineRecord | null {
    try {
      return JSON.parse(readFileSync(join(this.#bookDir(name), 'meta.json'), 'utf8')) as MachineRecord;
    } catch {
      return null;
    }
  }

  async #write(record: MachineRecord): Promise<void> {
    await writeFileAtomic(join(this.#bookDir(record.runnerName), 'meta.json'), JSON.stringify(record), 0o600);
  }

  #names(): string[] {
    try {
      return readdirSync(this.#bookRoot).filter(isSafeRunnerName);
    } catch {
      return [];
    }
  }

  #machineDir(name: string): string {
    return join(this.#options.workRoot, name);
  }

  #bookDir(name: string): string {
    return join(this.#bookRoot, name);
  }

  #logPath(name: string): string {
    return join(this.#bookDir(name), 'console.log');
  }
}

function isMounted(path: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === path);
  } catch {
    return false;
  }
}
