import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The per-instance bearer token an instance presents to the metadata and callback endpoints: a
 * JWT (HS256), like garm's instance token, so garm's userdata templates carry it unchanged. Its
 * claims bind it to one instance name and one create attempt and give it an expiry; whether it
 * is still honoured (the instance has not reported idle or failed yet) is decided by the
 * metadata service against its own record, not by the token. The signing key lives only in
 * memory: a controller restart invalidates every outstanding token (an instance still booting
 * then fails its boot and is replaced, which the boot timeout already handles).
 */

/** What a token says. */
export interface InstanceClaims {
  /** The instance (runner) name. */
  name: string;
  /** The pool it belongs to (garm's `provider_id` claim carries the pool id). */
  pool: string;
  /** Which create attempt of that name the token was issued for. */
  createAttempt: number;
  /** Expiry, seconds since the epoch (JWT `exp`). */
  exp: number;
}

/** Why a token was refused (for the controller's log; the instance only ever sees 401). */
export type TokenRefusal = 'malformed' | 'bad-signature' | 'expired';

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

/** Issues and checks instance tokens with one in-memory key. */
export class InstanceTokenSigner {
  readonly #key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
  }

  /** A token for `name`'s attempt `createAttempt`, valid for `ttlMs` from `nowMs`. */
  issue(claims: Omit<InstanceClaims, 'exp'>, ttlMs: number, nowMs = Date.now()): string {
    const payload = base64url(JSON.stringify({ id: claims.name, name: claims.name, provider_id: claims.pool, create_attempt: claims.createAttempt, iss: 'jitpool', exp: Math.floor((nowMs + ttlMs) / 1000) }));
    return `${HEADER}.${payload}.${this.#sign(`${HEADER}.${payload}`)}`;
  }

  /** The claims of a genuine, unexpired token, or why it is refused. */
  verify(token: string, nowMs = Date.now()): { ok: true; claims: InstanceClaims } | { ok: false; reason: TokenRefusal } {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) return { ok: false, reason: 'malformed' };
    const expected = Buffer.from(this.#sign(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const { name, provider_id: pool, create_attempt: createAttempt, exp } = doc;
    if (typeof name !== 'string' || typeof pool !== 'string' || typeof createAttempt !== 'number' || typeof exp !== 'number') return { ok: false, reason: 'malformed' };
    if (exp * 1000 <= nowMs) return { ok: false, reason: 'expired' };
    return { ok: true, claims: { name, pool, createAttempt, exp } };
  }

  #sign(input: string): string {
    return createHmac('sha256', this.#key).update(input).digest('base64url');
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
