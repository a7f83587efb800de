import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { setTimeout as delay } from 'node:timers/promises';
import type { FaultInjector } from './fault-injector.ts';
import { bearerToken, DOCS_URL, endpointKey, markEndlessPages, sendError } from './http-helpers.ts';
import type { RateLimiter, RateLimitWindow } from './rate-limiter.ts';
import type { SimExchange, SimStats } from './types.ts';

/** Route params with a trailing wildcard named as GitHub names it (`{path}`). */
function wildcardAsPath(params: Record<string, string>): Record<string, string> {
  const { '*': wildcard, ...rest } = params;
  return wildcard === undefined ? { ...rest } : { ...rest, path: wildcard };
}

/** Paths of the runner protocol: no GitHub auth, no rate limit, not counted. */
export const INTERNAL_PREFIX = '/_sim/';

const RATE_LIMIT_PATH = '/rate_limit';

/** Options of {@link registerApiGate}. */
export interface ApiGateOptions {
  rateLimiter: RateLimiter;
  /** Accepted tokens; any non-empty token when absent. */
  tokens?: readonly string[];
  /** Injected 5xx, 429 bursts and latency. */
  faults: FaultInjector;
  /** Receives every REST request and answer. */
  onExchange?: (exchange: SimExchange) => void;
  /** Aborted when the simulator closes (ends injected latency). */
  closing: AbortSignal;
  /** Further accepted tokens (installation tokens the simulated App issued). */
  isIssuedToken?: (token: string) => boolean;
}

/** Routes GitHub authenticates with an App JWT: the route verifies it, the gate only counts the call. */
export function isAppJwtRoute(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/app' || path.startsWith('/app/') || /^\/(repos\/[^/]+\/[^/]+|orgs\/[^/]+|users\/[^/]+)\/installation$/.test(path);
}

const RATE_LIMIT_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';
const ERROR_MESSAGES: Record<number, string> = { 500: 'Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' };

/** The gate's counters, read by `Simulator.stats()`. */
export type ApiCallStats = SimStats['calls'];

function setRateLimitHeaders(reply: FastifyReply, window: RateLimitWindow): void {
  reply.header('x-ratelimit-limit', String(window.limit));
  reply.header('x-ratelimit-remaining', String(window.remaining));
  reply.header('x-ratelimit-used', String(window.used));
  reply.header('x-ratelimit-reset', String(window.resetEpochSeconds));
  reply.header('x-ratelimit-resource', 'core');
}

const isInternal = (request: FastifyRequest): boolean => request.url.startsWith(INTERNAL_PREFIX);

/** The request and its answer as an exchange record (the payload is the serialised body). */
function toExchange(request: FastifyRequest, reply: FastifyReply, payload: unknown): SimExchange {
  let responseBody: unknown;
  if (typeof payload === 'string' && payload !== '') {
    try {
      responseBody = JSON.parse(payload);
    } catch {
      responseBody = payload;
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  const key = endpointKey(request);
  return {
    method: request.method,
    route: key.slice(key.indexOf(' ') + 1),
    url: request.url,
    params: wildcardAsPath(request.params as Record<string, string>),
    query: { ...(request.query as Record<string, string | string[]>) },
    requestBody: request.body,
    status: reply.statusCode,
    responseHeaders: headers,
    responseBody,
  };
}
/**
 * What GitHub does around every REST call: authentication (401), the primary rate limit per
 * token (`x-ratelimit-*` headers on every answer, 403 once exhausted, 304s free), call
 * counting per templated endpoint, and `GET /rate_limit` (which does not count either).
 */
export function registerApiGate(app: FastifyInstance, options: ApiGateOptions): ApiCallStats {
  const stats: ApiCallStats = { total: 0, notModified: 0, counted: 0, byEndpoint: {} };
  const tokenOf = new WeakMap<FastifyRequest, string>();
  const refused = new WeakSet<FastifyRequest>();
  const { rateLimiter, faults } = options;

  app.addHook('onRequest', async (request, reply) => {
    if (isInternal(request)) return;
    stats.total++;
    const key = endpointKey(request);
    stats.byEndpoint[key] = (stats.byEndpoint[key] ?? 0) + 1;
    const isRateLimitPath = request.routeOptions.url === RATE_LIMIT_PATH;
    const latencyMs = isRateLimitPath ? 0 : faults.latencyMs(key);
    if (latencyMs > 0) await delay(latencyMs, undefined, { signal: options.closing }).catch(() => undefined);
    reply.header('x-github-request-id', randomUUID().toUpperCase());
    reply.header('x-github-api-version-selected', '2022-11-28');
    // The App routes verify their JWT, `runner-registration` its RemoteAuth registration token.
    if (isAppJwtRoute(request.url) || request.url.split('?')[0] === '/actions/runner-registration') return;
    const token = bearerToken(request);
    if (token === null) {
      refused.add(request);
      return sendError(reply, 401, 'Requires authentication');
    }
    if (options.tokens !== undefined && !options.tokens.includes(token) && !(options.isIssuedToken?.(token) ?? false)) {
      refused.add(request);
      return sendError(reply, 401, 'Bad credentials');
    }
    tokenOf.set(request, token);
    if (!isRateLimitPath && rateLimiter.isExhausted(token)) {
      refused.add(request);
      return sendError(reply, 403, 'API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.', {
        documentation_url: RATE_LIMIT_DOCS,
      });
    }
    const fault = isRateLimitPath ? null : faults.apiFault(key);
    if (fault?.kind === 'throttle') {
      // GitHub's secondary limit: 429 with Retry-After; it does not consume the primary budget.
      refused.add(request);
      reply.header('retry-after', '1');
      const requestId = String(reply.getHeader('x-github-request-id'));
      return sendError(reply, 429, `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`, {
        documentation_url: `${RATE_LIMIT_DOCS}#about-secondary-rate-limits`,
      });
    }
    if (request.method === 'GET' && !isRateLimitPath && faults.endlessPages(key)) markEndlessPages(request);
    if (fault?.kind === 'error') {
      // Answered without being handled: the request had no effect.
      const { status } = fault;
      return sendError(reply, status, ERROR_MESSAGES[status] ?? 'Server Error');
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (isInternal(request)) return payload;
    const token = tokenOf.get(request);
    if (token !== undefined) {
      const isFree = refused.has(request) || reply.statusCode === 304 || request.routeOptions.url === RATE_LIMIT_PATH;
      if (reply.statusCode === 304) stats.notModified++;
      if (!isFree) stats.counted++;
      setRateLimitHeaders(reply, isFree ? rateLimiter.peek(token) : rateLimiter.consume(token));
    }
    options.onExchange?.(toExchange(request, reply, payload));
    return payload;
  });

  app.get(RATE_LIMIT_PATH, (request, reply) => {
    const window = rateLimiter.peek(tokenOf.get(request) ?? '');
    const core = { limit: window.limit, remaining: window.remaining, reset: window.resetEpochSeconds, used: window.used };
    const other = (limit: number) => ({ limit, remaining: limit, reset: window.resetEpochSeconds, used: 0 });
    return reply.send({
      resources: {
        core,
        search: other(30),
        graphql: other(5000),
        integration_manifest: other(5000),
        actions_runner_registration: other(10000),
      },
      rate: core,
    });
  });

  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ message: 'Not Found', documentation_url: DOCS_URL, status: '404' }));

  return stats;
}
