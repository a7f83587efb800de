import { createPrivateKey } from 'node:crypto';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { JitpoolError, registerSecret } from '../core/index.ts';
import { toJitpoolError } from './client.ts';

const AppOctokit = Octokit.plugin(retry);

/** Options of {@link createAppClient}. */
export interface AppClientOptions {
  /** REST base URL (https://api.github.com, GHES `https://HOST/api/v3`, or the simulator). */
  baseUrl: string;
  appId: number;
  /** PEM private key of the App (a secret: registered for redaction). */
  privateKey: string;
  /** Retries for 5xx and network errors. @default 2 */
  retries?: number;
  /** Per-request timeout. @default 30000 */
  requestTimeoutMs?: number;
}

/** What `GET /app` says about the authenticated App. */
export interface AppInfo {
  id: number;
  slug: string;
  name: string;
  owner: string | null;
}

/** An App installation on an account. */
export interface AppInstallation {
  id: number;
  account: string;
  appId: number;
  repositorySelection: 'all' | 'selected' | null;
}

/** An installation access token. A secret: never log it. */
export interface InstallationToken {
  token: string;
  /** ISO timestamp; GitHub issues one-hour tokens. */
  expiresAt: string;
  permissions: Record<string, string>;
}

/** The App-level calls, authenticated with a short-lived JWT signed by the App's private key. */
export interface GitHubAppClient {
  /** `GET /app`: proves the key loads and GitHub accepts the JWT. */
  getApp(): Promise<AppInfo>;
  /** The installation on a repository (`owner` + `repo`) or an account (`owner` alone, org first then user). */
  findInstallation(target: { owner: string; repo?: string }): Promise<AppInstallation>;
  /** `POST /app/installations/{id}/access_tokens`. */
  createInstallationToken(installationId: number): Promise<InstallationToken>;
  /** Requests sent so far. */
  calls(): number;
}

/** Checks that `pem` is a private key node:crypto can load; throws `JP_INPUT_INVALID` naming `where` otherwise. */
export function assertPrivateKey(pem: string, where: string): void {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : 'unreadable';
    throw new JitpoolError('JP_INPUT_INVALID', `${where}: not a usable GitHub App private key (${reason})`);
  }
}

/**
 * The GitHub App client: octokit with retries, the JWT minted by `@octokit/auth-app` for each
 * request (it is valid ten minutes; minting is cheap), errors mapped like the main client.
 */
export function createAppClient(options: AppClientOptions): GitHubAppClient {
  assertPrivateKey(options.privateKey, 'private key');
  registerSecret(options.privateKey);
  const auth = createAppAuth({ appId: options.appId, privateKey: options.privateKey });
  let count = 0;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const octokit = new AppOctokit({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    userAgent: 'jitpool',
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    request: { fetch: (input: Parameters<typeof fetch>[0], init?: RequestInit) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }) },
    retry: { retries: options.retries ?? 2, doNotRetry: [400, 401, 403, 404, 409, 410, 422, 451] },
  });
  octokit.hook.wrap('request', async (request, requestOptions) => {
    const { token } = await auth({ type: 'app' });
    registerSecret(token);
    requestOptions.headers.authorization = `bearer ${token}`;
    count += 1;
    return request(requestOptions);
  });

  const call = async <T>(fn: () => Promise<{ data: unknown }>, what: string): Promise<T> => {
    try {
      return (await fn()).data as T;
    } catch (err) {
      throw toJitpoolError(err, what);
    }
  };

  return {
    async getApp() {
      const data = await call<{ id: number; slug?: string; name: string; owner?: { login?: string } | null }>(() => octokit.request('GET /app'), `authenticate as App ${options.appId}`);
      return { id: data.id, slug: data.slug ?? '', name: data.name, owner: data.owner?.login ?? null };
    },

    async findInstallation(target) {
      type Raw = { id: number; app_id: number; account: { login?: string } | null; repository_selection?: 'all' | 'selected' };
      const toInstallation = (raw: Raw): AppInstallation => ({
        id: raw.id, appId: raw.app_id, account: raw.account?.login ?? target.owner, repositorySelection: raw.repository_selection ?? null,
      });
      if (target.repo !== undefined) {
        const repo = target.repo;
        return toInstallation(await call<Raw>(() => octokit.request('GET /repos/{owner}/{repo}/installation', { owner: target.owner, repo }), `find the App installation on ${target.owner}/${repo}`));
      }
      try {
        return toInstallation(await call<Raw>(() => octokit.request('GET /orgs/{org}/installation', { org: target.owner }), `find the App installation on ${target.owner}`));
      } catch (err) {
        if (!(err instanceof JitpoolError) || err.code !== 'JP_GITHUB_NOT_FOUND') throw err;
        // Not an organisation (or not installed there): try the user account.
        return toInstallation(await call<Raw>(() => octokit.request('GET /users/{username}/installation', { username: target.owner }), `find the App installation on ${target.owner}`));
      }
    },

    async createInstallationToken(installationId) {
      const data = await call<{ token: string; expires_at: string; permissions?: Record<string, string> }>(
        () => octokit.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: installationId }),
        `create an access token for installation ${installationId}`,
      );
      registerSecret(data.token);
      return { token: data.token, expiresAt: data.expires_at, permissions: data.permissions ?? {} };
    },

    calls: () => count,
  };
}
