import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, idParam, sendError, sendNotFound } from './http-helpers.ts';
import type { SimAppOptions } from './types.ts';

/** What the App routes share with the simulator: the tokens issued, so the API gate accepts them. */
export interface AppRoutesState {
  /** True for an installation token this App issued that has not expired. */
  isIssuedToken(token: string): boolean;
  /** Issued tokens without their values. */
  issued(): Array<{ installationId: number; expiresAt: string }>;
}

interface JwtClaims {
  iss?: unknown;
  iat?: unknown;
  exp?: unknown;
}

/**
 * Verifies an App JWT the way GitHub does: RS256 signed by the App's key, `iss` the App id,
 * `exp` in the future and at most ten minutes after `iat`, `iat` not in the future (60 s of skew).
 * Returns the reason it is refused, or null when valid.
 */
export function jwtProblem(jwt: string, publicKey: KeyObject, appId: number, nowMs = Date.now()): string | null {
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'A JSON web token could not be decoded';
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: JwtClaims;
  try {
    header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as { alg?: unknown };
    claims = JSON.parse(Buffer.from(claimsPart, 'base64url').toString('utf8')) as JwtClaims;
  } catch {
    return 'A JSON web token could not be decoded';
  }
  if (header.alg !== 'RS256') return "'alg' must be RS256";
  const isSigned = verify('RSA-SHA256', Buffer.from(`${headerPart}.${claimsPart}`), publicKey, Buffer.from(signaturePart, 'base64url'));
  if (!isSigned) return 'A JSON web token could not be decoded';
  if (String(claims.iss) !== String(appId)) return "'Issuer' claim ('iss') must be an Integer";
  const nowSeconds = Math.floor(nowMs / 1000);
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return "'Expiration time' claim ('exp') must be a numeric value";
  if (claims.iat > nowSeconds + 60) return "'Issued at' claim ('iat') must be an Integer representing a time in the past";
  if (claims.exp <= nowSeconds) return "'Expiration time' claim ('exp') is too far in the future";
  if (claims.exp - claims.iat > 600) return "'Expiration time' claim ('exp') is too far in the future";
  return null;
}

/**
 * GitHub's App endpoints: `GET /app`, the installation of a repository, organisation or user,
 * and installation access tokens (`expires_at` one hour out). Without an App configured every
 * call answers 401, as GitHub does for a JWT of an unknown App.
 */
export function registerAppRoutes(app: FastifyInstance, options: SimAppOptions | undefined, baseUrl: () => string): AppRoutesState {
  const publicKey = options ? createPublicKey(options.publicKey) : null;
  const tokens = new Map<string, { installationId: number; expiresAtMs: number }>();
  const ttlMs = options?.tokenTtlMs ?? 3_600_000;

  /** Verifies the JWT; sends 401 and returns false when it is refused. */
  const authenticate = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const jwt = bearerToken(request);
    if (jwt === null) {
      sendError(reply, 401, 'A JSON web token could not be decoded');
      return false;
    }
    const problem = options && publicKey ? jwtProblem(jwt, publicKey, options.id) : 'Integration not found';
    if (problem !== null) {
      sendError(reply, 401, problem);
      return false;
    }
    return true;
  };

  const installationResource = (installation: SimAppOptions['installations'][number]) => ({
    id: installation.id,
    app_id: options?.id,
    app_slug: options?.slug ?? 'jitpool-sim',
    target_id: installation.id,
    target_type: installation.accountType ?? 'Organization',
    account: { login: installation.account, id: installation.id, type: installation.accountType ?? 'Organization' },
    repository_selection: installation.repositories ? 'selected' : 'all',
    access_tokens_url: `${baseUrl()}/app/installations/${installation.id}/access_tokens`,
    permissions: { administration: 'write', actions: 'read', organization_self_hosted_runners: 'write' },
    events: ['workflow_job'],
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  });

  const find = (account: string, type: 'Organization' | 'User' | null, repo?: string) =>
    options?.installations.find(
      (installation) =>
        installation.account.toLowerCase() === account.toLowerCase() &&
        (type === null || (installation.accountType ?? 'Organization') === type) &&
        (repo === undefined || installation.repositories === undefined || installation.repositories.some((r) => r.toLowerCase() === repo.toLowerCase())),
    );

  app.get('/app', (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    return reply.send({
      id: options?.id,
      slug: options?.slug ?? 'jitpool-sim',
      name: options?.slug ?? 'jitpool-sim',
      owner: { login: options?.installations[0]?.account ?? 'sim-owner', type: 'Organization' },
      permissions: { administration: 'write', actions: 'read', organization_self_hosted_runners: 'write' },
      events: ['workflow_job'],
      installations_count: options?.installations.length ?? 0,
    });
  });

  app.get('/repos/:owner/:repo/installation', (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    const { owner, repo } = request.params as { owner: string; repo: string };
    const installation = find(owner, null, repo);
    return installation ? reply.send(installationResource(installation)) : sendNotFound(reply);
  });

  app.get('/orgs/:org/installation', (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    const installation = find((request.params as { org: string }).org, 'Organization');
    return installation ? reply.send(installationResource(installation)) : sendNotFound(reply);
  });

  app.get('/users/:username/installation', (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    const installation = find((request.params as { username: string }).username, 'User');
    return installation ? reply.send(installationResource(installation)) : sendNotFound(reply);
  });

  app.post('/app/installations/:installation_id/access_tokens', (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    const id = idParam(request.params, 'installation_id');
    const installation = options?.installations.find((candidate) => candidate.id === id);
    if (!installation) return sendNotFound(reply);
    const token = `ghs_${randomBytes(18).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;
    const expiresAtMs = Date.now() + ttlMs;
    tokens.set(token, { installationId: installation.id, expiresAtMs });
    return reply.code(201).send({
      token,
      expires_at: new Date(expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      permissions: { administration: 'write', organization_self_hosted_runners: 'write' },
      repository_selection: installation.repositories ? 'selected' : 'all',
    });
  });

  return {
    isIssuedToken(token) {
      const issued = tokens.get(token);
      return issued !== undefined && issued.expiresAtMs > Date.now();
    },
    issued: () => [...tokens.values()].map((t) => ({ installationId: t.installationId, expiresAt: new Date(t.expiresAtMs).toISOString() })),
  };
}
