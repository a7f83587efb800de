import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { JitpoolError } from '../core/index.ts';

/** How the admin API authenticates callers. */
export type ApiAuth =
  | { kind: 'token'; token: string }
  /** No token (the demo on a loopback address only; `startRuntime` refuses it elsewhere). */
  | { kind: 'none'; reason: 'demo-loopback' };

/** Shortest admin token accepted: anything shorter is guessable. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Compares two tokens in constant time: both are hashed first, so neither their content nor
 * their length leaks through timing.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of a request, if it carries one. */
export function bearerTokenOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Throws `JP_API_UNAUTHORIZED` unless the request carries the admin token. */
export function assertAuthorized(request: FastifyRequest, auth: ApiAuth): void {
  if (auth.kind === 'none') return;
  const presented = bearerTokenOf(request);
  if (presented === null) throw new JitpoolError('JP_API_UNAUTHORIZED', 'missing bearer token (Authorization: Bearer <token>)');
  if (!tokensEqual(presented, auth.token)) throw new JitpoolError('JP_API_UNAUTHORIZED', 'invalid bearer token');
}
