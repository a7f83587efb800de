import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isJitpoolError } from '../core/index.ts';
import { runnerResource } from './github-shapes.ts';
import { idParam, paginate, scopeFromParams, scopeHtmlUrl, sendCacheable, sendError, sendNotFound } from './http-helpers.ts';
import { encodeJitConfig } from './jit-config.ts';
import type { SimContext } from './sim-context.ts';
import { scopeKey, type RunnerRecord } from './sim-state.ts';

/** The three scopes GitHub exposes self-hosted runners under. */
const SCOPE_PREFIXES = ['/repos/:owner/:repo', '/orgs/:org', '/enterprises/:enterprise'] as const;

/** GitHub's registration tokens look like 29 upper-case base32 characters. */
function registrationToken(): string {
  return randomBytes(24).toString('base64').replace(/[^A-Za-z]/g, '').toUpperCase().padEnd(29, 'A').slice(0, 29);
}

interface JitBody {
  name: string;
  runnerGroupId: number;
  labels: string[];
  workFolder: string;
}

/** Validates a generate-jitconfig body; returns the list of problems GitHub would name in a 422. */
function parseJitBody(body: unknown): JitBody | string[] {
  const b = (body ?? {}) as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof b.name !== 'string' || b.name.trim() === '') errors.push('name is missing or not a string');
  if (typeof b.runner_group_id !== 'number' || !Number.isInteger(b.runner_group_id) || b.runner_group_id < 1) {
    errors.push('runner_group_id is missing or not a positive integer');
  }
  const labels = b.labels;
  if (!Array.isArray(labels) || labels.length < 1 || labels.length > 100) {
    errors.push('labels must be an array of 1 to 100 labels');
  } else if (!labels.every((label) => typeof label === 'string' && label.trim() !== '' && label.length <= 256)) {
    errors.push('every label must be a non-empty string');
  }
  if (b.work_folder !== undefined && typeof b.work_folder !== 'string') errors.push('work_folder is not a string');
  if (errors.length > 0) return errors;
  return {
    name: String(b.name),
    runnerGroupId: Number(b.runner_group_id),
    labels: [...new Set(labels as string[])],
    workFolder: typeof b.work_folder === 'string' && b.work_folder !== '' ? b.work_folder : '_work',
  };
}

/** The registration `runner_id` names, if it exists in the route's scope. */
function runnerInScope(ctx: SimContext, request: FastifyRequest): RunnerRecord | undefined {
  const id = idParam(request.params, 'runner_id');
  const runner = id === null ? undefined : ctx.state.runner(id);
  if (!runner || scopeKey(runner.scope) !== scopeKey(scopeFromParams(request.params))) return undefined;
  return runner;
}

/**
 * GitHub's self-hosted runner endpoints for the repo, org and enterprise scopes: JIT configs,
 * registration tokens, list (paginated, conditional), get and delete.
 */
export function registerRunnerRoutes(app: FastifyInstance, ctx: SimContext): void {
  for (const prefix of SCOPE_PREFIXES) {
    app.post(`${prefix}/actions/runners/generate-jitconfig`, (request, reply) => generateJitConfig(ctx, request, reply));

    app.post(`${prefix}/actions/runners/registration-token`, (request, reply) => {
      const token = registrationToken();
      const expiresAtMs = Date.now() + 3_600_000;
      // Remembered: `POST /actions/runner-registration` (the scale-set client's auth) takes it as RemoteAuth.
      ctx.registrationTokens.set(token, { scope: scopeFromParams(request.params), expiresAtMs });
      return reply.code(201).send({ token, expires_at: new Date(expiresAtMs).toISOString() });
    });

    app.get(`${prefix}/actions/runners`, (request, reply) => {
      const nameFilter = (request.query as Record<string, unknown> | undefined)?.name;
      const all = ctx.state
        .runnersInScope(scopeFromParams(request.params))
        .filter((runner) => typeof nameFilter !== 'string' || runner.name === nameFilter);
      const runners = paginate(request, reply, all, ctx.baseUrl()).map(runnerResource);
      return sendCacheable(request, reply, { total_count: all.length, runners });
    });

    app.get(`${prefix}/actions/runners/:runner_id`, (request, reply) => {
      const runner = runnerInScope(ctx, request);
      return runner ? sendCacheable(request, reply, runnerResource(runner)) : sendNotFound(reply);
    });

    app.delete(`${prefix}/actions/runners/:runner_id`, (request, reply) => {
      const runner = runnerInScope(ctx, request);
      if (!runner) return sendNotFound(reply);
      try {
        ctx.state.deleteRunner(runner.id);
      } catch (err) {
        // GitHub refuses to remove a runner that is running a job.
        if (isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY')) return sendError(reply, 422, err.message);
        throw err;
      }
      ctx.log.debug({ runnerId: runner.id }, 'runner registration deleted through the API');
      return reply.code(204).send();
    });
  }
}

function generateJitConfig(ctx: SimContext, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const parsed = parseJitBody(request.body);
  if (Array.isArray(parsed)) return sendError(reply, 422, 'Validation Failed', { errors: parsed });
  const scope = scopeFromParams(request.params);
  // GitHub answers 404 for a runner group that does not exist; repository runners only have the default group.
  const group = ctx.state.groups.get(parsed.runnerGroupId);
  if (!group || (scope.kind === 'repo' && !group.isDefault)) return sendNotFound(reply);
  let runner: RunnerRecord;
  try {
    runner = ctx.state.registerRunner({ name: parsed.name, scope, groupId: parsed.runnerGroupId, labels: parsed.labels });
  } catch (err) {
    if (isJitpoolError(err, 'JP_GITHUB_CONFLICT')) return sendError(reply, 409, err.message);
    throw err;
  }
  const serverUrl = `${ctx.runnerOrigin()}/_sim/`;
  const encoded = encodeJitConfig(
    {
      agentId: runner.id,
      agentName: runner.name,
      poolId: runner.groupId,
      poolName: ctx.state.groups.nameOf(runner.groupId),
      serverUrl,
      gitHubUrl: scopeHtmlUrl(scope),
      workFolder: parsed.workFolder,
      ephemeral: true,
      useV2Flow: false,
    },
    {
      scheme: 'OAuth',
      data: { clientId: runner.secret, authorizationUrl: `${serverUrl}oauth`, requireFipsCryptography: 'False' },
    },
  );
  return reply.code(201).send({ runner: runnerResource(runner), encoded_jit_config: encoded });
}
