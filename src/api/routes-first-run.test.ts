import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authHeader, startTestRuntime } from '../cli/runtime-test-helpers.ts';

const codeOf = (body: string): string => (JSON.parse(body) as { code: string }).code;

describe('API routes an operator tries first (issue 20, item 6)', () => {
  it('GET /health answers like /healthz (the route gateways and NixOS health checks call)', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const app = runtime.server!;
    const health = await app.inject({ url: '/health' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), (await app.inject({ url: '/healthz' })).json());
    const spec = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    assert.ok(spec.paths['/health'], '/health is in the OpenAPI document');
  });

  it('GET /redoc renders the same OpenAPI document with ReDoc, public and sandboxed', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const app = runtime.server!;
    const page = await app.inject({ url: '/redoc' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    // The page is an opaque origin: the CDN script cannot reach the dashboard's token or the API.
    assert.match(String(page.headers['content-security-policy']), /^sandbox allow-scripts;/);
    const embedded = /<script id="openapi" type="application\/json">(.*?)<\/script>/s.exec(page.body);
    assert.ok(embedded, 'the document is embedded');
    assert.deepEqual(JSON.parse(embedded[1]!), (await app.inject({ url: '/docs/json' })).json());
    assert.match(page.body, /redoc@\d+\.\d+\.\d+\/bundles\/redoc\.standalone\.js/, 'a pinned ReDoc version');
  });

  it('an unknown route answers 404 JP_API_NOT_FOUND, with or without the token, never a store code', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const app = runtime.server!;
    for (const url of ['/nope', '/api/v1/nope', '/api/v2/runners', '/api/v1/runners/x/y', '/healthz/x']) {
      for (const headers of [{}, authHeader]) {
        const res = await app.inject({ url, headers });
        assert.equal(res.statusCode, 404, `${url} ${JSON.stringify(headers)}`);
        assert.equal(codeOf(res.body), 'JP_API_NOT_FOUND', `${url}: ${res.body}`);
      }
    }
  });
});
