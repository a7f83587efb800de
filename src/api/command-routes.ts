import type { FastifyInstance } from 'fastify';
import { JitpoolError } from '../core/index.ts';
import type { ApiContext } from './context.ts';
import { errorResponses } from './schemas.ts';

/**
 * `POST /api/v1/commands/:name`: the CLI's acting commands (`jitpool recover`, `reconcile --once`,
 * `cleanup`, `guard`, `pool scale`, `doctor --cleanup-*`) run here, inside the daemon that holds
 * the store lease, instead of in a second process that would act on the same store beside it.
 */
export async function commandRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const { context } = options;
  app.post('/api/v1/commands/:name', {
    schema: {
      summary: 'Run an acting CLI command inside the daemon (the store has one writer)',
      tags: ['commands'],
      security: [{ bearerAuth: [] }],
      params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[a-z][a-z-]{0,40}$' } } },
      body: { type: 'object', additionalProperties: true },
      response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 404, 409) },
    },
  }, async (request) => {
    const { name } = request.params as { name: string };
    if (!context.runCommand) throw new JitpoolError('JP_API_NOT_FOUND', 'this server runs no commands');
    return context.runCommand(name, request.body ?? {});
  });
}
