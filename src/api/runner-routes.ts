import type { FastifyInstance } from 'fastify';
import { RUNNER_STATES, LIVE_RUNNER_STATES, type RunnerState } from '../store/index.ts';
import type { ApiContext } from './context.ts';
import { errorResponses, ref, runnerView } from './schemas.ts';

const STATE_FILTER = `^(live|${RUNNER_STATES.join('|')})(,(live|${RUNNER_STATES.join('|')}))*$`;
const security = [{ bearerAuth: [] }];
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } } } as const;

/** Parses `state=idle,busy` (and `live`: every state but removed) into states. */
export function parseRunnerStates(value: string | undefined): RunnerState[] | undefined {
  if (!value) return undefined;
  const states = new Set<RunnerState>();
  for (const part of value.split(',')) {
    if (part === 'live') for (const state of LIVE_RUNNER_STATES) states.add(state);
    else states.add(part as RunnerState);
  }
  return [...states];
}

/** `/api/v1/runners`: list, launch into a pool, inspect, remove (deregistration first). */
export async function runnerRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const { store, controller, clock } = options.context;

  app.get('/api/v1/runners', {
    schema: {
      summary: 'Runners, newest first',
      tags: ['runners'],
      security,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          state: { type: 'string', pattern: STATE_FILTER, description: 'comma-separated states; `live` means every state but removed' },
          pool: { type: 'string', maxLength: 64 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          offset: { type: 'integer', minimum: 0, default: 0 },
        },
      },
      response: {
        200: { type: 'object', required: ['runners', 'limit', 'offset'], properties: { runners: { type: 'array', items: ref('Runner') }, limit: { type: 'integer' }, offset: { type: 'integer' } } },
        ...errorResponses(400, 401),
      },
    },
  }, async (request) => {
    const query = request.query as { state?: string; pool?: string; limit: number; offset: number };
    const now = clock.now();
    const runners = store.listRunners({ states: parseRunnerStates(query.state), pool: query.pool, limit: query.limit, offset: query.offset });
    return { runners: runners.map((runner) => runnerView(runner, now)), limit: query.limit, offset: query.offset };
  });

  app.post('/api/v1/runners', {
    schema: {
      summary: 'Launch one runner into a pool (on top of demand, within the pool max)',
      description: 'The launch is planned by the next reconcile like any other; like every idle runner beyond demand it is scaled down after the pool idle grace unless a job takes it.',
      tags: ['runners'],
      security,
      body: { type: 'object', required: ['pool'], additionalProperties: false, properties: { pool: { type: 'string', minLength: 1, maxLength: 64 } } },
      response: { 201: ref('Runner'), ...errorResponses(400, 401, 404, 409, 503) },
    },
  }, async (request, reply) => {
    const { pool } = request.body as { pool: string };
    const runner = await controller.launchRunner(pool);
    return reply.code(201).send(runnerView(runner, clock.now()));
  });

  app.get('/api/v1/runners/:id', {
    schema: { summary: 'One runner, with the tail of its output', tags: ['runners'], security, params: idParams, response: { 200: ref('Runner'), ...errorResponses(401, 404) } },
  }, async (request) => {
    const { id } = request.params as { id: string };
    return runnerView(store.getRunner(id), clock.now(), true);
  });

  app.delete('/api/v1/runners/:id', {
    schema: {
      summary: 'Remove a runner: deregister it from GitHub first, then destroy its compute',
      description: 'A runner running a job is never killed: 409 JP_RUNNER_BUSY. A runner being launched or cleaned up answers 409 JP_RUNNER_ACTION_IN_FLIGHT.',
      tags: ['runners'],
      security,
      params: idParams,
      response: { 200: ref('Runner'), ...errorResponses(401, 404, 409, 503) },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    return runnerView(await controller.removeRunner(id), clock.now());
  });
}
