import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isJitpoolError } from '../core/index.ts';
import { bearerToken } from './http-helpers.ts';
import type { SimContext } from './sim-context.ts';
import type { RunnerRecord } from './sim-state.ts';
import type { SimJobConclusion } from './types.ts';

/** What `acquire` hands the fake runner: the job and how to behave. */
export interface AcquiredJob {
  id: number;
  name: string;
  durationMs: number;
  conclusion: 'success' | 'failure';
  dieMidJob: boolean;
}

const CONCLUSIONS: readonly SimJobConclusion[] = ['success', 'failure', 'cancelled'];

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The runner's own protocol under `/_sim/` (a stand-in for the Actions service the real runner
 * talks to): `online`, `acquire` (long poll, each one a heartbeat), `heartbeat` (while busy),
 * `complete`. The runner authenticates with the OAuth client id from its JIT config. A deleted
 * registration answers 404, which the runner treats as "registration deleted".
 */
export function registerRunnerProtocolRoutes(app: FastifyInstance, ctx: SimContext): void {
  /** The authenticated runner, or null once an error answer was sent. */
  const authenticate = (request: FastifyRequest, reply: FastifyReply): RunnerRecord | null => {
    const id = Number((request.params as Record<string, string>).agentId);
    const runner = Number.isInteger(id) ? ctx.state.runner(id) : undefined;
    if (!runner) {
      void reply.code(404).send({ message: 'Runner registration not found' });
      return null;
    }
    const token = bearerToken(request);
    if (token === null || !sameSecret(token, runner.secret)) {
      void reply.code(401).send({ message: 'Bad credentials' });
      return null;
    }
    return runner;
  };

  app.post('/_sim/oauth', (_request, reply) => reply.send({ access_token: 'sim-session', token_type: 'bearer', expires_in: 3600 }));

  app.post('/_sim/runners/:agentId/online', (request, reply) => {
    const runner = authenticate(request, reply);
    if (!runner) return reply;
    ctx.state.markOnline(runner);
    return reply.send({ heartbeatIntervalMs: ctx.heartbeatIntervalMs, acquirePollMs: ctx.acquirePollMs });
  });

  app.post('/_sim/runners/:agentId/acquire', async (request, reply) => {
    const runner = authenticate(request, reply);
    if (!runner) return reply;
    const clientGone = new AbortController();
    reply.raw.once('close', () => clientGone.abort());
    const outcome = await ctx.state.acquire(runner, ctx.acquirePollMs, AbortSignal.any([clientGone.signal, ctx.closing]));
    if (outcome.kind === 'gone') return reply.code(404).send({ message: 'Runner registration has been deleted' });
    if (outcome.kind === 'none') return reply.code(204).send();
    const { job } = outcome;
    const acquired: AcquiredJob = {
      id: job.id,
      name: job.name,
      durationMs: job.durationMs,
      conclusion: job.plannedConclusion,
      dieMidJob: job.isDieMidJob,
    };
    return reply.send({ job: acquired, heartbeatIntervalMs: ctx.heartbeatIntervalMs });
  });

  app.post('/_sim/runners/:agentId/heartbeat', (request, reply) => {
    const runner = authenticate(request, reply);
    if (!runner) return reply;
    ctx.state.touch(runner);
    const job = runner.jobId === null ? undefined : ctx.state.job(runner.jobId);
    return reply.send({ cancelRequested: job?.isCancelRequested ?? false });
  });

  app.post('/_sim/runners/:agentId/complete', (request, reply) => {
    const runner = authenticate(request, reply);
    if (!runner) return reply;
    const body = (request.body ?? {}) as { jobId?: unknown; conclusion?: unknown };
    const conclusion = CONCLUSIONS.find((c) => c === body.conclusion);
    if (typeof body.jobId !== 'number' || conclusion === undefined) {
      return reply.code(400).send({ message: 'expected { jobId: number, conclusion: success|failure|cancelled }' });
    }
    try {
      const job = ctx.state.completeJob(runner, body.jobId, conclusion);
      return reply.send({ jobId: job.id, conclusion: job.conclusion });
    } catch (err) {
      if (isJitpoolError(err, 'JP_INPUT_INVALID')) return reply.code(409).send({ message: err.message });
      throw err;
    }
  });
}
