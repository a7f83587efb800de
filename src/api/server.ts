import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from '../core/index.ts';
import { assertAuthorized, type ApiAuth } from './auth.ts';
import type { ApiContext } from './context.ts';
import { dashboardRoutes } from './dashboard-routes.ts';
import { redocRoute } from './redoc-route.ts';
import { eventRoutes } from './event-routes.ts';
import { healthRoutes, statusRoutes } from './health-routes.ts';
import { sendError, toErrorResponse } from './http-errors.ts';
import { commandRoutes } from './command-routes.ts';
import { jobRoutes } from './job-routes.ts';
import { poolRoutes } from './pool-routes.ts';
import { runnerRoutes } from './runner-routes.ts';
import { SHARED_SCHEMAS } from './schemas.ts';
import { webhookRoutes, type WebhookRouteOptions } from './webhook-routes.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No bearer token needed (health checks, the webhook, the dashboard's static files). */
    public?: boolean;
    /** Not logged per request (health checks, the event stream). */
    quiet?: boolean;
  }
}

/** Which routes one listener serves: everything, only the webhook and health checks, or only the admin API. */
export type ApiSurface = 'all' | 'public' | 'admin';

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  logger: Logger;
  /** What the admin and health routes read and steer. */
  context: ApiContext;
  /** How the admin API authenticates callers. */
  auth: ApiAuth;
  /** The webhook receiver; omitted in poll-only mode. */
  webhook?: WebhookRouteOptions;
  /** @default 'all' */
  surface?: ApiSurface;
  /** Browser origins allowed to call the admin API. @default [] */
  corsOrigins?: readonly string[];
  /** Per client address. @default { max: 600, windowSeconds: 60 } */
  rateLimit?: { max: number; windowSeconds: number };
}

/** Path prefixes that are public besides routes marked `public` (Swagger UI's own assets). */
const PUBLIC_PREFIXES = ['/docs', '/redoc'];

/**
 * The HTTP server: schema-first routes as encapsulated plugins (one per group), the OpenAPI
 * document generated from the same schemas (`/docs`, `/docs/json`), bearer-token auth on every
 * route not marked public, a rate limit, a CORS allow-list and one error format.
 */
export async function createApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const surface = options.surface ?? 'all';
  const serveAdmin = surface !== 'public';
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: true,
    // Unknown body fields are refused with a clear error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  const log = options.logger.child({ component: 'api' });
  installRequestLog(app, log);
  app.setErrorHandler((err, request, reply) => {
    const { status } = toErrorResponse(err);
    if (status >= 500) log.error({ method: request.method, path: pathOf(request), err: (err as Error).message }, 'request failed');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ ok: false, code: 'JP_API_NOT_FOUND', message: `no route ${request.method} ${pathOf(request)}` }));

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  if (serveAdmin) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'jitpool API', version: '1', description: 'Ephemeral, one-job GitHub Actions runners: status, runners, pools, jobs, events, metrics.' },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`) },
    });
  }
  await app.register(rateLimit, {
    global: true,
    max: options.rateLimit?.max ?? 600,
    timeWindow: (options.rateLimit?.windowSeconds ?? 60) * 1000,
    allowList: (request) => isPublic(request) || request.routeOptions.config.rateLimit === false,
  });
  if (serveAdmin && options.corsOrigins && options.corsOrigins.length > 0) {
    await app.register(cors, { origin: [...options.corsOrigins], methods: ['GET', 'POST', 'DELETE'], allowedHeaders: ['authorization', 'content-type', 'last-event-id'], maxAge: 600 });
  }
  app.addHook('onRequest', async (request) => {
    // An unknown route is a 404 for everyone (the route list is public in /docs anyway): a typo must not read as a bad token.
    if (request.method === 'OPTIONS' || isPublic(request) || request.is404) return;
    assertAuthorized(request, options.auth);
  });

  const context = { context: options.context };
  await app.register(healthRoutes, context);
  if (options.webhook && surface !== 'admin') await app.register(webhookRoutes, options.webhook);
  if (serveAdmin) {
    await app.register(statusRoutes, context);
    await app.register(runnerRoutes, context);
    await app.register(poolRoutes, context);
    await app.register(jobRoutes, context);
    await app.register(eventRoutes, context);
    await app.register(commandRoutes, context);
    await app.register(async (scope) => {
      scope.get('/metrics', {
        config: { quiet: true },
        schema: { summary: 'Prometheus metrics', tags: ['metrics'], security: [{ bearerAuth: [] }], produces: ['text/plain'], response: { 200: { type: 'string' } } },
      }, async (_request, reply) => reply.type(options.context.metrics.registry.contentType).send(await options.context.metrics.render()));
    });
    await app.register(dashboardRoutes);
    await app.register(swaggerUi, { routePrefix: '/docs' });
    await app.register(redocRoute);
  }
  return app;
}

function isPublic(request: FastifyRequest): boolean {
  if (request.routeOptions.config?.public === true) return true;
  const path = pathOf(request);
  return PUBLIC_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/** The path without its query string (a query may carry anything; it is never logged). */
function pathOf(request: FastifyRequest): string {
  const index = request.url.indexOf('?');
  return index === -1 ? request.url : request.url.slice(0, index);
}

/** One log line per request (path, status, duration), except health checks and the event stream. */
function installRequestLog(app: FastifyInstance, log: Logger): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.routeOptions.config?.quiet === true && reply.statusCode < 500) return;
    log.info({ method: request.method, path: pathOf(request), route: request.routeOptions.url, status: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });
}
