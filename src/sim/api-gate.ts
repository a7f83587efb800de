import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, DOCS_URL, endpointKey, sendError } from './http-helpers.ts';
import type { RateLimiter, RateLimitWindow } from './rate-limiter.ts';
import type { SimStats } from './types.ts';

/** Paths of the runner protocol: no GitHub auth, no rate limit, not counted. */
export const INTERNAL_PREFIX = '/_sim/';

const RATE_LIMIT_PATH = '/rate_limit';

/** Options of {@link registerApiGate}. */
export interface ApiGateOptions {
  rateLimiter: RateLimiter;
  /** Accepted tokens; any non-empty token when absent. */
  tokens?: readonly string[];
  /** Further accepted tokens (installation tokens the simulated App issued). */
  isIssuedToken?: (token: string) => boolean;
}

/** Routes GitHub authenticates with an App JWT: the route verifies it, the gate only counts the call. */
export function isAppJwtRoute(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/app' || path.startsWith('/app/') || /^\/(repos\/[^/]+\/[^/]+|orgs\/[^/]+|users\/[^/]+)\/installation$/.test(path);
}

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

/**
 * What GitHub does around every REST call: authentication (401), the primary rate limit per
 * token (`x-ratelimit-*` headers on every answer, 403 once exhausted, 304s free), call
 * counting per templated endpoint, and `GET /rate_limit` (which does not count either).
 */
export function registerApiGate(app: FastifyInstance, options: ApiGateOptions): ApiCallStats {
  const stats: ApiCallStats = { total: 0, notModified: 0, counted: 0, byEndpoint: {} };
  const tokenOf = new WeakMap<FastifyRequest, string>();
  const refused = new WeakSet<FastifyRequest>();
  const { rateLimiter } = options;

  app.addHook('onRequest', async (request, reply) => {
    if (isInternal(request)) return;
    stats.total++;
    const key = endpointKey(request);
    stats.byEndpoint[key] = (stats.byEndpoint[key] ?? 0) + 1;
    reply.header('x-github-request-id', randomUUID().toUpperCase());
    reply.header('x-github-api-version-selected', '2022-11-28');
    if (isAppJwtRoute(request.url)) return;
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
    if (request.url !== RATE_LIMIT_PATH && !request.url.startsWith(`${RATE_LIMIT_PATH}?`) && rateLimiter.isExhausted(token)) {
      refused.add(request);
      return sendError(reply, 403, 'API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.', {
        documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      });
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (isInternal(request)) return payload;
    const token = tokenOf.get(request);
    if (token === undefined) return payload;
    const isFree = refused.has(request) || reply.statusCode === 304 || request.routeOptions.url === RATE_LIMIT_PATH;
    if (reply.statusCode === 304) stats.notModified++;
    if (!isFree) stats.counted++;
    setRateLimitHeaders(reply, isFree ? rateLimiter.peek(token) : rateLimiter.consume(token));
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
