import type { FastifyInstance } from 'fastify';
import { JOB_STATES, type JobState } from '../store/index.ts';
import type { ApiContext } from './context.ts';
import { errorResponses, jobView, ref } from './schemas.ts';

const STATE_FILTER = `^(${JOB_STATES.join('|')})(,(${JOB_STATES.join('|')}))*$`;

/** `GET /api/v1/jobs`: workflow jobs with their queue wait, filtered and paged. */
export async function jobRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const { store } = options.context;
  app.get('/api/v1/jobs', {
    schema: {
      summary: 'Workflow jobs, newest first',
      tags: ['jobs'],
      security: [{ bearerAuth: [] }],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          state: { type: 'string', pattern: STATE_FILTER, description: 'comma-separated states' },
          pool: { type: 'string', maxLength: 64 },
          unservable: { type: 'boolean', description: 'only open jobs no pool can serve (with the reason)' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          offset: { type: 'integer', minimum: 0, default: 0 },
        },
      },
      response: {
        200: { type: 'object', required: ['jobs', 'limit', 'offset'], properties: { jobs: { type: 'array', items: ref('Job') }, limit: { type: 'integer' }, offset: { type: 'integer' } } },
        ...errorResponses(400, 401),
      },
    },
  }, async (request) => {
    const query = request.query as { state?: string; pool?: string; unservable?: boolean; limit: number; offset: number };
    const states = query.state ? (query.state.split(',') as JobState[]) : undefined;
    const jobs = query.unservable
      ? store.listUnservableJobs(query.offset + query.limit).slice(query.offset).filter((job) => !query.pool || job.pool === query.pool)
      : store.listJobs({ states, pool: query.pool, limit: query.limit, offset: query.offset });
    return { jobs: jobs.map(jobView), limit: query.limit, offset: query.offset };
  });
}
