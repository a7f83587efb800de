import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../core/index.ts';
import type { WebhookIntake } from '../intake/index.ts';

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  logger: Logger;
  /** The webhook receiver; omitted in poll-only mode. */
  webhook?: { intake: WebhookIntake; path: string; maxBodyBytes: number };
  /** Builds the body of `GET /status`. */
  status?: () => unknown;
}

/**
 * The HTTP server: a thin adapter. The webhook route only turns a request into
 * `{ deliveryId, event, signature, rawBody }`; everything else lives in `intake/`.
 */
export async function createApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, return503OnClosing: true, forceCloseConnections: true });

  app.get('/healthz', async () => ({ ok: true }));
  if (options.status) {
    const status = options.status;
    app.get('/status', async () => status());
  }

  if (options.webhook) {
    const { intake, path, maxBodyBytes } = options.webhook;
    await app.register(async (scope) => {
      // The signature is over the exact bytes GitHub sent: keep the body raw, whatever its type.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_request, body, done) => done(null, body));
      scope.post(path, { bodyLimit: maxBodyBytes }, async (request, reply) => {
        const header = (name: string) => {
          const value = request.headers[name];
          return Array.isArray(value) ? value[0] : value;
        };
        const result = await intake.handle({
          deliveryId: header('x-github-delivery'),
          event: header('x-github-event'),
          signature: header('x-hub-signature-256'),
          rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
        });
        return reply.code(result.status).send(result.body);
      });
    });
  }

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) options.logger.error({ component: 'api', err: err.message }, 'request failed');
    void reply.code(status).send({ ok: false, code: err.code ?? 'JP_INTERNAL', message: status >= 500 ? 'internal error' : err.message });
  });
  return app;
}
