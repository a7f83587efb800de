import type { FastifyInstance } from 'fastify';
import { DEGRADED_AFTER_FAILURES, resolvePoolScale } from '../controller/index.ts';
import { JitpoolError, percentile } from '../core/index.ts';
import { describeScope } from '../github/index.ts';
import type { ApiContext } from './context.ts';
import { errorResponses, ref } from './schemas.ts';

const security = [{ bearerAuth: [] }];

/** Every pool with its sizing in use, runner counts by phase, queued jobs and launch health. */
export function poolViews(context: ApiContext): Array<Record<string, unknown>> {
  const counts = new Map<string, { booting: number; idle: number; busy: number; stopping: number; total: number }>();
  for (const runner of context.store.listLiveRunners()) {
    const count = counts.get(runner.pool) ?? { booting: 0, idle: 0, busy: 0, stopping: 0, total: 0 };
    if (runner.state === 'requested' || runner.state === 'provisioning') count.booting += 1;
    else if (runner.state === 'idle') count.idle += 1;
    else if (runner.state === 'busy') count.busy += 1;
    else count.stopping += 1;
    count.total += 1;
    counts.set(runner.pool, count);
  }
  const queued = new Map<string, number>();
  for (const job of context.store.listOpenJobs()) if (job.state === 'queued' && job.pool && !job.unservableReason) queued.set(job.pool, (queued.get(job.pool) ?? 0) + 1);
  const unservable = new Map(context.store.countUnservableJobs().map((row) => [row.pool, row.count]));
  const health = context.controller.health;
  return context.controller.effectivePools().map((pool) => {
    const poolHealth = health[pool.name];
    return {
      name: pool.name,
      labels: [...pool.labels],
      scope: describeScope(pool.scope),
      minIdle: pool.minIdle,
      max: pool.max,
      bootTimeoutSeconds: Math.round(pool.bootTimeoutMs / 1000),
      jobTimeoutSeconds: Math.round(pool.jobTimeoutMs / 1000),
      counts: counts.get(pool.name) ?? { booting: 0, idle: 0, busy: 0, stopping: 0, total: 0 },
      queued: queued.get(pool.name) ?? 0,
      bootToOnline: bootToOnline(context.store.bootToOnlineMs(pool.name)),
      unservable: unservable.get(pool.name) ?? 0,
      health: {
        degraded: (poolHealth?.consecutiveFailures ?? 0) >= DEGRADED_AFTER_FAILURES,
        consecutiveFailures: poolHealth?.consecutiveFailures ?? 0,
        lastError: poolHealth?.lastError ?? null,
      },
      override: pool.override,
    };
  });
}

/** Boot-to-online figures of a pool's latest launches (null without samples). */
export function bootToOnline(samplesMs: readonly number[]): { p50Ms: number | null; p95Ms: number | null; samples: number } {
  if (samplesMs.length === 0) return { p50Ms: null, p95Ms: null, samples: 0 };
  return { p50Ms: Math.round(percentile(samplesMs, 50)), p95Ms: Math.round(percentile(samplesMs, 95)), samples: samplesMs.length };
}

/** `/api/v1/pools`: the pools, and an operator's sizing (the API twin of `jitpool pool scale`). */
export async function poolRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const { context } = options;
  app.get('/api/v1/pools', {
    schema: {
      summary: 'Pools with sizing, runner counts, queued jobs and health',
      tags: ['pools'],
      security,
      response: { 200: { type: 'object', required: ['pools'], properties: { pools: { type: 'array', items: ref('Pool') } } }, ...errorResponses(401) },
    },
  }, async () => ({ pools: poolViews(context) }));

  app.post('/api/v1/pools/:name/scale', {
    schema: {
      summary: 'Set a pool sizing: min, max and target (clamped to [min, max]); applied at the next reconcile',
      tags: ['pools'],
      security,
      params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } },
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: { min: { type: 'integer', minimum: 0 }, max: { type: 'integer', minimum: 1 }, target: { type: 'integer', minimum: 0 } },
      },
      response: {
        200: {
          type: 'object',
          required: ['pool', 'requestedTarget', 'isClamped'],
          properties: { pool: ref('Pool'), requestedTarget: { type: 'integer' }, isClamped: { type: 'boolean' } },
        },
        ...errorResponses(400, 401, 404),
      },
    },
  }, async (request) => {
    const { name } = request.params as { name: string };
    const pool = context.controller.effectivePools().find((p) => p.name === name);
    if (!pool) throw new JitpoolError('JP_POOL_NOT_FOUND', `no pool named ${name}`, { details: { pool: name } });
    const base = pool.override ? { minIdle: pool.override.minIdle, max: pool.override.max } : { minIdle: pool.minIdle, max: pool.max };
    const scale = resolvePoolScale(base, request.body as { min?: number; max?: number; target?: number });
    context.store.setPoolOverride({ pool: name, minIdle: scale.minIdle, max: scale.max, target: scale.target, actor: 'api' });
    context.controller.kick('pool scaled');
    return { pool: poolViews(context).find((p) => p.name === name), requestedTarget: scale.requestedTarget, isClamped: scale.isClamped };
  });
}
