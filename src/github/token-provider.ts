import { createAppAuth } from '@octokit/auth-app';
import { request } from '@octokit/request';
import { JitpoolError, registerSecret, systemClock, type Clock } from '../core/index.ts';

/** Supplies the token for each request. */
export interface TokenProvider {
  /** A valid token (cached; refreshed before expiry for App installations). */
  getToken(): Promise<string>;
  /** `token` for a PAT, `app` for an App installation. */
  readonly kind: 'token' | 'app';
}

/** A fixed personal access token. */
export function staticToken(token: string): TokenProvider {
  if (!token) throw new JitpoolError('JP_SECRET_MISSING', 'the GitHub token is empty');
  registerSecret(token);
  return { kind: 'token', getToken: async () => token };
}

/** Options of {@link appInstallationToken}. */
export interface AppTokenOptions {
  appId: number;
  installationId: number;
  privateKey: string;
  /** Base URL for the App endpoints (GitHub Enterprise Server, the simulator). */
  baseUrl: string;
  /**
   * Refresh when the token is this old, whatever its expiry says. GitHub issues one-hour
   * tokens; refreshing at 50 minutes keeps long-lived supervisors safe (seed 001).
   * @default 3000000 (50 minutes)
   */
  maxAgeMs?: number;
  clock?: Clock;
}

/**
 * GitHub App installation tokens, cached and refreshed before expiry: when older than
 * `maxAgeMs`, or within 10 minutes of `expires_at`. Concurrent callers share one refresh.
 */
export function appInstallationToken(options: AppTokenOptions): TokenProvider {
  const clock = options.clock ?? systemClock;
  const maxAgeMs = options.maxAgeMs ?? 50 * 60_000;
  registerSecret(options.privateKey);
  const auth = createAppAuth({
    appId: options.appId,
    privateKey: options.privateKey,
    installationId: options.installationId,
    request: request.defaults({ baseUrl: options.baseUrl }),
  });
  let cached: { token: string; issuedAtMs: number; expiresAtMs: number } | null = null;
  let pending: Promise<string> | null = null;

  const refresh = async (): Promise<string> => {
    try {
      const result = await auth({ type: 'installation', refresh: true });
      registerSecret(result.token);
      cached = { token: result.token, issuedAtMs: clock.now(), expiresAtMs: Date.parse(result.expiresAt) };
      return result.token;
    } catch (err) {
      throw new JitpoolError('JP_GITHUB_AUTH', `could not get an installation token for App ${options.appId} (installation ${options.installationId})`, { cause: stripCause(err), retryable: true });
    }
  };
  return {
    kind: 'app',
    async getToken() {
      const now = clock.now();
      if (cached && now - cached.issuedAtMs < maxAgeMs && cached.expiresAtMs - now > 10 * 60_000) return cached.token;
      pending ??= refresh().finally(() => {
        pending = null;
      });
      return pending;
    },
  };
}

/** Keeps only the status of a failed auth request: the original may carry request headers. */
function stripCause(err: unknown): unknown {
  if (err && typeof err === 'object' && 'status' in err) return { status: (err as { status: unknown }).status };
  return err instanceof Error ? err.message : err;
}
