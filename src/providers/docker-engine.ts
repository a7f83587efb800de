import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { JitpoolError, backoffMs, describeError, type Logger } from '../core/index.ts';
import { RUNNER_ONLINE_MARKER } from '../runner/index.ts';

/** Where the Docker Engine API is: a unix socket or a URL like DOCKER_HOST. */
export interface DockerEndpoint {
  /** @example /var/run/docker.sock */
  socketPath?: string;
  /** @example tcp://10.0.0.5:2376 */
  host?: string;
}

/** The labels every container and network of jitpool carries (truth 5: everything it owns is findable). */
export const DOCKER_LABELS = {
  controller: 'jitpool.controller',
  pool: 'jitpool.pool',
  runnerId: 'jitpool.runner-id',
  runnerName: 'jitpool.runner-name',
  createdAtMs: 'jitpool.created-at-ms',
} as const;

/** Resolves the endpoint: explicit settings first, then DOCKER_HOST, then the default socket. */
export function resolveDockerEndpoint(settings: DockerEndpoint, env: Readonly<Record<string, string | undefined>>): DockerEndpoint {
  if (settings.host) return { host: settings.host };
  if (settings.socketPath) return { socketPath: settings.socketPath };
  const fromEnv = env.DOCKER_HOST;
  if (fromEnv) return fromEnv.startsWith('unix://') ? { socketPath: fromEnv.slice('unix://'.length) } : { host: fromEnv };
  return { socketPath: '/var/run/docker.sock' };
}

/** A readable description of an endpoint for errors and logs. */
export function describeEndpoint(endpoint: DockerEndpoint): string {
  return endpoint.host ?? endpoint.socketPath ?? '/var/run/docker.sock';
}

/** dockerode options for an endpoint; `timeoutMs` 0 means no timeout (streams). */
export function dockerOptions(endpoint: DockerEndpoint, timeoutMs: number): Docker.DockerOptions {
  const timeout = timeoutMs > 0 ? { timeout: timeoutMs } : {};
  if (!endpoint.host) return { socketPath: endpoint.socketPath ?? '/var/run/docker.sock', ...timeout };
  const url = new URL(endpoint.host);
  if (url.protocol === 'unix:') return { socketPath: url.pathname, ...timeout };
  const protocol = url.protocol === 'https:' ? 'https' : url.protocol === 'ssh:' ? 'ssh' : 'http';
  const defaultPort = protocol === 'https' ? 2376 : protocol === 'ssh' ? 22 : 2375;
  return { protocol, host: url.hostname, port: url.port || defaultPort, ...(url.username ? { username: url.username } : {}), ...timeout };
}

/** The HTTP status of a Docker Engine API error, or null for transport errors. */
export function dockerStatus(err: unknown): number | null {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : null;
}

/** Docker's own message for an API error (`{"message": …}`), else the error's message. */
export function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  const reason = (err as { reason?: unknown } | null)?.reason;
  const message = err instanceof Error ? err.message : String(err);
  return typeof reason === 'string' && !message.includes(reason) ? `${reason}: ${message}` : message;
}

/** Turns a dockerode error into a JitpoolError: an unreachable engine is JP_PROVIDER_UNAVAILABLE. */
export function dockerError(err: unknown, code: 'JP_PROVIDER_CREATE' | 'JP_PROVIDER_DELETE', what: string, endpoint: DockerEndpoint): JitpoolError {
  if (err instanceof JitpoolError) return err;
  if (dockerStatus(err) === null) {
    return new JitpoolError('JP_PROVIDER_UNAVAILABLE', `Docker engine at ${describeEndpoint(endpoint)} is not reachable (${what}): ${describeError(err)}`, { cause: err });
  }
  return new JitpoolError(code, `${what}: ${dockerMessage(err)}`, { cause: err, details: { status: dockerStatus(err) } });
}

/** Splits Docker's multiplexed log stream format (8-byte frame headers) into text; raw TTY output passes through. */
export function demuxDockerLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const streamType = buffer[offset];
    if ((streamType !== 0 && streamType !== 1 && streamType !== 2) || buffer[offset + 1] !== 0 || buffer[offset + 2] !== 0 || buffer[offset + 3] !== 0) {
      return buffer.toString('utf8');
    }
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** A container changed: its name and pool (from its labels). */
export interface EngineChange {
  name: string;
  pool: string;
}

/**
 * One watcher per (engine, controller id), shared by the providers of every pool: it follows
 * Docker's event stream (filtered by the controller label) so exits are seen at once, and each
 * new container's output until the runner says it is online. It also hands out per-runner
 * subnets so concurrent creates of different pools do not collide.
 */
export class DockerEngineWatch {
  static readonly #shared = new Map<string, { watch: DockerEngineWatch; refs: number }>();

  /** The shared watcher for an endpoint and controller; call {@link release} when done. */
  static acquire(endpoint: DockerEndpoint, controllerId: string, logger: Logger): DockerEngineWatch {
    const key = `${describeEndpoint(endpoint)}|${controllerId}`;
    let entry = DockerEngineWatch.#shared.get(key);
    if (!entry) {
      entry = { watch: new DockerEngineWatch(key, endpoint, controllerId, logger), refs: 0 };
      DockerEngineWatch.#shared.set(key, entry);
    }
    entry.refs += 1;
    entry.watch.#start();
    return entry.watch;
  }

  readonly #key: string;
  readonly #docker: Docker;
  readonly #controllerId: string;
  readonly #log: Logger;
  readonly #events = new EventEmitter();
  readonly #online = new Set<string>();
  readonly #exitCodes = new Map<string, number>();
  readonly #followers = new Map<string, NodeJS.ReadableStream>();
  /** Subnets handed out and not yet visible in the engine's network list. */
  readonly reservedSubnets = new Set<string>();
  #stream: NodeJS.ReadableStream | null = null;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  #closed = true;

  private constructor(key: string, endpoint: DockerEndpoint, controllerId: string, logger: Logger) {
    this.#key = key;
    this.#docker = new Docker(dockerOptions(endpoint, 0));
    this.#controllerId = controllerId;
    this.#log = logger.child({ component: 'provider.docker', controllerId });
    this.#events.setMaxListeners(0);
  }

  /** Subscribes to container changes; returns the unsubscribe function. */
  onChange(listener: (change: EngineChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  /** True once the runner in container `name` printed that it listens for jobs. */
  isOnline(name: string): boolean {
    return this.#online.has(name);
  }

  /** The exit code seen in a `die` event, if any. */
  exitCode(name: string): number | undefined {
    return this.#exitCodes.get(name);
  }

  /** Follows a running container's output until the online marker appears (idempotent). */
  follow(name: string, pool: string): void {
    if (this.#closed || this.#online.has(name) || this.#followers.has(name)) return;
    const placeholder = new PassThrough();
    this.#followers.set(name, placeholder);
    void this.#docker
      .getContainer(name)
      .logs({ follow: true, stdout: true, stderr: true })
      .then((stream) => {
        if (this.#followers.get(name) !== placeholder) return destroy(stream);
        this.#followers.set(name, stream);
        const text = new PassThrough();
        this.#docker.modem.demuxStream(stream, text, text);
        let tail = '';
        text.on('data', (chunk: Buffer) => {
          tail = (tail + chunk.toString('utf8')).slice(-4096);
          if (!tail.includes(RUNNER_ONLINE_MARKER)) return;
          this.#online.add(name);
          this.#stopFollowing(name);
          this.#events.emit('change', { name, pool });
        });
        stream.on('end', () => this.#followers.get(name) === stream && this.#followers.delete(name));
        stream.on('error', () => this.#followers.get(name) === stream && this.#followers.delete(name));
      })
      .catch((err: unknown) => {
        if (this.#followers.get(name) === placeholder) this.#followers.delete(name);
        this.#log.debug({ runnerName: name, err: dockerMessage(err) }, 'could not follow container output');
      });
  }

  /** Drops what is known about a removed container. */
  forget(name: string): void {
    this.#stopFollowing(name);
    this.#online.delete(name);
    this.#exitCodes.delete(name);
  }

  /** Releases one reference; the last one closes the event stream and every follower. */
  release(): void {
    const entry = DockerEngineWatch.#shared.get(this.#key);
    if (!entry || entry.watch !== this) return;
    entry.refs -= 1;
    if (entry.refs > 0) return;
    DockerEngineWatch.#shared.delete(this.#key);
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    if (this.#stream) destroy(this.#stream);
    this.#stream = null;
    for (const name of [...this.#followers.keys()]) this.#stopFollowing(name);
    this.#events.removeAllListeners();
  }

  #start(): void {
    if (!this.#closed) return;
    this.#closed = false;
    this.#connect();
  }

  #connect(): void {
    if (this.#closed) return;
    const filters = JSON.stringify({ type: ['container'], event: ['start', 'die', 'destroy'], label: [`${DOCKER_LABELS.controller}=${this.#controllerId}`] });
    this.#docker.getEvents({ filters } as Docker.GetEventsOptions).then(
      (stream) => {
        if (this.#closed) return destroy(stream);
        this.#stream = stream;
        const wasReconnect = this.#failures > 0;
        this.#failures = 0;
        // Events missed while disconnected: ask the controller to look again (it re-lists).
        if (wasReconnect) this.#events.emit('change', { name: '', pool: '' });
        let pending = '';
        stream.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) if (line.trim() !== '') this.#onEvent(line);
        });
        const lost = (): void => {
          if (this.#stream !== stream) return;
          this.#stream = null;
          this.#scheduleReconnect('event stream ended');
        };
        stream.on('end', lost);
        stream.on('close', lost);
        stream.on('error', lost);
      },
      (err: unknown) => this.#scheduleReconnect(dockerMessage(err)),
    );
  }

  #scheduleReconnect(reason: string): void {
    if (this.#closed || this.#reconnectTimer) return;
    this.#failures += 1;
    const delayMs = backoffMs(this.#failures - 1, 500, 30_000);
    if (this.#failures === 1 || this.#failures % 10 === 0) this.#log.warn({ reason, retryInMs: delayMs }, 'Docker event stream lost; the periodic list covers until it is back');
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect();
    }, delayMs);
    this.#reconnectTimer.unref();
  }

  #onEvent(line: string): void {
    let event: DockerEvent;
    try {
      event = JSON.parse(line) as DockerEvent;
    } catch {
      return;
    }
    const attributes = event.Actor?.Attributes ?? {};
    const name = attributes.name ?? '';
    const pool = attributes[DOCKER_LABELS.pool] ?? '';
    if (name === '' || attributes[DOCKER_LABELS.controller] !== this.#controllerId) return;
    const action = event.Action ?? event.status;
    if (action === 'start') {
      this.follow(name, pool);
    } else if (action === 'die') {
      const exitCode = Number(attributes.exitCode);
      if (Number.isInteger(exitCode)) this.#exitCodes.set(name, exitCode);
      this.#stopFollowing(name);
      this.#log.debug({ runnerName: name, exitCode }, 'container exited');
      this.#events.emit('change', { name, pool });
    } else if (action === 'destroy') {
      this.forget(name);
    }
  }

  #stopFollowing(name: string): void {
    const stream = this.#followers.get(name);
    this.#followers.delete(name);
    if (stream) destroy(stream);
  }
}

function destroy(stream: NodeJS.ReadableStream): void {
  (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
}
