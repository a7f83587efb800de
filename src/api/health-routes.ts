import type { FastifyInstance } from 'fastify';
import { DEGRADED_AFTER_FAILURES } from '../controller/index.ts';
import type { ApiContext } from './context.ts';
import { ref } from './schemas.ts';

const readinessSchema = {
  type: 'object',
  required: ['ready', 'checks'],
  properties: {
    ready: { type: 'boolean' },
    checks: {
      type: 'object',
      properties: {
        store: { type: 'object', properties: { ok: { type: 'boolean' } } },
        github: {
          type: 'object',
          properties: { ok: { type: ['boolean', 'null'] }, atMs: { type: ['integer', 'null'] }, error: { type: ['string', 'null'] } },
        },
      },
    },
  },
} as const;

/** `GET /healthz` (liveness) and `GET /readyz` (store and GitHub reachable): public, never logged per request. */
export async function healthRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const { store, controller } = options.context;
  app.get('/healthz', {
    config: { public: true, quiet: true },
    schema: { summary: 'Liveness: the process answers', tags: ['health'], response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } } },
  }, async () => ({ ok: true }));

  app.get('/readyz', {
    config: { public: true, quiet: true },
    schema: {
      summary: 'Readiness: the store answers and the last comparison with GitHub succeeded',
      tags: ['health'],
      response: { 200: readinessSchema, 503: readinessSchema },
    },
  }, async (_request, reply) => {
    const storeOk = store.ping();
    const github = controller.githubSync;
    const ready = storeOk && github.ok === true;
    return reply.code(ready ? 200 : 503).send({ ready, checks: { store: { ok: storeOk }, github } });
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

const statusSchema = {
  type: 'object',
  required: ['controllerId', 'generatedAtMs', 'pollIntervalSeconds', 'pools', 'reconciles'],
  properties: {
    controllerId: { type: 'string' },
    generatedAtMs: { type: 'integer' },
    pollIntervalSeconds: { type: 'integer', description: 'the reconcile timer' },
    reconciles: { type: 'integer' },
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
        },
      },
    },
  },
} as const;

/** `GET /status`: seed 004's status (active runners with job id and running seconds, limits) per pool. */
export async function statusRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const { store, controller, clock, controllerId, reconcileIntervalSeconds } = options.context;
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
    return {
      controllerId,
      generatedAtMs: now,
      pollIntervalSeconds: reconcileIntervalSeconds,
      reconciles: stats.reconciles,
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
      })),
    };
  });
}
