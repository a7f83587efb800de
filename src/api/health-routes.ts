import type { FastifyInstance } from 'fastify';
import { DEGRADED_AFTER_FAILURES } from '../controller/index.ts';
import type { ApiContext } from './context.ts';
import { Readiness } from './readiness.ts';
import { ref } from './schemas.ts';

const okCheck = { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } as const;

const readinessSchema = {
  type: 'object',
  required: ['ready', 'checks'],
  properties: {
    ready: { type: 'boolean' },
    checks: {
      type: 'object',
      required: ['store', 'providers', 'webhook'],
      description: "jitpool's own parts only: no messages here (the route is public); details are on /status",
      properties: { store: okCheck, providers: okCheck, webhook: okCheck },
    },
  },
} as const;

/** The readiness a context uses: its own, or one of the store alone. */
export function readinessOf(context: ApiContext): Readiness {
  return context.readiness ?? new Readiness({ store: context.store, providers: new Map(), isWebhookEnabled: false, clock: context.clock });
}

/**
 * `GET /healthz` (liveness) and `GET /readyz` (jitpool's own store, providers and webhook intake:
 * never GitHub, so a load balancer keeps delivering webhooks while GitHub fails): public, never
 * logged per request, and never with error text.
 */
export async function healthRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const readiness = readinessOf(options.context);
  // `/health` is the same check under the name API gateways and NixOS modules call by default.
  for (const url of ['/healthz', '/health']) {
    app.get(url, {
      config: { public: true, quiet: true },
      schema: { summary: url === '/health' ? 'Liveness (same as /healthz)' : 'Liveness: the process answers', tags: ['health'], response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } } },
    }, async () => ({ ok: true }));
  }

  app.get('/readyz', {
    config: { public: true, quiet: true },
    schema: {
      summary: "Readiness of jitpool itself: its store, its providers and its webhook intake (GitHub's health is on /status)",
      tags: ['health'],
      response: { 200: readinessSchema, 503: readinessSchema },
    },
  }, async (_request, reply) => {
    const report = await readiness.check();
    const checks = { store: { ok: report.store.ok }, providers: { ok: report.providers.ok }, webhook: { ok: report.webhook.ok } };
    return reply.code(report.ready ? 200 : 503).send({ ready: report.ready, checks });
  });
}

const activeRunnerSchema = {
  type: 'object',
  required: ['id', 'name', 'state', 'jobId', 'runningSeconds'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    state: { type: 'string' },
    jobId: { type: ['integer', 'null'] },
    runningSeconds: { type: 'integer', description: 'seconds since the launch decision' },
  },
} as const;

const nullableString = { type: ['string', 'null'] } as const;

const healthSchema = {
  type: 'object',
  required: ['ready', 'store', 'providers', 'webhook', 'github'],
  properties: {
    ready: { type: 'boolean', description: 'what /readyz answers' },
    store: {
      type: 'object',
      properties: {
        ok: { type: 'boolean' }, trouble: nullableString, message: { ...nullableString, description: "SQLite's own message" },
        atMs: { type: ['integer', 'null'] }, bytes: { type: 'integer', description: 'database, -wal and -shm' },
      },
    },
    providers: {
      type: 'object',
      properties: {
        ok: { type: 'boolean' },
        failing: { type: 'array', items: { type: 'object', properties: { pools: { type: 'array', items: { type: 'string' } }, kind: { type: 'string' }, error: { type: 'string' } } } },
      },
    },
    webhook: { type: 'object', properties: { ok: { type: 'boolean' }, enabled: { type: 'boolean' } } },
    github: {
      type: 'object',
      description: 'the last comparison with GitHub (not part of readiness)',
      properties: { ok: { type: ['boolean', 'null'] }, atMs: { type: ['integer', 'null'] }, error: nullableString },
    },
  },
} as const;

const statusSchema = {
  type: 'object',
  required: ['controllerId', 'generatedAtMs', 'pollIntervalSeconds', 'pools', 'reconciles', 'health'],
  properties: {
    controllerId: { type: 'string' },
    health: healthSchema,
    unservableJobs: { type: 'integer', description: 'open jobs no pool can serve (runner-group access, public repository, labels)' },
    generatedAtMs: { type: 'integer' },
    pollIntervalSeconds: { type: 'integer', description: 'the reconcile timer' },
    reconciles: { type: 'integer' },
    isDraining: { type: 'boolean', description: 'a drain started (shutdown with --drain): nothing is launched, idle runners are scaled down' },
    lastReconcileMs: { type: ['number', 'null'] },
    pools: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'activeRunners', 'maxConcurrent', 'minIdle', 'pollIntervalSeconds', 'jobTimeoutSeconds'],
        properties: {
          name: { type: 'string' },
          activeRunners: { type: 'array', items: activeRunnerSchema },
          maxConcurrent: { type: 'integer' },
          minIdle: { type: 'integer' },
          pollIntervalSeconds: { type: 'integer' },
          jobTimeoutSeconds: { type: 'integer' },
          bootTimeoutSeconds: { type: 'integer' },
          degraded: { type: 'boolean' },
          unservableJobs: { type: 'integer', description: 'open jobs matching its labels that its runner group may not serve' },
        },
      },
    },
  },
} as const;

/** `GET /status`: active runners (with job id and running seconds) and limits per pool. */
export async function statusRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const { store, controller, clock, controllerId, reconcileIntervalSeconds } = options.context;
  const readiness = readinessOf(options.context);
  app.get('/status', {
    schema: { summary: 'Active runners and limits per pool', tags: ['status'], security: [{ bearerAuth: [] }], response: { 200: statusSchema, 401: ref('Error') } },
  }, async () => {
    const now = clock.now();
    const byPool = new Map<string, Array<Record<string, unknown>>>();
    for (const runner of store.listLiveRunners()) {
      const list = byPool.get(runner.pool) ?? [];
      list.push({ id: runner.id, name: runner.name, state: runner.state, jobId: runner.jobId, runningSeconds: Math.max(0, Math.floor((now - runner.createdAtMs) / 1000)) });
      byPool.set(runner.pool, list);
    }
    const health = controller.health;
    const stats = controller.stats;
    const report = await readiness.check();
    const unservable = new Map(store.countUnservableJobs().map((row) => [row.pool, row.count]));
    return {
      controllerId,
      health: { ...report, store: { ...report.store, bytes: store.maintenance.fileBytes() }, github: controller.githubSync },
      unservableJobs: [...unservable.values()].reduce((a, b) => a + b, 0),
      generatedAtMs: now,
      pollIntervalSeconds: reconcileIntervalSeconds,
      reconciles: stats.reconciles,
      isDraining: controller.isDraining,
      lastReconcileMs: stats.last ? Math.round(stats.last.durationMs * 10) / 10 : null,
      pools: controller.effectivePools().map((pool) => ({
        name: pool.name,
        activeRunners: byPool.get(pool.name) ?? [],
        maxConcurrent: pool.max,
        minIdle: pool.minIdle,
        pollIntervalSeconds: reconcileIntervalSeconds,
        jobTimeoutSeconds: Math.round(pool.jobTimeoutMs / 1000),
        bootTimeoutSeconds: Math.round(pool.bootTimeoutMs / 1000),
        degraded: (health[pool.name]?.consecutiveFailures ?? 0) >= DEGRADED_AFTER_FAILURES,
        unservableJobs: unservable.get(pool.name) ?? 0,
      })),
    };
  });
}
