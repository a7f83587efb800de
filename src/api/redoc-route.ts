import type { FastifyInstance } from 'fastify';

/**
 * ReDoc's pinned standalone bundle. jitpool ships no copy (the bundle and its dependency tree are
 * large), so the operator's browser loads it, as FastAPI's `/redoc` does; the server downloads nothing.
 */
const REDOC_SCRIPT = 'https://cdn.jsdelivr.net/npm/redoc@2.5.0/bundles/redoc.standalone.js';

/**
 * `GET /redoc`: the OpenAPI document of `/docs/json` rendered by ReDoc (the route API gateways list
 * beside `/docs`). The document is embedded in the page and the page is sandboxed
 * (`Content-Security-Policy: sandbox allow-scripts`, an opaque origin): the third-party script can
 * read neither the dashboard's stored admin token nor call the API with the browser's credentials.
 */
export async function redocRoute(app: FastifyInstance): Promise<void> {
  app.get('/redoc', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    // `<` escaped: no text of the document can close the script element.
    const spec = JSON.stringify(app.swagger()).replaceAll('<', '\\u003c');
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', `sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' ${REDOC_SCRIPT}; style-src 'unsafe-inline' https://fonts.googleapis.com; font-src https://fonts.gstatic.com; img-src data: https:; worker-src blob:`)
      .header('referrer-policy', 'no-referrer')
      .send(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>jitpool API — ReDoc</title><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<div id="redoc"></div>
<noscript>ReDoc needs JavaScript and access to cdn.jsdelivr.net; the same document is at <a href="/docs">/docs</a> (Swagger UI, served by jitpool) and <a href="/docs/json">/docs/json</a>.</noscript>
<script id="openapi" type="application/json">${spec}</script>
<script src="${REDOC_SCRIPT}" crossorigin="anonymous"></script>
<script>
  var spec = JSON.parse(document.getElementById('openapi').textContent);
  if (window.Redoc) window.Redoc.init(spec, { hideDownloadButton: false }, document.getElementById('redoc'));
  else document.getElementById('redoc').textContent = 'ReDoc could not be loaded from cdn.jsdelivr.net; the same document is at /docs (Swagger UI) and /docs/json.';
</script>
</body>
</html>
`);
  });
}
