import type { FastifyInstance, FastifyRequest } from 'fastify';
import { jobResource, runResource } from './github-shapes.ts';
import { runContextFields } from './run-context.ts';
import { idParam, paginate, sendCacheable, sendNotFound } from './http-helpers.ts';
import type { SimContext } from './sim-context.ts';
import type { RunRecord } from './sim-state.ts';

/** True when the run or job belongs to the repository in the request's path (case-insensitive, as GitHub). */
function inRepo(request: FastifyRequest, item: { owner: string; repo: string }): boolean {
  const { owner = '', repo = '' } = request.params as Record<string, string | undefined>;
  return item.owner.toLowerCase() === owner.toLowerCase() && item.repo.toLowerCase() === repo.toLowerCase();
}

/** The run in the request's path, if it exists in that repository. */
function runInPath(ctx: SimContext, request: FastifyRequest): RunRecord | undefined {
  const id = idParam(request.params, 'run_id');
  const run = id === null ? undefined : ctx.state.run(id);
  return run && inRepo(request, run) ? run : undefined;
}

/** GitHub's workflow run and job endpoints that a poller backstop uses. */
export function registerWorkflowRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.get('/repos/:owner/:repo/actions/jobs/:job_id', (request, reply) => {
    const id = idParam(request.params, 'job_id');
    const job = id === null ? undefined : ctx.state.job(id);
    if (!job || !inRepo(request, job)) return sendNotFound(reply);
    return sendCacheable(request, reply, jobResource(job, ctx.state.run(job.runId), ctx.baseUrl()));
  });

  app.get('/repos/:owner/:repo/actions/runs', (request, reply) => {
    const query = (request.query as Record<string, unknown> | undefined) ?? {};
    const wanted = query.status;
    const branch = query.branch;
    // Newest first, as GitHub lists them; `status` matches a status or a conclusion.
    const all = ctx.state
      .runRecords()
      .filter((run) => inRepo(request, run))
      .filter((run) => typeof branch !== 'string' || branch === '' || run.headBranch === branch)
      .filter((run) => {
        if (typeof wanted !== 'string' || wanted === '') return true;
        const { status, conclusion } = ctx.state.runStatus(run);
        return status === wanted || conclusion === wanted;
      })
      .reverse();
    const runs = paginate(request, reply, all, ctx.baseUrl()).map((run) => ({ ...runResource(run, ctx.state, ctx.baseUrl()), ...runContextFields(run, ctx.baseUrl()) }));
    return sendCacheable(request, reply, { total_count: all.length, workflow_runs: runs });
  });

  app.get('/repos/:owner/:repo/actions/runs/:run_id', (request, reply) => {
    const run = runInPath(ctx, request);
    return run ? sendCacheable(request, reply, { ...runResource(run, ctx.state, ctx.baseUrl()), ...runContextFields(run, ctx.baseUrl()) }) : sendNotFound(reply);
  });

  app.get('/repos/:owner/:repo/actions/runs/:run_id/jobs', (request, reply) => {
    const run = runInPath(ctx, request);
    if (!run) return sendNotFound(reply);
    // One attempt per run here, so `filter=latest` and `filter=all` list the same jobs.
    const all = run.jobIds.map((id) => ctx.state.job(id)).filter((job) => job !== undefined);
    const jobs = paginate(request, reply, all, ctx.baseUrl()).map((job) => jobResource(job, run, ctx.baseUrl()));
    return sendCacheable(request, reply, { total_count: all.length, jobs });
  });
}
