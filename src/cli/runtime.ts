import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApiServer } from '../api/index.ts';
import { resolveSecret, readPrivateKey, type Config } from '../config/index.ts';
import { Controller, type PoolRuntime } from '../controller/index.ts';
import { systemClock, type Clock, type Logger } from '../core/index.ts';
import { appInstallationToken, createGitHubClient, staticToken, type GitHubApi, type TokenProvider } from '../github/index.ts';
import { Guard, RouteAuditor } from '../guard/index.ts';
import { WebhookIntake } from '../intake/index.ts';
import { createProvider, type Provider } from '../providers/index.ts';
import { Store } from '../store/index.ts';

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
  /** Do not listen on HTTP (reconcile-once mode). */
  noServer?: boolean;
  /** Do not start the reconcile loop. */
  noLoop?: boolean;
}

/** A running jitpool: store, GitHub client, controller, webhook intake and HTTP server, wired. */
export interface Runtime {
  config: Config;
  store: Store;
  github: GitHubApi;
  controller: Controller;
  /** The routing guard (its periodic checks run only when `guard.enabled`). */
  guard: Guard;
  /** The route audit (null when `guard.routeAudit` is off). */
  auditor: RouteAuditor | null;
  providers: ReadonlyMap<string, Provider>;
  server: FastifyInstance | null;
  /** Base URL of the HTTP server (null without one). */
  url: string | null;
  /** Stops the loop and the server and closes the store; busy runners keep running. */
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

/** Starts everything a config describes. */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config, logger } = options;
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const store = Store.open(sqlitePathOf(config), clock);
  const github =
    options.github ??
    createGitHubClient({
      baseUrl: config.github.apiUrl,
      tokens: tokenProviderOf(config, env),
      logger,
      writeConcurrency: config.github.writeConcurrency,
      writeMinIntervalMs: config.github.writeMinIntervalMs,
    });
  const providers = new Map<string, Provider>();
  const pools: PoolRuntime[] = config.pools.map((pool) => {
    const provider =
      options.providers?.get(pool.name) ??
      createProvider(pool.provider, { controllerId: config.controllerId, stateDir: resolve(config.store.stateDir), pool: pool.name, logger });
    providers.set(pool.name, provider);
    return {
      name: pool.name,
      labels: pool.labels,
      scope: pool.scope,
      runnerGroupId: pool.runnerGroupId,
      minIdle: pool.minIdle,
      max: pool.max,
      bootTimeoutMs: pool.bootTimeoutSeconds * 1000,
      jobTimeoutMs: pool.jobTimeoutSeconds * 1000,
      idleGraceMs: pool.idleGraceSeconds * 1000,
      provider,
    };
  });
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
  });

  const guard = new Guard({ store, github, config: config.guard, policy: config.routing, pools, controllerId: config.controllerId, logger, clock });
  const auditor = config.guard.routeAudit
    ? new RouteAuditor({
        store, github, policy: config.routing, logger, repositories: config.guard.repositories,
        onAudited: (audit) => guard.onAudited(audit),
      })
    : null;

  let server: FastifyInstance | null = null;
  let url: string | null = null;
  if (!options.noServer) {
    const intake = config.webhook.enabled
      ? new WebhookIntake({
          secret: resolveSecret(config.webhook.secret, 'webhook secret (webhook.secret)', env),
          store,
          pools,
          logger,
          onChange: () => controller.kick('webhook'),
          // Audit each run the first time one of its jobs is seen on a pool (cached per run).
          onJobRecorded: auditor ? (job, previous) => { if (previous === null) void auditor.audit(job); } : undefined,
        })
      : undefined;
    server = await createApiServer({
      logger,
      webhook: intake ? { intake, path: config.webhook.path, maxBodyBytes: config.webhook.maxBodyBytes } : undefined,
      status: () => ({ pools: [...controller.pools.keys()], health: controller.health, reconciles: controller.stats.reconciles }),
    });
    await server.listen({ host: config.api.host, port: config.api.port });
    const address = server.server.address();
    const port = typeof address === 'object' && address ? address.port : config.api.port;
    url = `http://${config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host}:${port}`;
  }
  if (!options.noLoop) controller.start();
  if (!options.noLoop && config.guard.enabled) guard.start();
  logger.info({ component: 'runtime', pools: pools.map((p) => p.name), url }, 'jitpool started');

  return {
    config,
    store,
    github,
    controller,
    guard,
    auditor,
    providers,
    server,
    url,
    async stop(timeoutMs = 30_000) {
      await guard.stop();
      await controller.stop(timeoutMs);
      await server?.close();
      for (const provider of new Set(providers.values())) await provider.close();
      store.close();
    },
  };
}
