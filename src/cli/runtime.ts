import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ApiMetrics, MIN_TOKEN_LENGTH, Readiness, createApiServer, type ApiAuth, type ApiContext, type ApiSurface } from '../api/index.ts';
import { resolveSecret, readPrivateKey, sensitivePathsOf, type Config } from '../config/index.ts';
import { Controller, type PoolRuntime } from '../controller/index.ts';
import { JitpoolError, controllerLabel, isJitpoolError, systemClock, type Clock, type Logger } from '../core/index.ts';
import { appInstallationToken, createGitHubClient, createScaleSetClient, staticToken, type GitHubApi, type ScaleSetClient, type TokenProvider } from '../github/index.ts';
import { Guard, RouteAuditor } from '../guard/index.ts';
import { AccessMonitor, Poller, RunnerAccess, ScaleSetIntake, WebhookIntake, fileScaleSetMemory } from '../intake/index.ts';
import { createProvider, type Provider } from '../providers/index.ts';
import { LeaseKeeper, RetentionTimer, Store, forgetSecretsOfRemovedRunners, securePrivateDir } from '../store/index.ts';

/** Options of {@link startRuntime}. */
export interface RuntimeOptions {
  config: Config;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** Replaces the GitHub client built from the config (tests, benchmarks). */
  github?: GitHubApi;
  /** Replaces the provider of a pool (tests, benchmarks). */
  providers?: ReadonlyMap<string, Provider>;
  /** The config file the config came from: the process sandbox hides it from jobs. */
  configFile?: string;
  /** Do not listen on HTTP (reconcile-once mode). */
  noServer?: boolean;
  /** Do not start the reconcile loop. */
  noLoop?: boolean;
  /**
   * Serve the admin API without a token. Only `jitpool demo --serve` sets it, and only on a
   * loopback address; anything else is refused. Never a config setting.
   */
  demoNoAuthOnLoopback?: boolean;
  /**
   * Take the store lease (one writer per store) as `holder`. Default: taken as `jitpool up`
   * when the reconcile loop runs, not taken otherwise (read-only commands). Throws
   * `JP_LEASE_HELD` when another process holds it.
   */
  lease?: { holder: string; takeOverStale?: boolean } | false;
  /** Called when the lease is lost to another process (the runtime has stopped acting). */
  onLeaseLost?: (err: Error) => void;
  /** The commands the admin API runs for the CLI (`POST /api/v1/commands/:name`), given this runtime. */
  commands?: (runtime: Runtime) => (name: string, input: unknown) => Promise<unknown>;
}

/** A running jitpool: store, GitHub client, controller, webhook intake and HTTP server, wired. */
export interface Runtime {
  config: Config;
  logger: Logger;
  store: Store;
  github: GitHubApi;
  controller: Controller;
  /** The poller backstop (null when polling is disabled). */
  poller: Poller | null;
  /** The listeners of the pools in `intake.mode: scale-set` (null when there are none). */
  scaleSets: ScaleSetIntake | null;
  /** The routing guard (its periodic checks run only when `guard.enabled`). */
  guard: Guard;
  /** The route audit (null when `guard.routeAudit` is off). */
  auditor: RouteAuditor | null;
  providers: ReadonlyMap<string, Provider>;
  metrics: ApiMetrics;
  /** jitpool's own readiness (store, providers, webhook intake), as `/readyz` reports it. */
  readiness: Readiness;
  /** Runner-group access as last read from GitHub (which pool may serve which repository). */
  access: RunnerAccess;
  /** The server with the webhook receiver (the only one unless `api.admin` is set). */
  server: FastifyInstance | null;
  /** The admin API's server when it listens apart (`api.admin`), else the same as `server`. */
  adminServer: FastifyInstance | null;
  /** Base URL of the HTTP server (null without one). */
  url: string | null;
  /** Base URL of the admin API and dashboard (null without a server). */
  adminUrl: string | null;
  /** The store lease this runtime holds (null: it holds none and changes no runner). */
  lease: LeaseKeeper | null;
  /**
   * Stops within `timeoutMs`: no launch from the first moment, in-flight GitHub waits aborted,
   * then the loop, the server and the store (and the lease); runners left running are listed in
   * the log (busy ones finish their job and are found again at the next start).
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** The SQLite file a config points at. */
export function sqlitePathOf(config: Config): string {
  return resolve(config.store.sqlitePath ?? join(config.store.stateDir, 'jitpool.sqlite'));
}

/** Builds the token provider the config describes (secrets resolved from env or files). */
export function tokenProviderOf(config: Config, env: NodeJS.ProcessEnv): TokenProvider {
  const auth = config.github.auth;
  if (auth.kind === 'pat') return staticToken(resolveSecret(auth.token, 'GitHub token (github.auth.token)', env));
  return appInstallationToken({
    appId: auth.appId,
    installationId: auth.installationId,
    privateKey: readPrivateKey(auth.privateKeyFile),
    baseUrl: config.github.apiUrl,
  });
}

/**
 * The pools a config describes, each with its provider (or the override given for it). Process
 * sandboxes are told what to hide: the state dir, the secret files and `configFile`.
 */
export function buildPools(config: Config, logger: Logger, overrides?: ReadonlyMap<string, Provider>, env: NodeJS.ProcessEnv = process.env, configFile?: string): PoolRuntime[] {
  const hiddenPaths = sensitivePathsOf(config, configFile);
  return config.pools.map((pool) => ({
    name: pool.name,
    labels: pool.labels,
    scope: pool.scope,
    runnerGroupId: pool.runnerGroupId,
    minIdle: pool.minIdle,
    warmSchedule: pool.warmSchedule,
    max: pool.max,
    bootTimeoutMs: pool.bootTimeoutSeconds * 1000,
    jobTimeoutMs: pool.jobTimeoutSeconds * 1000,
    idleGraceMs: pool.idleGraceSeconds * 1000,
    runnerVersion: pool.provider.kind === 'process' && pool.provider.runner ? pool.provider.runner.version : null,
    intake: pool.intake.mode,
    provider:
      overrides?.get(pool.name) ??
      createProvider(pool.provider, { controllerId: config.controllerId, stateDir: resolve(config.store.stateDir), pool: pool.name, logger, env, hiddenPaths }),
  }));
}

/** The GitHub client a config describes (`signal`: aborted at shutdown, ending every GitHub wait). */
export function githubClientOf(config: Config, logger: Logger, env: NodeJS.ProcessEnv, signal?: AbortSignal): GitHubApi {
  return createGitHubClient({
    baseUrl: config.github.apiUrl,
    tokens: tokenProviderOf(config, env),
    logger,
    writeConcurrency: config.github.writeConcurrency,
    writeMinIntervalMs: config.github.writeMinIntervalMs,
    signal,
  });
}

/**
 * The scale-set intake of the pools in `intake.mode: scale-set` (null when there are none): one
 * Actions-service client per scope, authenticated through `github` (PAT or App), and the session
 * ids remembered in `<stateDir>/scale-sets.json`.
 */
function scaleSetIntakeOf(config: Config, github: GitHubApi, store: Store, logger: Logger, clock: Clock, onChange: () => void): ScaleSetIntake | null {
  const pools = config.pools.filter((pool) => pool.intake.mode === 'scale-set');
  if (pools.length === 0) return null;
  const clients = new Map<string, ScaleSetClient>();
  const clientOf = (scope: Config['pools'][number]['scope']): ScaleSetClient => {
    const key = JSON.stringify(scope);
    let client = clients.get(key);
    if (!client) {
      client = createScaleSetClient({ apiUrl: config.github.apiUrl, scope, github, logger, clock });
      clients.set(key, client);
    }
    return client;
  };
  return new ScaleSetIntake({
    pools: pools.map((pool) => ({
      // The controller's label on the set too: its runners stay findable as jitpool's (truth 5); a job needs only a subset.
      name: pool.name, scaleSetName: pool.intake.scaleSetName ?? `jp-${pool.name}`, runnerGroupId: pool.runnerGroupId,
      labels: [...pool.labels, controllerLabel(config.controllerId)], max: pool.max, client: clientOf(pool.scope),
    })),
    store,
    memory: fileScaleSetMemory(join(resolve(config.store.stateDir), 'scale-sets.json')),
    ownerName: `${hostname()}-${config.controllerId}`,
    logger,
    clock,
    onChange,
  });
}

const DAY_MS = 86_400_000;
/** Time between retention passes. */
const RETENTION_INTERVAL_MS = 10 * 60_000;

/** Starts everything a config describes. */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config, logger } = options;
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  securePrivateDir(resolve(config.store.stateDir));
  const store = Store.open(sqlitePathOf(config), clock);
  const leaseWanted = options.lease ?? (options.noLoop ? false : { holder: 'jitpool up', takeOverStale: true });
  let lease: LeaseKeeper | null = null;
  let runtime: Runtime | null = null;
  try {
    lease = leaseWanted
      ? LeaseKeeper.acquire({
          store, holder: leaseWanted.holder, takeOverStale: leaseWanted.takeOverStale ?? false, ttlMs: config.controller.leaseTtlSeconds * 1000, logger, clock,
          onLost: (err) => {
            void runtime?.controller.stop(5000);
            options.onLeaseLost?.(err);
          },
        })
      : null;
  } catch (err) {
    store.close();
    throw err;
  }
  const shutdown = new AbortController();
  const github = options.github ?? githubClientOf(config, logger, env, shutdown.signal);
  const pools = buildPools(config, logger, options.providers, env, options.configFile);
  const providers = new Map(pools.map((pool) => [pool.name, pool.provider]));
  if (!options.noLoop) {
    try {
      await checkSandboxes(config, pools, logger);
    } catch (err) {
      lease?.release();
      store.close();
      throw err;
    }
  }
  const stopForgetting = forgetSecretsOfRemovedRunners(store);
  const scaleSets = scaleSetIntakeOf(config, github, store, logger, clock, () => controller.kick('scale set'));
  for (const pool of pools) if (pool.intake === 'scale-set' && scaleSets) pool.registrar = scaleSets.registrar(pool.name);
  // Scale-set pools get their jobs from GitHub's assignment to the set, never by label matching.
  const labelPools = pools.filter((pool) => pool.intake !== 'scale-set');
  const access = new RunnerAccess({ github, pools: labelPools, logger, clock });
  const controller = new Controller({
    controllerId: config.controllerId,
    store,
    github,
    pools,
    logger,
    clock,
    reconcileIntervalMs: config.controller.reconcileIntervalSeconds * 1000,
    githubSyncIntervalMs: config.controller.githubSyncIntervalSeconds * 1000,
    concurrency: config.controller.concurrency,
    ghostMinAgeMs: config.controller.ghostMinAgeSeconds * 1000,
    onReconcile: (result) => metrics.observeReconcile(result),
    scaleSetDemand: scaleSets ? () => scaleSets.demand() : undefined,
  });
  const metrics = new ApiMetrics({ store, github, githubSync: () => controller.githubSync, pools: () => controller.effectivePools() });
  const readiness = new Readiness({ store, providers, isWebhookEnabled: config.webhook.enabled, clock });
  const accessMonitor = new AccessMonitor({ store, access, logger, onChange: () => controller.kick('runner-group access') });
  const retention = new RetentionTimer(store, { retentionMs: config.store.retentionDays * DAY_MS, clock, intervalMs: RETENTION_INTERVAL_MS, logger });

  const poller = config.poll.enabled
    ? new Poller({
        github,
        store,
        pools: labelPools,
        logger,
        clock,
        intervalMs: (config.webhook.enabled ? config.poll.backstopIntervalSeconds : config.poll.intervalSeconds) * 1000,
        discoveryIntervalMs: config.poll.discoveryIntervalSeconds * 1000,
        repos: config.poll.repos,
        access,
        onChange: () => controller.kick('poll'),
      })
    : null;
  const guard = new Guard({ store, github, config: config.guard, policy: config.routing, pools, controllerId: config.controllerId, logger, clock });
  const auditor = config.guard.routeAudit
    ? new RouteAuditor({
        store, github, policy: config.routing, logger, repositories: config.guard.repositories,
        onAudited: (audit) => guard.onAudited(audit),
      })
    : null;

  let server: FastifyInstance | null = null;
  let adminServer: FastifyInstance | null = null;
  let url: string | null = null;
  let adminUrl: string | null = null;
  if (!options.noServer) {
    try {
      const auth = apiAuthOf(config, env, options.demoNoAuthOnLoopback === true);
      const intake = config.webhook.enabled
        ? new WebhookIntake({
            secret: resolveSecret(config.webhook.secret, 'webhook secret (webhook.secret)', env),
            store,
            pools: labelPools,
            access,
            logger,
            onChange: () => controller.kick('webhook'),
            onOutcome: (outcome, code) => metrics.observeWebhook(outcome, code),
            // Audit each run the first time one of its jobs is seen on a pool (cached per run).
            onJobRecorded: auditor ? (job, previous) => { if (previous === null) void auditor.audit(job); } : undefined,
          })
        : undefined;
      const context: ApiContext = {
        store, controller, github, metrics, logger, clock,
        controllerId: config.controllerId,
        reconcileIntervalSeconds: config.controller.reconcileIntervalSeconds,
        readiness,
        runCommand: options.commands ? (name, input) => options.commands!(runtime!)(name, input) : undefined,
      };
      const build = (surface: ApiSurface) =>
        createApiServer({
          logger,
          context,
          auth,
          surface,
          webhook: intake ? { intake, path: config.webhook.path, maxBodyBytes: config.webhook.maxBodyBytes } : undefined,
          corsOrigins: config.api.corsOrigins,
          rateLimit: config.api.rateLimit,
        });
      const admin = config.api.admin;
      server = await build(admin ? 'public' : 'all');
      url = await listen(server, config.api.host, config.api.port);
      if (admin) {
        adminServer = await build('admin');
        adminUrl = await listen(adminServer, admin.host, admin.port);
      } else {
        adminServer = server;
        adminUrl = url;
      }
    } catch (err) {
      // A start that fails half-way (a missing secret, a port in use) leaves nothing open behind it.
      await server?.close();
      if (adminServer !== server) await adminServer?.close();
      metrics.close();
      stopForgetting();
      lease?.release();
      store.close();
      throw err;
    }
  }
  lease?.setAdminUrl(adminUrl);
  if (!options.noLoop) {
    controller.start();
    scaleSets?.start();
    poller?.start();
    accessMonitor.start();
    retention.start();
    if (config.guard.enabled) guard.start();
  }
  logger.info({ component: 'runtime', pools: pools.map((p) => p.name), url, adminUrl }, 'jitpool started');

  runtime = {
    config,
    logger,
    store,
    github,
    controller,
    poller,
    scaleSets,
    guard,
    auditor,
    providers,
    metrics,
    readiness,
    access,
    server,
    adminServer,
    url,
    adminUrl,
    lease,
    async stop(timeoutMs = 30_000) {
      const deadline = performance.now() + timeoutMs;
      // No launch from now on (synchronous, before any wait), then end every GitHub wait.
      const stoppingLoop = controller.stop(timeoutMs);
      shutdown.abort();
      // The scale-set listeners delete their sessions, so the next start does not conflict.
      await Promise.all([poller?.stop(), scaleSets?.stop(), guard.stop(), accessMonitor.stop(), retention.stop(), stoppingLoop]);
      const left = store.listLiveRunners();
      if (left.length > 0) {
        logger.info(
          { component: 'runtime', runners: left.map((runner) => ({ name: runner.name, pool: runner.pool, state: runner.state })) },
          `leaving ${left.length} runner(s) running; the next start finds them again`,
        );
      }
      await closeWithin(server, deadline);
      if (adminServer !== server) await closeWithin(adminServer, deadline);
      metrics.close();
      for (const provider of new Set(providers.values())) await provider.close();
      stopForgetting();
      lease?.release();
      store.close();
    },
  };
  return runtime;
}

/**
 * Before the loop starts: a loud warning for every pool that runs jobs without a sandbox, and a
 * start that fails (`JP_SANDBOX_UNAVAILABLE`, naming the fix) when a sandboxed pool's sandbox
 * cannot start here — never a silent fall-back to running jobs unsandboxed.
 */
async function checkSandboxes(config: Config, pools: readonly PoolRuntime[], logger: Logger): Promise<void> {
  for (const pool of config.pools) {
    if (pool.provider.kind === 'process' && pool.provider.sandbox === 'none') {
      logger.warn(
        { component: 'runtime', pool: pool.name, sandbox: 'none' },
        `pool ${pool.name} runs jobs WITHOUT a sandbox (sandbox: none): any job can read this controller's tokens, its state and other runners' credentials`,
      );
    }
  }
  for (const pool of pools) {
    try {
      await pool.provider.preflight?.();
    } catch (err) {
      if (!isJitpoolError(err)) throw err;
      throw new JitpoolError(err.code, `pool ${pool.name}: ${err.message}`, { cause: err, details: { ...err.details, pool: pool.name } });
    }
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/** True for an address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The admin API's authentication: the configured token, or none for the demo on loopback only. */
export function apiAuthOf(config: Config, env: NodeJS.ProcessEnv, demoNoAuthOnLoopback: boolean): ApiAuth {
  if (demoNoAuthOnLoopback) {
    const hosts = [config.api.host, ...(config.api.admin ? [config.api.admin.host] : [])];
    const exposed = hosts.find((host) => !isLoopbackHost(host));
    if (exposed) throw new JitpoolError('JP_CONFIG_INVALID', `the admin API may run without a token only on a loopback address, not ${exposed}`, { details: { host: exposed } });
    return { kind: 'none', reason: 'demo-loopback' };
  }
  const token = resolveSecret(config.api.auth.token, 'admin API token (api.auth.token)', env);
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new JitpoolError('JP_CONFIG_INVALID', `the admin API token (api.auth.token) must be at least ${MIN_TOKEN_LENGTH} characters`, { details: { field: 'api.auth.token' } });
  }
  return { kind: 'token', token };
}

/** Closes a server, giving in-flight requests until `deadline` (then connections are cut). */
async function closeWithin(server: FastifyInstance | null, deadline: number): Promise<void> {
  if (!server) return;
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      server.server.closeAllConnections();
      resolve();
    }, Math.max(0, deadline - performance.now()));
  });
  await Promise.race([server.close(), cut]);
  clearTimeout(timer);
}

async function listen(server: FastifyInstance, host: string, port: number): Promise<string> {
  await server.listen({ host, port });
  const address = server.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
}
