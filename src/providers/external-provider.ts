import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { JitpoolError, assertSafeLabels, describeError, isSafeRunnerName, redact, sleep, type Logger } from '../core/index.ts';
import { RUNNER_EXIT } from '../runner/index.ts';
import { runProviderCommand, type CommandResult } from './external-command.ts';
import { assertSafeBootstrap, buildBootstrap, registrationUrl, serviceName } from './external-bootstrap.ts';
import { MetadataService, type InstanceReport } from './external-metadata.ts';
import { startMetadataServer, type MetadataListenOptions, type MetadataServer } from './external-metadata-server.ts';
import {
  GARM_COMMANDS, GARM_EXIT, providerInstanceListSchema, providerInstanceSchema,
  type GarmCommand, type GarmInterfaceVersion, type ProviderInstance, type RunnerTool,
} from './external-protocol.ts';
import { ExternalRecords, type ExternalRecord } from './external-records.ts';
import type { ComputeInfo, ComputeSpec, Provider, ProviderCapabilities } from './types.ts';

/** Settings of the external provider (from the pool's `provider` block, docs/providers/external.md). */
export interface ExternalProviderOptions {
  controllerId: string;
  pool: string;
  /** The operator's executable (a garm provider binary or a script), run with no arguments. */
  executable: string;
  /** `GARM_PROVIDER_CONFIG_FILE`: the provider's own configuration. */
  configFile: string;
  /** `GARM_INTERFACE_VERSION`. @default v0.1.1 */
  interfaceVersion?: GarmInterfaceVersion;
  /** Extra environment for the executable (no secrets: the provider's own config file holds its credentials). */
  env?: Record<string, string>;
  /** Hard deadlines per operation. */
  timeouts: { createMs: number; deleteMs: number; queryMs: number };
  /** Between SIGTERM and SIGKILL of a command's process group at its deadline. @default 5000 */
  killGraceMs?: number;
  /** Further attempts of a failed query or delete (never of a create: the controller retries those). @default 2 */
  retries?: number;
  /** Where this provider keeps its (secret-free) records of instances. */
  recordDir: string;
  /** The listener instances call back to, and how long an instance token lives. */
  metadata: MetadataListenOptions & { tokenTtlMs: number };
  /** What CreateInstance's bootstrap parameters carry besides the instance. */
  bootstrap?: { image?: string; flavor?: string; extraSpecs?: Record<string, unknown>; osType?: string; arch?: string; tools?: RunnerTool[]; sshKeys?: string[] };
  /** The PATH the executable sees. @default process.env.PATH */
  path?: string;
  logger: Logger;
}

/**
 * Runs the operator's own command for each runner, speaking garm's external-provider protocol
 * (external-protocol.ts), so garm's providers (LXD, Incus, OpenStack, the clouds) and an
 * operator's script plug in unchanged. The JIT config never goes to the command: CreateInstance
 * gets a metadata URL and a per-instance token on stdin, and the booted instance fetches its
 * registration files from the listener this provider runs (external-metadata.ts). Every command
 * has a hard deadline (its process group is killed), its output is validated, and a failure is
 * recorded on the instance's record and thrown, never swallowed. Deleting only ever deletes: the
 * controller's teardown deregisters the runner from GitHub first.
 */
export class ExternalProvider implements Provider {
  readonly kind = 'external';
  // ownNetwork: whether the operator's machines get one is theirs to know, not jitpool's to promise.
  readonly capabilities: ProviderCapabilities = { ownNetwork: false, reportsOnline: true, pushesExit: false };
  readonly #options: ExternalProviderOptions;
  readonly #records: ExternalRecords;
  readonly #metadata: MetadataService;
  readonly #events = new EventEmitter();
  #server: Promise<MetadataServer> | null = null;

  constructor(options: ExternalProviderOptions) {
    this.#options = options;
    this.#records = new ExternalRecords(options.recordDir);
    this.#metadata = new MetadataService({
      onReport: (name, report) => this.#onReport(name, report),
      onRefused: (reason, name) => options.logger.warn({ component: 'provider.external', pool: options.pool, runnerName: name, reason }, 'instance request refused'),
    });
  }

  /** The listener's base URL once it is up (tests, status). */
  async metadataUrl(): Promise<string> {
    return (await this.#listener()).url;
  }

  /** The metadata service itself (tests drive it without HTTP). */
  get metadataService(): MetadataService {
    return this.#metadata;
  }

  /** Proves the listener binds, the executable runs, and (v0.1.1) that it speaks the configured interface version. */
  async preflight(): Promise<void> {
    await this.#listener();
    const version = await this.#run(GARM_COMMANDS.version, {}, this.#options.timeouts.queryMs);
    if (version.exitCode !== 0) throw this.#failure('JP_PROVIDER_UNAVAILABLE', GARM_COMMANDS.version, version);
    const wanted = this.#options.interfaceVersion ?? 'v0.1.1';
    if (wanted === 'v0.1.0') return;
    // GetSupportedInterfaceVersions is itself part of v0.1.1: a provider that does not know it speaks v0.1.0 only.
    const result = await this.#run(GARM_COMMANDS.interfaceVersions, {}, this.#options.timeouts.queryMs);
    const parsed = result.exitCode === 0 ? z.array(z.string()).safeParse(safeJson(result.stdout)) : null;
    const supported = parsed?.success ? parsed.data : ['v0.1.0'];
    if (!supported.includes(wanted)) {
      throw new JitpoolError('JP_CONFIG_INVALID', `${this.#options.executable} speaks interface ${supported.join(', ')}, not ${wanted}: set provider.interfaceVersion to one of those`);
    }
  }

  async create(spec: ComputeSpec): Promise<ComputeInfo> {
    if (!isSafeRunnerName(spec.runnerName)) throw new JitpoolError('JP_INPUT_INVALID', `unsafe runner name ${JSON.stringify(spec.runnerName)}`);
    assertSafeLabels(spec.labels, `runner ${spec.runnerName}`);
    const existing = this.#records.read(spec.runnerName);
    if (existing && existing.controllerId !== this.#options.controllerId) throw new JitpoolError('JP_PROVIDER_CREATE', `${spec.runnerName} belongs to another controller`, { retryable: false });
    if (existing) {
      const instance = await this.#get(existing);
      if (instance) return this.#info(existing, instance);
    }
    // The record (and its attempt number) is written before the command runs: a crash at any line leaves a findable instance.
    const record: ExternalRecord = {
      runnerId: spec.runnerId, runnerName: spec.runnerName, pool: spec.pool, controllerId: spec.controllerId, createdAtMs: Date.now(),
      createAttempt: (existing?.createAttempt ?? 0) + 1, providerId: null, reportedStatus: 'pending', lastError: null,
    };
    this.#records.write(record);
    const server = await this.#listener();
    const token = this.#metadata.register({
      name: spec.runnerName, pool: this.#options.pool, createAttempt: record.createAttempt, labels: spec.labels, jitConfig: spec.jitConfig,
      registrationUrl: registrationUrl(spec.context), serviceName: serviceName(spec.context), tools: this.#options.bootstrap?.tools ?? [], ttlMs: this.#options.metadata.tokenTtlMs,
    });
    const bootstrap = buildBootstrap(spec, { token, baseUrl: server.url, pool: this.#options.pool, ...this.#options.bootstrap });
    try {
      assertSafeBootstrap(bootstrap);
    } catch (err) {
      throw this.#recordFailure(record, err);
    }
    const stdin = JSON.stringify(bootstrap);
    let result: CommandResult;
    try {
      result = await this.#run(GARM_COMMANDS.create, {}, this.#options.timeouts.createMs, stdin);
    } catch (err) {
      throw this.#recordFailure(record, err);
    }
    if (result.exitCode === GARM_EXIT.duplicate) {
      // It exists already (an earlier attempt whose answer we lost): adopt it.
      const instance = await this.#get(record);
      if (instance) return this.#info(record, instance);
    }
    if (result.exitCode !== 0) throw this.#recordFailure(record, this.#failure('JP_PROVIDER_CREATE', GARM_COMMANDS.create, result));
    let instance: ProviderInstance;
    try {
      instance = parseInstance(result.stdout, GARM_COMMANDS.create);
      if (instance.name !== spec.runnerName) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `CreateInstance answered for ${JSON.stringify(instance.name.slice(0, 64))}, not ${spec.runnerName}`);
    } catch (err) {
      throw this.#recordFailure(record, err);
    }
    const created = { ...record, providerId: instance.provider_id };
    this.#records.write(created);
    this.#options.logger.info({ component: 'provider.external', pool: spec.pool, runnerName: spec.runnerName, providerId: instance.provider_id, attempt: record.createAttempt }, 'instance created');
    return this.#info(created, instance);
  }

  async delete(computeId: string): Promise<void> {
    if (!isSafeRunnerName(computeId)) return;
    const record = this.#records.read(computeId);
    if (record && record.controllerId !== this.#options.controllerId) return;
    // Compute without a record is deleted only when our own ListInstances (filtered by controller id) shows it.
    if (!record && !(await this.#listRaw()).some((instance) => instance.name === computeId)) return;
    const identifier = record?.providerId ?? computeId;
    await this.#withRetries(GARM_COMMANDS.delete, async () => {
      const result = await this.#run(GARM_COMMANDS.delete, { GARM_INSTANCE_ID: identifier }, this.#options.timeouts.deleteMs);
      if (result.exitCode !== 0 && result.exitCode !== GARM_EXIT.notFound) throw this.#failure('JP_PROVIDER_DELETE', GARM_COMMANDS.delete, result);
    }).catch((err: unknown) => {
      if (record) this.#records.write({ ...record, lastError: describeError(err) });
      throw err;
    });
    this.#metadata.forget(computeId);
    this.#records.remove(computeId);
  }

  async list(): Promise<ComputeInfo[]> {
    const out: ComputeInfo[] = [];
    for (const instance of await this.#listRaw()) {
      if (!isSafeRunnerName(instance.name)) continue;
      const record = this.#records.read(instance.name);
      if (record && record.controllerId !== this.#options.controllerId) continue;
      out.push(this.#info(record ?? orphanRecord(instance.name, this.#options), instance));
    }
    return out;
  }

  async inspect(computeId: string): Promise<ComputeInfo | null> {
    if (!isSafeRunnerName(computeId)) return null;
    const record = this.#records.read(computeId);
    if (!record || record.controllerId !== this.#options.controllerId) return null;
    const instance = await this.#get(record);
    return instance ? this.#info(record, instance) : null;
  }

  /** What the instance reported through its callbacks (garm's providers expose no console log). */
  async logs(computeId: string, lines: number): Promise<string> {
    const view = this.#metadata.view(computeId);
    const record = this.#records.read(computeId);
    const reports = view?.reports.map((r) => `${new Date(r.atMs).toISOString()} ${r.status}: ${r.message}`) ?? [];
    if (record?.lastError) reports.push(`last provider error: ${record.lastError}`);
    return redact(reports.slice(-lines).join('\n'));
  }

  onChange(listener: (info: ComputeInfo) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async close(): Promise<void> {
    this.#events.removeAllListeners();
    const server = this.#server;
    this.#server = null;
    if (server) await (await server.catch(() => null))?.close();
  }

  #listener(): Promise<MetadataServer> {
    this.#server ??= startMetadataServer(this.#metadata, this.#options.metadata);
    // A failed bind is retried at the next call (the operator may free the port).
    this.#server.catch(() => (this.#server = null));
    return this.#server;
  }

  #onReport(name: string, report: InstanceReport): void {
    const record = this.#records.read(name);
    if (!record) return;
    const updated = { ...record, reportedStatus: report.status };
    this.#records.write(updated);
    this.#options.logger.info({ component: 'provider.external', pool: record.pool, runnerName: name, status: report.status }, 'instance reported');
    if (report.status !== 'idle' && report.status !== 'failed') return;
    void this.inspect(name).then(
      (info) => info && this.#events.emit('change', info),
      // Not pushed now; the controller's periodic list sees the change instead.
      (err: unknown) => this.#options.logger.warn({ component: 'provider.external', pool: record.pool, runnerName: name, err: describeError(err) }, 'could not inspect an instance after its report'),
    );
  }

  async #get(record: ExternalRecord): Promise<ProviderInstance | null> {
    return this.#withRetries(GARM_COMMANDS.get, async () => {
      const result = await this.#run(GARM_COMMANDS.get, { GARM_INSTANCE_ID: record.providerId ?? record.runnerName }, this.#options.timeouts.queryMs);
      if (result.exitCode === GARM_EXIT.notFound) return null;
      if (result.exitCode !== 0) throw this.#failure('JP_PROVIDER_UNAVAILABLE', GARM_COMMANDS.get, result);
      return parseInstance(result.stdout, GARM_COMMANDS.get);
    });
  }

  async #listRaw(): Promise<ProviderInstance[]> {
    return this.#withRetries(GARM_COMMANDS.list, async () => {
      const result = await this.#run(GARM_COMMANDS.list, {}, this.#options.timeouts.queryMs);
      if (result.exitCode !== 0) throw this.#failure('JP_PROVIDER_UNAVAILABLE', GARM_COMMANDS.list, result);
      const parsed = providerInstanceListSchema.safeParse(parseJson(result.stdout, GARM_COMMANDS.list));
      if (!parsed.success) throw invalidOutput(GARM_COMMANDS.list, parsed.error.issues[0]?.message);
      return parsed.data ?? [];
    });
  }

  async #withRetries<T>(command: GarmCommand, attempt: () => Promise<T>): Promise<T> {
    const retries = this.#options.retries ?? 2;
    for (let tries = 0; ; tries++) {
      try {
        return await attempt();
      } catch (err) {
        if (tries >= retries || (err instanceof JitpoolError && !err.retryable)) throw err;
        this.#options.logger.warn({ component: 'provider.external', pool: this.#options.pool, command, attempt: tries + 1, err: describeError(err) }, 'provider command failed; retrying');
        await sleep(500 * (tries + 1));
      }
    }
  }

  #run(command: GarmCommand, extra: Record<string, string>, timeoutMs: number, stdin?: string): Promise<CommandResult> {
    const options = this.#options;
    const extraSpecs = Buffer.from(JSON.stringify(options.bootstrap?.extraSpecs ?? {})).toString('base64');
    const env = {
      PATH: options.path ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      ...options.env,
      GARM_COMMAND: command,
      GARM_CONTROLLER_ID: options.controllerId,
      GARM_POOL_ID: options.pool,
      GARM_PROVIDER_CONFIG_FILE: options.configFile,
      GARM_INTERFACE_VERSION: options.interfaceVersion ?? 'v0.1.1',
      GARM_POOL_EXTRASPECS: extraSpecs,
      ...extra,
    };
    return runProviderCommand({ executable: options.executable, command, env, stdin, timeoutMs, killGraceMs: options.killGraceMs ?? 5000 });
  }

  #failure(code: 'JP_PROVIDER_CREATE' | 'JP_PROVIDER_DELETE' | 'JP_PROVIDER_UNAVAILABLE', command: GarmCommand, result: CommandResult): JitpoolError {
    const detail = result.stderrTail.split('\n').slice(-3).join(' ').slice(-500);
    return new JitpoolError(code, `${command}: ${this.#options.executable} exited with ${result.exitCode}${detail ? `: ${detail}` : ''}`, { details: { command, exitCode: result.exitCode } });
  }

  #recordFailure(record: ExternalRecord, err: unknown): unknown {
    this.#records.write({ ...record, lastError: describeError(err) });
    this.#options.logger.warn({ component: 'provider.external', pool: record.pool, runnerName: record.runnerName, err: describeError(err) }, 'CreateInstance failed');
    return err;
  }

  #info(record: ExternalRecord, instance: ProviderInstance): ComputeInfo {
    const reported = this.#metadata.view(record.runnerName)?.status ?? record.reportedStatus;
    // An instance that gave up installing never starts a runner: it is done, whatever its machine does.
    const isExited = instance.status === 'stopped' || instance.status === 'error' || reported === 'failed';
    return {
      computeId: record.runnerName,
      runnerId: record.runnerId,
      runnerName: record.runnerName,
      pool: record.pool,
      controllerId: record.controllerId,
      state: isExited ? 'exited' : instance.status === 'running' ? 'running' : 'starting',
      // garm's providers report no exit codes. An instance that reported `failed` never started its
      // runner, which the runner contract calls "terminated" (1, as for a refused registration): a
      // launch failure the pool backs off from, not a runner that vanished.
      exitCode: isExited ? (instance.exit_code ?? (reported === 'failed' ? RUNNER_EXIT.terminatedError : null)) : null,
      isOnline: !isExited && (reported === 'idle' || reported === 'active'),
      createdAtMs: record.createdAtMs,
    };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function parseJson(stdout: string, command: GarmCommand): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    throw invalidOutput(command, `not JSON: ${JSON.stringify(redact(stdout.trim()).slice(0, 80))}`);
  }
}

function parseInstance(stdout: string, command: GarmCommand): ProviderInstance {
  const parsed = providerInstanceSchema.safeParse(parseJson(stdout, command));
  if (!parsed.success) throw invalidOutput(command, parsed.error.issues.map((issue) => `${issue.path.join('.') || 'instance'}: ${issue.message}`).join('; '));
  return parsed.data;
}

function invalidOutput(command: GarmCommand, detail: string | undefined): JitpoolError {
  return new JitpoolError('JP_PROVIDER_UNAVAILABLE', `${command}: the provider printed an invalid answer (${detail ?? 'unknown'}); it must print garm's instance JSON on stdout and log to stderr`, { details: { command } });
}

/** A record for compute ListInstances shows but we never recorded (so the reconcile can remove it). */
function orphanRecord(name: string, options: ExternalProviderOptions): ExternalRecord {
  return { runnerId: name.slice(name.lastIndexOf('-') + 1), runnerName: name, pool: options.pool, controllerId: options.controllerId, createdAtMs: 0, createAttempt: 0, providerId: null, reportedStatus: 'pending', lastError: null };
}
