import Fastify, { type FastifyInstance } from 'fastify';
import { JitpoolError } from '../core/index.ts';
import type { MetadataService } from './external-metadata.ts';

/**
 * The listener instances reach: a Fastify adapter over {@link MetadataService.handle}, apart
 * from jitpool's admin API (instances never see it) and without logging requests (they carry
 * the instance token). Bodies are read as text whatever their content type, because garm's
 * templates post JSON with `curl -d` (form-encoded content type).
 */

/** Where the listener binds and what URL it gives instances. */
export interface MetadataListenOptions {
  host: string;
  port: number;
  /** The base URL instances use (a VM's gateway address, a DNS name); default: the bound address. */
  publicUrl?: string;
}

/** A running listener. */
export interface MetadataServer {
  /** The base URL handed to instances. */
  url: string;
  close(): Promise<void>;
}

/** Starts the listener; rejects with `JP_CONFIG_INVALID` (naming the fix) when it cannot bind. */
export async function startMetadataServer(service: MetadataService, options: MetadataListenOptions): Promise<MetadataServer> {
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.route({
    method: ['GET', 'POST'],
    url: '/*',
    handler: async (request, reply) => {
      const [path] = request.url.split('?');
      const response = service.handle({
        method: request.method,
        path: path ?? '/',
        query: request.query as Record<string, string | undefined>,
        authorization: request.headers.authorization,
        body: typeof request.body === 'string' ? request.body : '',
      });
      reply.code(response.status).headers(response.headers);
      return reply.send(response.body);
    },
  });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    await app.close();
    throw new JitpoolError('JP_CONFIG_INVALID', `external provider: cannot listen for instances on ${options.host}:${options.port}: ${(err as Error).message} (set provider.metadata.port to a free port)`, { cause: err });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const url = options.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  service.setBaseUrl(url);
  return { url, close: () => app.close() };
}
