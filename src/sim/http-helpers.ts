import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimScope } from './types.ts';

/**
 * Small pieces of GitHub's HTTP behaviour shared by the simulator's routes: error bodies,
 * conditional requests (ETag → 304), pagination (`per_page`, `page`, `Link`), scopes in paths.
 */

/** GitHub's docs link in error bodies. */
export const DOCS_URL = 'https://docs.github.com/rest';

/** Sends a GitHub-shaped error body (`basic-error`). */
export function sendError(reply: FastifyReply, status: number, message: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).send({ message, documentation_url: DOCS_URL, status: String(status), ...extra });
}

/** GitHub's 404 body. */
export function sendNotFound(reply: FastifyReply): FastifyReply {
  return sendError(reply, 404, 'Not Found');
}

/** The opaque part of an entity tag, without `W/` and quotes. */
function opaqueTag(tag: string): string {
  return tag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

/**
 * Sends `body` as JSON with a weak ETag of its bytes; answers 304 with no body when the request's
 * `If-None-Match` names that tag (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
 */
export function sendCacheable(request: FastifyRequest, reply: FastifyReply, body: unknown, status = 200): FastifyReply {
  const text = JSON.stringify(body);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 40);
  const etag = `W/"${hash}"`;
  reply.header('etag', etag);
  reply.header('cache-control', 'private, max-age=60, s-maxage=60');
  reply.header('vary', 'Accept, Authorization, Cookie, X-GitHub-OTP');
  const ifNoneMatch = request.headers['if-none-match'];
  if (typeof ifNoneMatch === 'string' && ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || opaqueTag(tag) === hash)) {
    return reply.code(304).send();
  }
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(text);
}

/** `per_page` (default 30, at most 100, as GitHub clamps it) and `page` (from 1) of a list request. */
export function pageParams(query: unknown): { perPage: number; page: number } {
  const params = (query ?? {}) as Record<string, unknown>;
  const perPageRaw = Number.parseInt(String(params.per_page ?? ''), 10);
  const pageRaw = Number.parseInt(String(params.page ?? ''), 10);
  const perPage = Number.isFinite(perPageRaw) && perPageRaw > 0 ? Math.min(perPageRaw, 100) : 30;
  const page = Number.isFinite(pageRaw) && pageRaw > 0 ? pageRaw : 1;
  return { perPage, page };
}

/** Requests whose list answer must paginate endlessly (the `endlessnext` fault). */
const endlessPages = new WeakSet<FastifyRequest>();

/** Makes `paginate` answer this request with the first page and a `rel="next"` link, whatever `page` says. */
export function markEndlessPages(request: FastifyRequest): void {
  endlessPages.add(request);
}

/**
 * Slices `items` for the request's page and sets GitHub's `Link` header
 * (`next`, `last`, `first`, `prev`) with absolute URLs under `baseUrl`.
 */
export function paginate<T>(request: FastifyRequest, reply: FastifyReply, items: readonly T[], baseUrl: string): T[] {
  const { perPage, page } = pageParams(request.query);
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const pageUrl = (target: number): string => {
    // Concatenated, not resolved: `baseUrl` may carry a GHES path prefix (`/api/v3`).
    const url = new URL(`${baseUrl}${request.url}`);
    url.searchParams.set('per_page', String(perPage));
    url.searchParams.set('page', String(target));
    return url.toString();
  };
  if (endlessPages.has(request)) {
    reply.header('link', `<${pageUrl(page + 1)}>; rel="next"`);
    return items.slice(0, perPage);
  }
  const links: string[] = [];
  if (page < lastPage) links.push(`<${pageUrl(page + 1)}>; rel="next"`, `<${pageUrl(lastPage)}>; rel="last"`);
  if (page > 1) links.push(`<${pageUrl(1)}>; rel="first"`, `<${pageUrl(Math.min(page - 1, lastPage))}>; rel="prev"`);
  if (links.length > 0) reply.header('link', links.join(', '));
  return items.slice((page - 1) * perPage, page * perPage);
}

/** The scope named by a route's path parameters (`/repos/:owner/:repo`, `/orgs/:org`, `/enterprises/:enterprise`). */
export function scopeFromParams(params: unknown): SimScope {
  const p = params as Record<string, string | undefined>;
  if (p.owner !== undefined && p.repo !== undefined) return { kind: 'repo', owner: p.owner, repo: p.repo };
  if (p.org !== undefined) return { kind: 'org', org: p.org };
  return { kind: 'enterprise', enterprise: p.enterprise ?? '' };
}

/** The `https://github.com/...` URL of a scope (the JIT config's `gitHubUrl`). */
export function scopeHtmlUrl(scope: SimScope): string {
  switch (scope.kind) {
    case 'repo':
      return `https://github.com/${scope.owner}/${scope.repo}`;
    case 'org':
      return `https://github.com/${scope.org}`;
    case 'enterprise':
      return `https://github.com/enterprises/${scope.enterprise}`;
  }
}

/** A positive integer path parameter, or null (the route then answers 404 like GitHub). */
export function idParam(params: unknown, name: string): number | null {
  const raw = (params as Record<string, string | undefined>)[name] ?? '';
  return /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : null;
}

/** The endpoint key of a request for stats: method plus GitHub's templated path, e.g. `GET /orgs/{org}/actions/runners`. */
export function endpointKey(request: FastifyRequest): string {
  const template = request.routeOptions.url;
  if (template === undefined) return `${request.method} (unknown route)`;
  // A trailing wildcard stands for a path parameter (`/contents/*` is GitHub's `/contents/{path}`).
  return `${request.method} ${template.replace(/:([A-Za-z_]+)/g, '{$1}').replace(/\/\*$/, '/{path}')}`;
}

/** The token of an `Authorization: token X` or `Bearer X` header, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}
