import { JitpoolError, registerJitConfig, registerSecret, systemClock, type Clock, type Logger } from '../../core/index.ts';
import type { GitHubApi, GitHubScope, JitConfig } from '../types.ts';
import { isException, sendServiceRequest, serviceError, type ServiceHttpOptions, type ServiceRequest, type ServiceResponse } from './http.ts';
import { MessageSession } from './message-session.ts';
import type { RunnerReference, RunnerScaleSet, RunnerScaleSetSession, ScaleSetCallStats, ScaleSetRunnerGroup, ScaleSetSpec } from './types.ts';

const SCALE_SETS = '_apis/runtime/runnerscalesets';
const AGENTS = '_apis/distributedtask/pools/0/agents';
/** The reference refreshes the admin token when it expires within a minute. */
const REFRESH_BEFORE_EXPIRY_MS = 60_000;

/** Options of {@link createScaleSetClient}. */
export interface ScaleSetClientOptions {
  /** The REST base URL: https://api.github.com, https://HOST/api/v3 (GHES), or the simulator. */
  apiUrl: string;
  /** The scope the scale sets live in (the reference's config URL). */
  scope: GitHubScope;
  /** jitpool's one REST client (PAT or App): it mints the registration token the Actions-service token is exchanged for. */
  github: Pick<GitHubApi, 'createRegistrationToken'>;
  logger: Logger;
  clock?: Clock;
  /** @default 'jitpool' */
  userAgent?: string;
  /** @default 4 */
  retries?: number;
  /** @default 1000 */
  retryBaseMs?: number;
  /** @default 30000 */
  requestTimeoutMs?: number;
  /** Aborted at shutdown. */
  signal?: AbortSignal;
}

/**
 * The `https://github.com/<scope>` URL the Actions service knows a scope by (`runner-registration`'s
 * `url`), from the REST base URL: `api.github.com` → `github.com`, `api.<tenant>.ghe.com` →
 * `<tenant>.ghe.com`, `https://HOST/api/v3` (GHES) → `https://HOST`, anything else as it is.
 */
export function configUrl(apiUrl: string, scope: GitHubScope): string {
  const url = new URL(apiUrl.replace(/\/+$/, ''));
  let base: string;
  if (url.hostname === 'api.github.com') base = 'https://github.com';
  else if (/^api\.[^.]+\.ghe\.com$/.test(url.hostname)) base = `${url.protocol}//${url.hostname.slice(4)}`;
  else base = `${url.origin}${url.pathname.replace(/\/api\/v3$/, '')}`;
  base = base.replace(/\/+$/, '');
  switch (scope.kind) {
    case 'repo':
      return `${base}/${scope.owner}/${scope.repo}`;
    case 'org':
      return `${base}/${scope.org}`;
    case 'enterprise':
      return `${base}/enterprises/${scope.enterprise}`;
  }
}

/** The `exp` of a JWT in ms (unverified: the service verifies it; jitpool only needs to know when to refresh). */
function jwtExpiresAtMs(token: string): number {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    if (typeof claims.exp === 'number') return claims.exp * 1000;
  } catch {
    // fall through
  }
  throw new JitpoolError('JP_GITHUB_REQUEST', 'the Actions service token is not a JWT with an expiry; cannot tell when to refresh it');
}

/** The Actions-service client of one scope: admin connection, scale sets, sessions, JIT configs, agents. */
export interface ScaleSetClient {
  readonly scope: GitHubScope;
  getRunnerGroupByName(name: string): Promise<ScaleSetRunnerGroup>;
  /** The set of this name in the group, or null. */
  getScaleSet(runnerGroupId: number, name: string): Promise<RunnerScaleSet | null>;
  /** The set with this id, or null when it does not exist (deleted on GitHub's side). */
  getScaleSetById(id: number): Promise<RunnerScaleSet | null>;
  createScaleSet(spec: ScaleSetSpec): Promise<RunnerScaleSet>;
  updateScaleSet(id: number, spec: Partial<ScaleSetSpec>): Promise<RunnerScaleSet>;
  deleteScaleSet(id: number): Promise<void>;
  /** Opens a message session (throws `JP_SCALESET_SESSION_CONFLICT` while another holds it, `JP_GITHUB_NOT_FOUND` when the set is gone). */
  createSession(scaleSetId: number, ownerName: string): Promise<MessageSession>;
  /** Deletes a session by id (a stale one a previous process left); `not-found` when it is already gone. */
  deleteSession(scaleSetId: number, sessionId: string): Promise<'deleted' | 'not-found'>;
  /** Registers a runner through the set (its JIT config endpoint). The config is a secret. */
  generateJitConfig(scaleSetId: number, request: { name: string; workFolder: string }): Promise<JitConfig>;
  getRunner(runnerId: number): Promise<RunnerReference | null>;
  getRunnerByName(name: string): Promise<RunnerReference | null>;
  /** Removes a runner: `deleted`, `not-found`; throws `JP_GITHUB_RUNNER_BUSY` on `JobStillRunningException` (keep it). */
  removeRunner(runnerId: number): Promise<'deleted' | 'not-found'>;
  /** Actions-service and REST calls this client made (REST: registration tokens and `runner-registration`). */
  stats(): ScaleSetCallStats;
}

/** Creates the client; nothing is sent until the first call. */
export function createScaleSetClient(options: ScaleSetClientOptions): ScaleSetClient {
  const clock = options.clock ?? systemClock;
  const stats: ScaleSetCallStats = { total: 0, byEndpoint: {} };
  const http: ServiceHttpOptions = {
    logger: options.logger,
    userAgent: options.userAgent ?? 'jitpool',
    retries: options.retries ?? 4,
    retryBaseMs: options.retryBaseMs ?? 1000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    stats,
    signal: options.signal,
  };
  const log = options.logger.child({ component: 'scaleset' });
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  let admin: { serviceUrl: string; token: string; expiresAtMs: number } | null = null;
  let refreshing: Promise<void> | null = null;

  /** Registration token → `runner-registration` → the Actions-service URL and admin token (the reference's `updateTokenIfNeeded`). */
  async function refreshAdmin(): Promise<void> {
    const registration = await options.github.createRegistrationToken(options.scope);
    stats.total += 1;
    stats.byEndpoint['POST /{scope}/actions/runners/registration-token'] = (stats.byEndpoint['POST /{scope}/actions/runners/registration-token'] ?? 0) + 1;
    const request: ServiceRequest = {
      method: 'POST', url: `${apiUrl}/actions/runner-registration`, endpoint: 'POST /actions/runner-registration',
      authorization: `RemoteAuth ${registration.token}`, body: { url: configUrl(apiUrl, options.scope), runner_event: 'register' },
    };
    const response = await sendServiceRequest(http, request);
    if (response.status < 200 || response.status > 299) throw serviceError(request, response);
    const body = (response.body ?? {}) as { url?: unknown; token?: unknown };
    if (typeof body.url !== 'string' || body.url === '' || typeof body.token !== 'string' || body.token === '') {
      throw new JitpoolError('JP_GITHUB_REQUEST', 'runner-registration answered without the Actions service url or token');
    }
    registerSecret(body.token);
    admin = { serviceUrl: body.url.replace(/\/+$/, ''), token: body.token, expiresAtMs: jwtExpiresAtMs(body.token) };
    log.info({ expiresInS: Math.round((admin.expiresAtMs - clock.now()) / 1000) }, 'Actions service token refreshed');
  }

  async function adminConnection(force = false): Promise<{ serviceUrl: string; token: string }> {
    const isFresh = admin !== null && admin.expiresAtMs - REFRESH_BEFORE_EXPIRY_MS > clock.now();
    if (!force && isFresh && admin) return admin;
    // Concurrent callers share one refresh.
    refreshing ??= refreshAdmin().finally(() => {
      refreshing = null;
    });
    await refreshing;
    if (!admin) throw new JitpoolError('JP_INTERNAL', 'no Actions service connection after a refresh');
    return admin;
  }

  /** A request to the Actions service with the admin token; a 401 refreshes the token once and retries. */
  async function service(method: ServiceRequest['method'], path: string, endpoint: string, body?: unknown, authorization?: string): Promise<{ request: ServiceRequest; response: ServiceResponse }> {
    for (let attempt = 0; ; attempt += 1) {
      const connection = await adminConnection(attempt > 0);
      const url = new URL(`${connection.serviceUrl}/${path}`);
      if (!url.searchParams.has('api-version')) url.searchParams.set('api-version', '6.0-preview');
      const request: ServiceRequest = { method, url: url.toString(), endpoint: `${method} /${endpoint}`, authorization: authorization ?? `Bearer ${connection.token}`, body };
      const response = await sendServiceRequest(http, request);
      if (response.status === 401 && attempt === 0 && authorization === undefined) continue;
      return { request, response };
    }
  }

  async function expect<T>(method: ServiceRequest['method'], path: string, endpoint: string, status: number, body?: unknown): Promise<T> {
    const { request, response } = await service(method, path, endpoint, body);
    if (response.status !== status) throw serviceError(request, response);
    return response.body as T;
  }

  const refreshSession = (scaleSetId: number, sessionId: string): Promise<RunnerScaleSetSession> =>
    expect<RunnerScaleSetSession>('PATCH', `${SCALE_SETS}/${scaleSetId}/sessions/${sessionId}`, `${SCALE_SETS}/{id}/sessions/{sessionId}`, 200);

  async function deleteSession(scaleSetId: number, sessionId: string): Promise<'deleted' | 'not-found'> {
    const { request, response } = await service('DELETE', `${SCALE_SETS}/${scaleSetId}/sessions/${sessionId}`, `${SCALE_SETS}/{id}/sessions/{sessionId}`);
    if (response.status === 204) return 'deleted';
    if (response.status === 404) return 'not-found';
    throw serviceError(request, response);
  }

  return {
    scope: options.scope,

    async getRunnerGroupByName(name) {
      const list = await expect<{ count: number; value: ScaleSetRunnerGroup[] }>('GET', `_apis/runtime/runnergroups/?groupName=${encodeURIComponent(name)}`, '_apis/runtime/runnergroups', 200);
      if (list.count === 1 && list.value[0]) return list.value[0];
      throw new JitpoolError(list.count === 0 ? 'JP_GITHUB_NOT_FOUND' : 'JP_GITHUB_CONFLICT', `${list.count === 0 ? 'no' : 'several'} runner groups named ${name}`);
    },

    async getScaleSet(runnerGroupId, name) {
      const list = await expect<{ count: number; value: RunnerScaleSet[] }>('GET', `${SCALE_SETS}?runnerGroupId=${runnerGroupId}&name=${encodeURIComponent(name)}`, SCALE_SETS, 200);
      if (list.count === 0) return null;
      if (list.count === 1 && list.value[0]) return list.value[0];
      throw new JitpoolError('JP_GITHUB_CONFLICT', `several runner scale sets named ${name} in runner group ${runnerGroupId}`);
    },

    async getScaleSetById(id) {
      const { request, response } = await service('GET', `${SCALE_SETS}/${id}`, `${SCALE_SETS}/{id}`);
      if (response.status === 404) return null;
      if (response.status !== 200) throw serviceError(request, response);
      return response.body as RunnerScaleSet;
    },

    async createScaleSet(spec) {
      if (spec.labels.length === 0) throw new JitpoolError('JP_INPUT_INVALID', `scale set ${spec.name} needs at least one label`);
      return expect<RunnerScaleSet>('POST', SCALE_SETS, SCALE_SETS, 200, {
        name: spec.name, runnerGroupId: spec.runnerGroupId, labels: spec.labels.map((name) => ({ type: 'System', name })), RunnerSetting: { disableUpdate: spec.disableUpdate ?? false },
      });
    },

    async updateScaleSet(id, spec) {
      return expect<RunnerScaleSet>('PATCH', `${SCALE_SETS}/${id}`, `${SCALE_SETS}/{id}`, 200, {
        ...(spec.name === undefined ? {} : { name: spec.name }),
        ...(spec.runnerGroupId === undefined ? {} : { runnerGroupId: spec.runnerGroupId }),
        ...(spec.labels === undefined ? {} : { labels: spec.labels.map((name) => ({ type: 'System', name })) }),
        ...(spec.disableUpdate === undefined ? {} : { RunnerSetting: { disableUpdate: spec.disableUpdate } }),
      });
    },

    async deleteScaleSet(id) {
      await expect<void>('DELETE', `${SCALE_SETS}/${id}`, `${SCALE_SETS}/{id}`, 204);
    },

    async createSession(scaleSetId, ownerName) {
      const session = await expect<RunnerScaleSetSession>('POST', `${SCALE_SETS}/${scaleSetId}/sessions`, `${SCALE_SETS}/{id}/sessions`, 200, { ownerName });
      return new MessageSession({ scaleSetId, session, http, refresh: (id) => refreshSession(scaleSetId, id), close: (id) => deleteSession(scaleSetId, id),
        serviceUrl: async () => (await adminConnection()).serviceUrl,
      });
    },

    deleteSession,

    async generateJitConfig(scaleSetId, request) {
      const answer = await expect<{ runner?: RunnerReference; encodedJITConfig?: string }>('POST', `${SCALE_SETS}/${scaleSetId}/generatejitconfig`, `${SCALE_SETS}/{id}/generatejitconfig`, 200, request);
      if (!answer.runner || typeof answer.encodedJITConfig !== 'string') throw new JitpoolError('JP_GITHUB_REQUEST', 'generatejitconfig answered without a runner or config');
      registerJitConfig(answer.encodedJITConfig, answer.runner.name);
      return { runnerId: answer.runner.id, runnerName: answer.runner.name, encodedJitConfig: answer.encodedJITConfig };
    },

    async getRunner(runnerId) {
      const { request, response } = await service('GET', `${AGENTS}/${runnerId}`, `${AGENTS}/{id}`);
      if (response.status === 404) return null;
      if (response.status !== 200) throw serviceError(request, response);
      return response.body as RunnerReference;
    },

    async getRunnerByName(name) {
      const list = await expect<{ count: number; value: RunnerReference[] }>('GET', `${AGENTS}?agentName=${encodeURIComponent(name)}`, AGENTS, 200);
      if (list.count === 0) return null;
      if (list.count === 1 && list.value[0]) return list.value[0];
      throw new JitpoolError('JP_GITHUB_CONFLICT', `several runners named ${name}`);
    },

    async removeRunner(runnerId) {
      const { request, response } = await service('DELETE', `${AGENTS}/${runnerId}`, `${AGENTS}/{id}`);
      if (response.status === 204) return 'deleted';
      if (response.status === 404 || isException(response, 'AgentNotFoundException')) return 'not-found';
      if (isException(response, 'JobStillRunningException')) {
        throw new JitpoolError('JP_GITHUB_RUNNER_BUSY', `runner ${runnerId} is still running a job; it is kept`, { details: { runnerId } });
      }
      throw serviceError(request, response);
    },

    stats: () => ({ total: stats.total, byEndpoint: { ...stats.byEndpoint } }),
  };
}
