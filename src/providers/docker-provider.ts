import Docker from 'dockerode';
import { JitpoolError, isSafeRunnerName, sleep, type Logger } from '../core/index.ts';
import { DOCKER_LABELS, DockerEngineWatch, demuxDockerLogs, describeEndpoint, dockerError, dockerMessage, dockerOptions, dockerStatus, type DockerEndpoint } from './docker-engine.ts';
import { pickSubnet } from './docker-network.ts';
import { fillPlaceholders } from './process-provider.ts';
import { runnerEnvironment } from '../runner/index.ts';
import type { ComputeInfo, ComputeSpec, ComputeState, Provider, ProviderCapabilities } from './types.ts';

/** Settings of the Docker provider (the pool's `provider` block, see config/schema.ts for each field's default). */
export interface DockerProviderOptions {
  controllerId: string;
  endpoint: DockerEndpoint;
  image: string;
  pullPolicy: 'missing' | 'never' | 'always';
  /** Replaces the image's CMD (seed 003's RUNNER_COMMAND). */
  command?: string[];
  env: Record<string, string>;
  cpus: number;
  memoryMb: number;
  pidsLimit: number;
  /** "" keeps the image's USER. */
  user: string;
  cacheVolumes: Array<{ name: string; target: string; readOnly: boolean }>;
  mounts: Array<{ source: string; target: string; readOnly: boolean }>;
  dockerInDocker: boolean;
  network: { subnetPool: string; prefixLength: number };
  killGraceSeconds: number;
  apiTimeoutSeconds: number;
  logger: Logger;
}

const CPU_PERIOD_US = 100_000;
const SUBNET_ATTEMPTS = 8;

/**
 * One container per runner on a Docker engine (seeds 003 and 004): named after the runner,
 * labelled with controller, pool and runner id, on its own bridge network with its own subnet,
 * with a CPU quota, a memory limit without swap and a pids limit, as a non-root user. The JIT
 * config goes through the environment, never the command line. Exits are seen at once from
 * Docker's event stream; the controller's periodic `list()` is the backstop.
 *
 * The compute id is the runner name (container and network share it), so a controller that
 * crashed between creating and recording finds everything again by name and by label.
 */
export class DockerProvider implements Provider {
  readonly kind = 'docker';
  readonly capabilities: ProviderCapabilities = { ownNetwork: true, reportsOnline: true, pushesExit: true };
  readonly #options: DockerProviderOptions;
  readonly #docker: Docker;
  readonly #watch: DockerEngineWatch;
  readonly #log: Logger;
  readonly #unsubscribers: Array<() => void> = [];
  #pool: string | null = null;
  #closed = false;

  constructor(options: DockerProviderOptions) {
    this.#options = options;
    // Long enough for `docker stop` to wait out the grace period.
    const timeoutMs = Math.max(options.apiTimeoutSeconds, options.killGraceSeconds + 30) * 1000;
    this.#docker = new Docker(dockerOptions(options.endpoint, timeoutMs));
    this.#watch = DockerEngineWatch.acquire(options.endpoint, options.controllerId, options.logger);
    this.#log = options.logger.child({ component: 'provider.docker' });
  }

  async create(spec: ComputeSpec): Promise<ComputeInfo> {
    if (!isSafeRunnerName(spec.runnerName)) throw new JitpoolError('JP_INPUT_INVALID', `unsafe runner name ${JSON.stringify(spec.runnerName)}`);
    if (spec.controllerId !== this.#options.controllerId) throw new JitpoolError('JP_INPUT_INVALID', `runner ${spec.runnerName} belongs to controller ${spec.controllerId}, not ${this.#options.controllerId}`);
    this.#pool ??= spec.pool;
    // Idempotent: a container of that name (from an earlier call) is the answer, whatever its state.
    const existing = await ignore404(this.#docker.getContainer(spec.runnerName).inspect()).catch(() => null);
    if (existing) {
      if (!this.#isOurs(existing.Config.Labels)) throw new JitpoolError('JP_PROVIDER_CREATE', `a container named ${spec.runnerName} exists and is not this controller's`);
      const state = computeState(existing.State.Status);
      return this.#info(spec.runnerName, existing.Config.Labels, state, state === 'exited' ? existing.State.ExitCode : null, Date.parse(existing.Created));
    }
    await this.#ensureImage();
    const labels = {
      [DOCKER_LABELS.controller]: spec.controllerId,
      [DOCKER_LABELS.pool]: spec.pool,
      [DOCKER_LABELS.runnerId]: spec.runnerId,
      [DOCKER_LABELS.runnerName]: spec.runnerName,
      [DOCKER_LABELS.createdAtMs]: String(Date.now()),
    };
    try {
      await this.#createNetwork(spec.runnerName, labels);
      const container = await this.#docker.createContainer(this.#containerSpec(spec, labels)).catch((err: unknown) => {
        throw dockerError(err, 'JP_PROVIDER_CREATE', `could not create container ${spec.runnerName}`, this.#options.endpoint);
      });
      await container.start().catch((err: unknown) => {
        throw dockerError(err, 'JP_PROVIDER_CREATE', `could not start container ${spec.runnerName}`, this.#options.endpoint);
      });
    } catch (err) {
      // Never leave a network (or a dead container) behind a failed create.
      await this.delete(spec.runnerName).catch((cleanupErr: unknown) => {
        this.#log.warn({ runnerName: spec.runnerName, err: dockerMessage(cleanupErr) }, 'could not undo a failed create; reconcile will retry');
      });
      throw err;
    }
    this.#watch.follow(spec.runnerName, spec.pool);
    this.#log.debug({ runnerName: spec.runnerName, pool: spec.pool }, 'container started');
    const info = await this.inspect(spec.runnerName);
    if (!info) throw new JitpoolError('JP_PROVIDER_CREATE', `container ${spec.runnerName} vanished right after it started`);
    return info;
  }

  async delete(computeId: string): Promise<void> {
    if (!isSafeRunnerName(computeId)) return;
    const container = this.#docker.getContainer(computeId);
    const details = await ignore404(container.inspect());
    if (details && this.#isOurs(details.Config.Labels)) {
      if (details.State.Running) {
        await ignoreStatus(container.stop({ t: this.#options.killGraceSeconds }), [304, 404]).catch((err: unknown) => {
          throw dockerError(err, 'JP_PROVIDER_DELETE', `could not stop container ${computeId}`, this.#options.endpoint);
        });
      }
      await this.#removeContainer(container, computeId);
    }
    await this.#removeNetwork(computeId);
    this.#watch.forget(computeId);
  }

  async list(): Promise<ComputeInfo[]> {
    const filters = JSON.stringify({ label: [`${DOCKER_LABELS.controller}=${this.#options.controllerId}`] });
    let containers: Docker.ContainerInfo[];
    let networks: Docker.NetworkInspectInfo[];
    try {
      [containers, networks] = await Promise.all([this.#docker.listContainers({ all: true, filters }), this.#docker.listNetworks({ filters })]);
    } catch (err) {
      throw dockerError(err, 'JP_PROVIDER_CREATE', 'could not list containers', this.#options.endpoint);
    }
    const out: ComputeInfo[] = [];
    const withContainer = new Set<string>();
    for (const container of containers) {
      const name = (container.Names[0] ?? '').replace(/^\//, '');
      if (!this.#isOurs(container.Labels) || !isSafeRunnerName(name)) continue;
      withContainer.add(name);
      const state = computeState(container.State);
      let exitCode: number | null = null;
      if (state === 'exited') exitCode = this.#watch.exitCode(name) ?? (await this.#inspectExitCode(name));
      if (state === 'running') this.#watch.follow(name, container.Labels[DOCKER_LABELS.pool] ?? '');
      out.push(this.#info(name, container.Labels, state, exitCode, container.Created * 1000));
    }
    // A network without its container: a create that died half-way, or a delete that did. Reported
    // as exited compute so the planner cleans it up (or removes it as an orphan).
    for (const network of networks) {
      if (withContainer.has(network.Name) || !this.#isOurs(network.Labels) || !isSafeRunnerName(network.Name)) continue;
      out.push(this.#info(network.Name, network.Labels ?? {}, 'exited', null, Date.parse(network.Created)));
    }
    return out;
  }

  async inspect(computeId: string): Promise<ComputeInfo | null> {
    if (!isSafeRunnerName(computeId)) return null;
    const details = await ignore404(this.#docker.getContainer(computeId).inspect()).catch((err: unknown) => {
      throw dockerError(err, 'JP_PROVIDER_CREATE', `could not inspect container ${computeId}`, this.#options.endpoint);
    });
    if (details) {
      if (!this.#isOurs(details.Config.Labels)) return null;
      const state = computeState(details.State.Status);
      return this.#info(computeId, details.Config.Labels, state, state === 'exited' ? details.State.ExitCode : null, Date.parse(details.Created));
    }
    const network = await ignore404(this.#docker.getNetwork(computeId).inspect() as Promise<Docker.NetworkInspectInfo>).catch(() => null);
    if (network && this.#isOurs(network.Labels)) return this.#info(computeId, network.Labels ?? {}, 'exited', null, Date.parse(network.Created));
    return null;
  }

  async logs(computeId: string, lines: number): Promise<string> {
    if (!isSafeRunnerName(computeId)) return '';
    const container = this.#docker.getContainer(computeId);
    const details = await ignore404(container.inspect()).catch(() => null);
    if (!details || !this.#isOurs(details.Config.Labels)) return '';
    const read = async (): Promise<string> => {
      const raw = (await container.logs({ stdout: true, stderr: true, follow: false, tail: lines })) as unknown as Buffer;
      return demuxDockerLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).replace(/\n$/, '');
    };
    let text = await read();
    // dockerd emits `die` after waiting at most 2 s for the log copier; on a loaded host the
    // output of a container that just died can land a moment later. Give it that moment.
    const finishedAtMs = Date.parse(details.State.FinishedAt);
    for (let attempt = 0; text === '' && !details.State.Running && Date.now() - finishedAtMs < 10_000 && attempt < 15; attempt += 1) {
      await sleep(200);
      text = await read();
    }
    // The kernel's OOM kill leaves no line of its own: say it, or exit code 137 stays a riddle.
    const note = details.State.OOMKilled ? `[jitpool] container killed: out of memory (limit ${this.#options.memoryMb} MiB, no swap)` : '';
    return [text, note].filter((part) => part !== '').join('\n');
  }

  onChange(listener: (info: ComputeInfo) => void): () => void {
    const unsubscribe = this.#watch.onChange(({ name, pool }) => {
      // Each pool's provider reports its own containers; an empty name means "events were missed".
      if (name !== '' && this.#pool !== null && pool !== this.#pool) return;
      if (name === '') {
        void this.list().then(
          (infos) => infos.filter((info) => this.#pool === null || info.pool === this.#pool).forEach((info) => !this.#closed && listener(info)),
          () => undefined,
        );
        return;
      }
      void this.inspect(name).then(
        (info) => info && !this.#closed && listener(info),
        () => undefined,
      );
    });
    this.#unsubscribers.push(unsubscribe);
    return unsubscribe;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
    this.#watch.release();
  }

  /** Binds this provider's change events to one pool (the pool it serves). */
  servePool(pool: string): this {
    this.#pool = pool;
    return this;
  }

  #isOurs(labels: Record<string, string> | null | undefined): boolean {
    return labels?.[DOCKER_LABELS.controller] === this.#options.controllerId;
  }

  #info(name: string, labels: Record<string, string>, state: ComputeState, exitCode: number | null, fallbackCreatedAtMs: number): ComputeInfo {
    const createdAtMs = Number(labels[DOCKER_LABELS.createdAtMs]);
    return {
      computeId: name,
      runnerId: labels[DOCKER_LABELS.runnerId] ?? '',
      runnerName: labels[DOCKER_LABELS.runnerName] ?? name,
      pool: labels[DOCKER_LABELS.pool] ?? '',
      controllerId: this.#options.controllerId,
      state,
      exitCode,
      isOnline: state === 'running' && this.#watch.isOnline(name),
      createdAtMs: Number.isFinite(createdAtMs) ? createdAtMs : fallbackCreatedAtMs,
    };
  }

  async #inspectExitCode(name: string): Promise<number | null> {
    const details = await ignore404(this.#docker.getContainer(name).inspect()).catch(() => null);
    return details && computeState(details.State.Status) === 'exited' ? details.State.ExitCode : null;
  }

  #containerSpec(spec: ComputeSpec, labels: Record<string, string>): Docker.ContainerCreateOptions {
    const o = this.#options;
    const memoryBytes = o.memoryMb * 1024 * 1024;
    const env = runnerEnvironment({ runnerName: spec.runnerName, jitConfig: spec.jitConfig, extra: fillPlaceholders(o.env, spec.context) });
    return {
      name: spec.runnerName,
      Image: o.image,
      ...(o.command ? { Cmd: o.command } : {}),
      Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
      Labels: labels,
      ...(o.user !== '' ? { User: o.user } : {}),
      StopTimeout: o.killGraceSeconds,
      HostConfig: {
        NetworkMode: spec.runnerName,
        CpuPeriod: CPU_PERIOD_US,
        CpuQuota: Math.round(o.cpus * CPU_PERIOD_US),
        Memory: memoryBytes,
        // Equal to Memory: no swap (seed 004), so a job that outgrows its memory fails instead of thrashing the host.
        MemorySwap: memoryBytes,
        PidsLimit: o.pidsLimit,
        Privileged: o.dockerInDocker,
        // no-new-privileges stops setuid escalation; Docker-in-Docker needs it off (and is privileged anyway).
        SecurityOpt: o.dockerInDocker ? [] : ['no-new-privileges:true'],
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '1' } },
        Mounts: [
          ...o.cacheVolumes.map((volume) => ({ Type: 'volume' as const, Source: volume.name, Target: volume.target, ReadOnly: volume.readOnly })),
          ...o.mounts.map((mount) => ({ Type: 'bind' as const, Source: mount.source, Target: mount.target, ReadOnly: mount.readOnly })),
        ],
      },
    };
  }

  async #ensureImage(): Promise<void> {
    const { image, pullPolicy, endpoint } = this.#options;
    if (pullPolicy !== 'always') {
      const present = await ignore404(this.#docker.getImage(image).inspect()).catch((err: unknown) => {
        throw dockerError(err, 'JP_PROVIDER_CREATE', `could not inspect image ${image}`, endpoint);
      });
      if (present) return;
      if (pullPolicy === 'never') throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `image ${JSON.stringify(image)} is not on the Docker engine at ${describeEndpoint(endpoint)} (pullPolicy: never)`);
    }
    try {
      const stream = await this.#docker.pull(image);
      await new Promise<void>((resolve, reject) => {
        this.#docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string }>) => {
          const failed = err ?? output.find((entry) => entry.error)?.error;
          if (failed) reject(failed instanceof Error ? failed : new Error(failed));
          else resolve();
        });
      });
    } catch (err) {
      if (dockerStatus(err) === null && !(err instanceof Error && /pull|manifest|denied|not found/i.test(err.message))) {
        throw dockerError(err, 'JP_PROVIDER_CREATE', `could not pull image ${image}`, endpoint);
      }
      throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `image ${JSON.stringify(image)} could not be pulled: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async #createNetwork(name: string, labels: Record<string, string>): Promise<void> {
    const { network, endpoint } = this.#options;
    // Subnets the engine refused as overlapping although no listed network holds them (another
    // client's network being created, or one just removed whose address pool is not released yet).
    const refused = new Set<string>();
    for (let attempt = 0; attempt < SUBNET_ATTEMPTS; attempt += 1) {
      const existing = await ignore404(this.#docker.getNetwork(name).inspect() as Promise<Docker.NetworkInspectInfo>);
      if (existing) {
        if (!this.#isOurs(existing.Labels)) throw new JitpoolError('JP_PROVIDER_CREATE', `a network named ${name} exists and is not this controller's`);
        return;
      }
      const all = await this.#docker.listNetworks();
      const used = [...all.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '')), ...this.#watch.reservedSubnets, ...refused];
      const subnet = pickSubnet(network.subnetPool, network.prefixLength, used);
      if (!subnet) throw new JitpoolError('JP_PROVIDER_CREATE', `no free /${network.prefixLength} subnet left in ${network.subnetPool} (network.subnetPool)`, { retryable: true });
      this.#watch.reservedSubnets.add(subnet);
      try {
        await this.#docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: labels,
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
        });
        return;
      } catch (err) {
        // Another controller (or a pool racing this one) took the subnet between list and create: pick again.
        if (/overlap/i.test(dockerMessage(err))) {
          refused.add(subnet);
          continue;
        }
        throw dockerError(err, 'JP_PROVIDER_CREATE', `could not create network ${name} (${subnet})`, endpoint);
      } finally {
        this.#watch.reservedSubnets.delete(subnet);
      }
    }
    throw new JitpoolError('JP_PROVIDER_CREATE', `could not find a free subnet for ${name} after ${SUBNET_ATTEMPTS} attempts (network.subnetPool ${network.subnetPool})`);
  }

  async #removeContainer(container: Docker.Container, name: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await ignore404(container.remove({ force: true, v: true }));
        return;
      } catch (err) {
        // 409: "removal already in progress" (a concurrent delete); wait for it to finish.
        if (dockerStatus(err) === 409 && attempt < 20) {
          await sleep(250);
          if (!(await ignore404(container.inspect()))) return;
          continue;
        }
        throw dockerError(err, 'JP_PROVIDER_DELETE', `could not remove container ${name}`, this.#options.endpoint);
      }
    }
  }

  async #removeNetwork(name: string): Promise<void> {
    const network = this.#docker.getNetwork(name);
    for (let attempt = 0; ; attempt += 1) {
      const details = await ignore404(network.inspect() as Promise<Docker.NetworkInspectInfo>).catch((err: unknown) => {
        throw dockerError(err, 'JP_PROVIDER_DELETE', `could not inspect network ${name}`, this.#options.endpoint);
      });
      if (!details || !this.#isOurs(details.Labels)) return;
      try {
        await ignore404(network.remove());
        return;
      } catch (err) {
        // "has active endpoints": the container's removal is still being processed by the engine.
        if (attempt < 20 && /active endpoints/i.test(dockerMessage(err))) {
          await sleep(250);
          continue;
        }
        throw dockerError(err, 'JP_PROVIDER_DELETE', `could not remove network ${name}`, this.#options.endpoint);
      }
    }
  }
}

function computeState(status: string): ComputeState {
  if (status === 'created') return 'starting';
  if (status === 'exited' || status === 'dead' || status === 'removing') return 'exited';
  return 'running';
}

async function ignore404<T>(promise: Promise<T>): Promise<T | null> {
  return ignoreStatus(promise, [404]);
}

async function ignoreStatus<T>(promise: Promise<T>, statuses: number[]): Promise<T | null> {
  try {
    return await promise;
  } catch (err) {
    const status = dockerStatus(err);
    if (status !== null && statuses.includes(status)) return null;
    throw err;
  }
}
