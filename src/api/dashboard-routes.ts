import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const ASSETS: ReadonlyArray<{ url: string; file: string; type: string }> = [
  { url: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/dashboard/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { url: '/dashboard/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
];

/**
 * The dashboard: static files, no build step. They hold no data, so they are public; every
 * figure they show comes from the authenticated API with the token the page keeps in sessionStorage.
 */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  for (const asset of ASSETS) {
    const body = readFileSync(new URL(`./dashboard/${asset.file}`, import.meta.url));
    app.get(asset.url, { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
      reply
        .type(asset.type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('content-security-policy', "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'")
        .send(body),
    );
  }
}
