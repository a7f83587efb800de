import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { setTimeout as delay } from 'node:timers/promises';
import { isJitpoolError } from '../core/index.ts';
import type { FaultInjector } from './fault-injector.ts';
import { bearerToken, endpointKey, scopeHtmlUrl } from './http-helpers.ts';
import { encodeJitConfig } from './jit-config.ts';
import type { ScaleSetLabel, ScaleSetRecord, SessionRecord, SimScaleSets } from './scale-sets.ts';
import type { SimContext } from './sim-context.ts';
import { scopeKey, type RunnerRecord } from './sim-state.ts';
import type { SimScope } from './types.ts';

/** Where the simulated Actions service lives (the `url` of `runner-registration`); not a REST path, not rate limited. */
export const ACTIONS_SERVICE_PREFIX = '/_sim/actions-service';
/** Where the simulated message broker lives (`messageQueueUrl`). */
export const BROKER_PREFIX = '/_sim/broker';

const SCALE_SETS = `${ACTIONS_SERVICE_PREFIX}/_apis/runtime/runnerscalesets`;
const AGENTS = `${ACTIONS_SERVICE_PREFIX}/_apis/distributedtask/pools/0/agents`;
const EXCEPTION_NAMESPACE = 'GitHub.Actions.Runtime.WebApi';

/** Registration tokens the REST API issued, by token: the scope they register into and their expiry. */
export type RegistrationTokens = Map<string, { scope: SimScope; expiresAtMs: number }>;

/** The Actions service's error body: a .NET exception with its type name (what the client matches on). */
function sendException(reply: FastifyReply, status: number, exception: string, message: string): FastifyReply {
  return reply.code(status).send({
    $id: '1', innerException: null, message, typeName: `${EXCEPTION_NAMESPACE}.${exception}, ${EXCEPTION_NAMESPACE}`, typeKey: exception, errorCode: 0, eventId: 3000,
  });
}

/** The scope of a config URL (`https://github.com/org`, `…/org/repo`, `…/enterprises/x`), or null. */
function scopeOfConfigUrl(raw: unknown): SimScope | null {
  if (typeof raw !== 'string') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const parts = url.pathname.split('/').filter((part) => part !== '');
  if (parts.length === 1 && parts[0]) return { kind: 'org', org: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) {
    return parts[0].toLowerCase() === 'enterprises' ? { kind: 'enterprise', enterprise: parts[1] } : { kind: 'repo', owner: parts[0], repo: parts[1] };
  }
  return null;
}

function labelsOf(raw: unknown): ScaleSetLabel[] | null {
  if (!Array.isArray(raw)) return null;
  const labels: ScaleSetLabel[] = [];
  for (const item of raw) {
    const name = (item as Record<string, unknown> | null)?.name;
    if (typeof name !== 'string' || name.trim() === '') return null;
    const type = (item as Record<string, unknown>).type;
    labels.push({ type: typeof type === 'string' && type !== '' ? type : 'System', name });
  }
  return labels;
}

/**
 * The scale-set protocol the `actions/scaleset` client speaks: `POST /actions/runner-registration`
 * on the REST API (RemoteAuth with a registration token → the Actions service URL and an admin
 * JWT), the service's runner groups, scale sets, sessions, acquire, JIT configs and agents, and
 * the broker's message queue (long poll, delete).
 */
export function registerScaleSetRoutes(app: FastifyInstance, ctx: SimContext, sets: SimScaleSets, registrationTokens: RegistrationTokens, faults?: FaultInjector): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith(ACTIONS_SERVICE_PREFIX) && !request.url.startsWith(BROKER_PREFIX)) return;
    sets.calls.total += 1;
    const key = endpointKey(request).replace(ACTIONS_SERVICE_PREFIX, '').replace(BROKER_PREFIX, '/broker');
    sets.calls.byEndpoint[key] = (sets.calls.byEndpoint[key] ?? 0) + 1;
    // The REST faults (`5xx`, `429burst`, `latency`, also scoped by these endpoint keys) apply to the Actions service as well.
    const latencyMs = faults?.latencyMs(key) ?? 0;
    if (latencyMs > 0) await delay(latencyMs, undefined, { signal: ctx.closing }).catch(() => undefined);
    const fault = faults?.apiFault(key);
    if (fault?.kind === 'throttle') return sendException(reply.header('retry-after', '1'), 429, 'TooManyRequestsException', 'Too many requests (injected fault).');
    if (fault?.kind === 'error') return sendException(reply, fault.status, 'ServiceUnavailableException', 'The Actions service is unavailable (injected fault).');
  });

  app.post('/actions/runner-registration', (request, reply) => {
    const match = /^RemoteAuth\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    const issued = match?.[1] === undefined ? undefined : registrationTokens.get(match[1]);
    if (!issued || issued.expiresAtMs <= Date.now()) return reply.code(401).send({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    const body = (request.body ?? {}) as Record<string, unknown>;
    const scope = scopeOfConfigUrl(body.url);
    if (scope === null || body.runner_event !== 'register') return reply.code(422).send({ message: 'Invalid url or runner_event' });
    if (scopeKey(scope) !== scopeKey(issued.scope)) return reply.code(403).send({ message: 'The registration token does not belong to this url' });
    return reply.send({ url: `${ctx.origin()}${ACTIONS_SERVICE_PREFIX}/`, token: sets.issueAdminToken(scope) });
  });

  /** The scope key the request's admin token grants, or null after answering 401. */
  const admin = (request: FastifyRequest, reply: FastifyReply): string | null => {
    const token = bearerToken(request);
    const scope = token === null ? null : sets.verifyAdminToken(token);
    if (scope === null) void reply.code(401).send({ message: 'TF400813: The user is not authorized to access this resource.' });
    return scope;
  };
  /** The set of the route's `:id` in the admin token's scope, or null after answering. */
  const setOf = (request: FastifyRequest, reply: FastifyReply, scope: string): ScaleSetRecord | null => {
    const set = sets.get(Number((request.params as Record<string, string>).id));
    if (!set || scopeKey(set.scope) !== scope) {
      void sendException(reply, 404, 'RunnerScaleSetNotFoundException', `The runner scale set ${String((request.params as Record<string, string>).id)} does not exist.`);
      return null;
    }
    return set;
  };
  const resource = (set: ScaleSetRecord): Record<string, unknown> => ({
    id: set.id, name: set.name, runnerGroupId: set.runnerGroupId, runnerGroupName: ctx.state.groups.nameOf(set.runnerGroupId), labels: set.labels,
    RunnerSetting: { disableUpdate: set.disableUpdate }, createdOn: new Date(set.createdAtMs).toISOString(),
    runnerJitConfigUrl: `${ctx.origin()}${SCALE_SETS}/${set.id}/generatejitconfig`, statistics: sets.statistics(set),
  });
  const sessionResource = (session: SessionRecord, set: ScaleSetRecord): Record<string, unknown> => ({
    sessionId: session.sessionId, ownerName: session.ownerName, runnerScaleSet: resource(set),
    messageQueueUrl: `${ctx.origin()}${BROKER_PREFIX}/sessions/${session.sessionId}/messages`, messageQueueAccessToken: session.queueToken,
    statistics: sets.statistics(set),
  });

  app.get(`${ACTIONS_SERVICE_PREFIX}/_apis/runtime/runnergroups/`, (request, reply) => {
    if (admin(request, reply) === null) return reply;
    const name = String((request.query as Record<string, unknown>).groupName ?? '');
    const groups = ctx.state.groups.list().filter((group) => group.name.toLowerCase() === name.toLowerCase());
    return reply.send({ count: groups.length, value: groups.map((g) => ({ id: g.id, name: g.name, size: 0, isDefaultGroup: g.isDefault })) });
  });

  app.get(SCALE_SETS, (request, reply) => {
    const scope = admin(request, reply);
    if (scope === null) return reply;
    const query = request.query as Record<string, unknown>;
    const groupId = Number(query.runnerGroupId ?? 0);
    const name = typeof query.name === 'string' ? query.name.toLowerCase() : null;
    const found = sets.list().filter((set) => scopeKey(set.scope) === scope && (groupId === 0 || set.runnerGroupId === groupId) && (name === null || set.name.toLowerCase() === name));
    return reply.send({ count: found.length, value: found.map(resource) });
  });

  app.post(SCALE_SETS, (request, reply) => {
    const scope = admin(request, reply);
    if (scope === null) return reply;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const labels = labelsOf(body.labels);
    const groupId = typeof body.runnerGroupId === 'number' ? body.runnerGroupId : 1;
    if (typeof body.name !== 'string' || body.name === '' || labels === null || labels.length === 0) {
      return sendException(reply, 400, 'InvalidRunnerScaleSetException', 'A runner scale set needs a name and at least one label.');
    }
    const issuedScope = sets.scopeOf(scope);
    if (!issuedScope) return reply.code(401).send({ message: 'TF400813: The user is not authorized to access this resource.' });
    if (!ctx.state.groups.get(groupId)) return sendException(reply, 404, 'RunnerGroupNotFoundException', `Runner group ${groupId} does not exist.`);
    const setting = (body.RunnerSetting ?? {}) as Record<string, unknown>;
    const created = sets.create({ name: body.name, scope: issuedScope, runnerGroupId: groupId, labels, disableUpdate: setting.disableUpdate === true });
    if (!created) return sendException(reply, 409, 'RunnerScaleSetExistsException', `A runner scale set named ${body.name} already exists in runner group ${groupId}.`);
    return reply.send(resource(created));
  });

  app.get(`${SCALE_SETS}/:id`, (request, reply) => {
    const scope = admin(request, reply);
    const set = scope === null ? null : setOf(request, reply, scope);
    return set ? reply.send(resource(set)) : reply;
  });

  app.patch(`${SCALE_SETS}/:id`, (request, reply) => {
    const scope = admin(request, reply);
    const set = scope === null ? null : setOf(request, reply, scope);
    if (!set) return reply;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const labels = body.labels === undefined ? undefined : labelsOf(body.labels);
    if (labels === null) return sendException(reply, 400, 'InvalidRunnerScaleSetException', 'Invalid labels.');
    const setting = body.RunnerSetting as Record<string, unknown> | undefined;
    sets.update(set, { name: typeof body.name === 'string' && body.name !== '' ? body.name : undefined, labels, disableUpdate: setting === undefined ? undefined : setting.disableUpdate === true });
    return reply.send(resource(set));
  });

  app.delete(`${SCALE_SETS}/:id`, (request, reply) => {
    const scope = admin(request, reply);
    const set = scope === null ? null : setOf(request, reply, scope);
    if (!set) return reply;
    sets.delete(set.id);
    return reply.code(204).send();
  });

  app.post(`${SCALE_SETS}/:id/sessions`, (request, reply) => {
    const scope = admin(request, reply);
    const set = scope === null ? null : setOf(request, reply, scope);
    if (!set) return reply;
    const ownerName = String(((request.body ?? {}) as Record<string, unknown>).ownerName ?? '');
    const session = sets.createSession(set, ownerName);
    if (session === 'conflict') {
      return sendException(reply, 409, 'RunnerScaleSetSessionConflictException', `The runner scale set ${set.name} already has an active session for owner ${ownerName}.`);
    }
    return reply.send(sessionResource(session, set));
  });

  const sessionOf = (request: FastifyRequest, reply: FastifyReply, set: ScaleSetRecord): SessionRecord | null => {
    const session = sets.session(String((request.params as Record<string, string>).sessionId));
    if (!session || session.scaleSetId !== set.id) {
      void sendException(reply, 404, 'TaskAgentSessionExpiredException', 'The message session does not exist or has expired.');
      return null;
    }
    return session;
  };

  app.patch(`${SCALE_SETS}/:id/sessions/:sessionId`, (request, reply) => {
    const scope = admin(request, reply);
    const set = scope === null ? null : setOf(request, reply, scope);
    const session = set ? sessionOf(request, reply, set) : null;
    return session && set ? reply.send(sessionResource(sets.refreshSession(session), set)) : reply;
  });

  app.delete(`${SCALE_SETS}/:id/sessions/:sessionId`, (request, reply) => {
    const scope = admin(request, reply);
    const set = scope === null ? null : setOf(request, reply, scope);
    const session = set ? sessionOf(request, reply, set) : null;
    if (!session) return reply;
    sets.deleteSession(session.sessionId);
    return reply.code(204).send();
  });

  app.post(`${SCALE_SETS}/:id/acquirejobs`, (request, reply) => {
    const session = queueSession(request, reply);
    if (!session) return reply;
    const set = sets.get(Number((request.params as Record<string, string>).id));
    if (!set || set.id !== session.scaleSetId) return sendException(reply, 404, 'RunnerScaleSetNotFoundException', 'The runner scale set does not exist.');
    const ids = request.body;
    if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id))) return sendException(reply, 400, 'ArgumentException', 'The body must be an array of runner request ids.');
    const acquired = sets.acquire(set, ids as number[]);
    return reply.send({ count: acquired.length, value: acquired });
  });

  app.post(`${SCALE_SETS}/:id/generatejitconfig`, (request, reply) => {
    const scope = admin(request, reply);
    const set = scope === null ? null : setOf(request, reply, scope);
    if (!set) return reply;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body.name !== 'string' || body.name.trim() === '') return sendException(reply, 400, 'ArgumentException', 'The runner needs a name.');
    let runner: RunnerRecord;
    try {
      runner = ctx.state.registerRunner({ name: body.name, scope: set.scope, groupId: set.runnerGroupId, labels: set.labels.map((l) => l.name), scaleSetId: set.id });
    } catch (err) {
      if (isJitpoolError(err, 'JP_GITHUB_CONFLICT')) return sendException(reply, 409, 'AgentExistsException', `A runner with the name ${body.name} already exists.`);
      throw err;
    }
    const serverUrl = `${ctx.origin()}/_sim/`;
    const encoded = encodeJitConfig(
      {
        agentId: runner.id, agentName: runner.name, poolId: runner.groupId, poolName: ctx.state.groups.nameOf(runner.groupId), serverUrl,
        gitHubUrl: scopeHtmlUrl(set.scope), workFolder: typeof body.workFolder === 'string' && body.workFolder !== '' ? body.workFolder : '_work', ephemeral: true, useV2Flow: true,
      },
      { scheme: 'OAuth', data: { clientId: runner.secret, authorizationUrl: `${serverUrl}oauth`, requireFipsCryptography: 'False' } },
    );
    return reply.send({ runner: { id: runner.id, name: runner.name, runnerScaleSetId: set.id }, encodedJITConfig: encoded });
  });

  const agentResource = (runner: RunnerRecord): Record<string, unknown> => ({ id: runner.id, name: runner.name, runnerScaleSetId: runner.scaleSetId ?? 0 });
  const agentInScope = (request: FastifyRequest, scope: string): RunnerRecord | undefined => {
    const runner = ctx.state.runner(Number((request.params as Record<string, string>).agentId));
    return runner && scopeKey(runner.scope) === scope ? runner : undefined;
  };

  app.get(AGENTS, (request, reply) => {
    const scope = admin(request, reply);
    if (scope === null) return reply;
    const name = String((request.query as Record<string, unknown>).agentName ?? '');
    const found = ctx.state.runnerRecords().filter((runner) => scopeKey(runner.scope) === scope && runner.name === name);
    return reply.send({ count: found.length, value: found.map(agentResource) });
  });

  app.get(`${AGENTS}/:agentId`, (request, reply) => {
    const scope = admin(request, reply);
    if (scope === null) return reply;
    const runner = agentInScope(request, scope);
    return runner ? reply.send(agentResource(runner)) : sendException(reply, 404, 'AgentNotFoundException', 'The runner does not exist.');
  });

  app.delete(`${AGENTS}/:agentId`, (request, reply) => {
    const scope = admin(request, reply);
    if (scope === null) return reply;
    const runner = agentInScope(request, scope);
    if (!runner) return sendException(reply, 404, 'AgentNotFoundException', 'The runner does not exist.');
    try {
      ctx.state.deleteRunner(runner.id);
    } catch (err) {
      // The service refuses to remove a runner that runs a job (`JobStillRunningException`): it stays.
      if (isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY')) return sendException(reply, 400, 'JobStillRunningException', `Runner ${runner.name} is still running a job.`);
      throw err;
    }
    return reply.code(204).send();
  });

  /** The session whose queue token authorises the request, or null after answering 401. */
  const queueSession = (request: FastifyRequest, reply: FastifyReply): SessionRecord | null => {
    const token = bearerToken(request);
    const session = token === null ? null : sets.sessionByQueueToken(token);
    if (session === null || session === 'expired') {
      void reply.code(401).send({ message: session === 'expired' ? 'The message queue token has expired.' : 'Invalid message queue token.' });
      return null;
    }
    return session;
  };

  app.get(`${BROKER_PREFIX}/sessions/:sessionId/messages`, async (request, reply) => {
    const session = queueSession(request, reply);
    if (!session) return reply;
    if (session.sessionId !== (request.params as Record<string, string>).sessionId) return reply.code(401).send({ message: 'Invalid message queue token.' });
    if (!sets.get(session.scaleSetId)) return sendException(reply, 404, 'RunnerScaleSetNotFoundException', 'The runner scale set does not exist.');
    const lastMessageId = Number((request.query as Record<string, unknown>).lastMessageId ?? 0);
    const capacityHeader = request.headers['x-scalesetmaxcapacity'];
    const maxCapacity = typeof capacityHeader === 'string' && /^\d+$/.test(capacityHeader) ? Number(capacityHeader) : null;
    const clientGone = new AbortController();
    request.raw.once('close', () => clientGone.abort());
    const message = await sets.nextMessage(session, Number.isFinite(lastMessageId) ? lastMessageId : 0, maxCapacity, AbortSignal.any([clientGone.signal, ctx.closing]));
    if (!sets.get(session.scaleSetId)) return sendException(reply, 404, 'RunnerScaleSetNotFoundException', 'The runner scale set does not exist.');
    if (message === null) return reply.code(202).send();
    return reply.send(message);
  });

  app.delete(`${BROKER_PREFIX}/sessions/:sessionId/messages/:messageId`, (request, reply) => {
    const session = queueSession(request, reply);
    if (!session) return reply;
    sets.deleteMessage(session, Number((request.params as Record<string, string>).messageId));
    return reply.code(204).send();
  });
}
