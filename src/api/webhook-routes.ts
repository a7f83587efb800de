import type { FastifyInstance } from 'fastify';
import type { WebhookIntake } from '../intake/index.ts';

/** Options of {@link webhookRoutes}. */
export interface WebhookRouteOptions {
  intake: WebhookIntake;
  path: string;
  maxBodyBytes: number;
}

/**
 * The webhook receiver: a thin adapter. The route only turns a request into
 * `{ deliveryId, event, signature, rawBody }`; everything else lives in `intake/`. Public (the
 * HMAC signature is its authentication) and exempt from the rate limit (GitHub delivers in bursts).
 */
export async function webhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { intake, path, maxBodyBytes } = options;
  // The signature is over the exact bytes GitHub sent: keep the body raw, whatever its type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_request, body, done) => done(null, body));
  app.post(path, {
    bodyLimit: maxBodyBytes,
    config: { public: true },
    schema: {
      summary: 'GitHub webhook receiver (workflow_job), authenticated by X-Hub-Signature-256',
      tags: ['webhook'],
      response: {
        default: { type: 'object', required: ['ok', 'message'], properties: { ok: { type: 'boolean' }, code: { type: 'string' }, message: { type: 'string' } } },
      },
    },
  }, async (request, reply) => {
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
}
