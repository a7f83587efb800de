import Bottleneck from 'bottleneck';
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { JitpoolError, redact, registerSecret, type Logger } from '../core/index.ts';
import type { TokenProvider } from './token-provider.ts';
import { toPullRequest, toWorkflowRun, type RawPullRequest, type RawWorkflowRun } from './run-shapes.ts';
import type { ApiCallStats, GitHubApi, GitHubJob, GitHubRunner, GitHubScope, JitConfig, JitConfigRequest, RateLimitState, RepositoryVariable } from './types.ts';

const JitOctokit = Octokit.plugin(retry, throttling);
type JitOctokitInstance = InstanceType<typeof JitOctokit>;

/** Options of {@link createGitHubClient}. */
export interface GitHubClientOptions {
  /** REST base URL: https://api.github.com, https://HOST/api/v3 for GitHub Enterprise Server, or the simulator. */
  baseUrl: string;
  tokens: TokenProvider;
  logger: Logger;
  /** Retries for 5xx and network errors (plugin-retry) and for rate limits (plugin-throttling). @default 3 */
  retries?: number;
  /** Multiplier in ms for retry delays (plugin-retry waits base × (n+1)²). @default 1000 */
  retryBaseMs?: number;
  /** Mutating requests in flight at once. @default 4 */
  writeConcurrency?: number;
  /** Least time between mutating requests; GitHub advises 1000 for bulk writes. @default 0 */
  writeMinIntervalMs?: number;
  /** Per-request timeout. @default 30000 */
  requestTimeoutMs?: number;
  userAgent?: string;
}

interface CachedPage {
  etag: string;
  runners: GitHubRunner[];
  hasNext: boolean;
}

/**
 * The one GitHub client: octokit with retry and throttling, conditional requests for lists
 * (a 304 costs no rate limit), and a count of every call by route.
 */
export function createGitHubClient(options: GitHubClientOptions): GitHubApi {
  const { logger } = options;
  const counts: ApiCallStats = { total: 0, notModified: 0, byEndpoint: {} };
  let rateLimit: RateLimitState | null = null;
  const pageCache = new Map<string, CachedPage>();
  const maxRetries = options.retries ?? 3;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;

  const octokit: JitOctokitInstance = new JitOctokit({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    userAgent: options.userAgent ?? 'jitpool',
    log: { debug: () => {}, info: () => {}, warn: (m: string) => logger.warn({ component: 'github' }, redact(m)), error: (m: string) => logger.error({ component: 'github' }, redact(m)) },
    request: { fetch: timeoutFetch(timeoutMs) },
    retry: { retries: maxRetries, retryAfterBaseValue: options.retryBaseMs ?? 1000, doNotRetry: [304, 400, 401, 403, 404, 409, 410, 422, 451] },
    throttle: {
      retryAfterBaseValue: options.retryBaseMs ?? 1000,
      fallbackSecondaryRateRetryAfter: 60,
      write: new Bottleneck.Group({ maxConcurrent: options.writeConcurrency ?? 4, minTime: options.writeMinIntervalMs ?? 0 }),
      onRateLimit: (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
        logger.warn({ component: 'github', route: `${request.method} ${request.url}`, retryAfter, retryCount }, 'primary rate limit reached');
        return retryCount < maxRetries;
      },
      onSecondaryRateLimit: (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
        logger.warn({ component: 'github', route: `${request.method} ${request.url}`, retryAfter, retryCount }, 'secondary rate limit reached');
        return retryCount < maxRetries;
      },
    },
  });

  octokit.hook.wrap('request', async (request, requestOptions) => {
    const route = `${requestOptions.method} ${requestOptions.url}`;
    const token = await options.tokens.getToken();
    requestOptions.headers.authorization = options.tokens.kind === 'app' ? `token ${token}` : `Bearer ${token}`;
    counts.total += 1;
    counts.byEndpoint[route] = (counts.byEndpoint[route] ?? 0) + 1;
    try {
      const response = await request(requestOptions);
      noteRateLimit(response.headers as Record<string, string | undefined>);
      return response;
    } catch (err) {
      const status = (err as { status?: number }).status;
      const headers = (err as { response?: { headers?: Record<string, string | undefined> } }).response?.headers;
      if (headers) noteRateLimit(headers);
      if (status === 304) counts.notModified += 1;
      throw err;
    }
  });

  function noteRateLimit(headers: Record<string, string | undefined>): void {
    const remaining = headers['x-ratelimit-remaining'];
    if (remaining === undefined) return;
    rateLimit = {
      limit: Number(headers['x-ratelimit-limit'] ?? 0),
      remaining: Number(remaining),
      resetAtMs: Number(headers['x-ratelimit-reset'] ?? 0) * 1000,
    };
  }

  return {
    async generateJitConfig(scope, request: JitConfigRequest): Promise<JitConfig> {
      const { data } = await call(
        () =>
          octokit.request(`POST ${scopePath(scope)}/actions/runners/generate-jitconfig`, {
            ...scopeParams(scope),
            name: request.name,
            runner_group_id: request.runnerGroupId,
            labels: request.labels,
            work_folder: request.workFolder,
          }),
        `generate a JIT config for ${request.name}`,
      );
      const body = data as { runner: { id: number; name: string }; encoded_jit_config: string };
      registerSecret(body.encoded_jit_config);
      return { runnerId: body.runner.id, runnerName: body.runner.name, encodedJitConfig: body.encoded_jit_config };
    },

    async listRunners(scope): Promise<GitHubRunner[]> {
      const all: GitHubRunner[] = [];
      for (let page = 1; page < 1000; page += 1) {
        const key = `${scopePath(scope)}#${page}`;
        const cached = pageCache.get(key);
        let result: CachedPage;
        try {
          const response = await octokit.request(`GET ${scopePath(scope)}/actions/runners`, {
            ...scopeParams(scope),
            per_page: 100,
            page,
            headers: cached ? { 'if-none-match': cached.etag } : {},
          });
          const data = response.data as { runners: RawRunner[] };
          result = {
            etag: String(response.headers.etag ?? ''),
            runners: data.runners.map(toRunner),
            hasNext: /rel="next"/.test(String(response.headers.link ?? '')),
          };
          if (result.etag) pageCache.set(key, result);
        } catch (err) {
          if ((err as { status?: number }).status === 304 && cached) result = cached;
          else throw toJitpoolError(err, `list runners of ${describeScope(scope)}`);
        }
        all.push(...result.runners);
        if (!result.hasNext) break;
      }
      return all;
    },

    async deleteRunner(scope, runnerId): Promise<'deleted' | 'not-found'> {
      try {
        await octokit.request(`DELETE ${scopePath(scope)}/actions/runners/{runner_id}`, { ...scopeParams(scope), runner_id: runnerId });
        return 'deleted';
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === 404) return 'not-found';
        if (status === 422) {
          throw new JitpoolError('JP_GITHUB_RUNNER_BUSY', `GitHub refused to delete runner ${runnerId}: it is running a job`, { details: { runnerId } });
        }
        throw toJitpoolError(err, `delete runner ${runnerId} of ${describeScope(scope)}`);
      }
    },

    async getJob(owner, repo, jobId): Promise<GitHubJob> {
      const { data } = await call(() => octokit.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', { owner, repo, job_id: jobId }), `get job ${jobId}`);
      return toJob(data as RawJob);
    },

    async getVariable(owner, repo, name): Promise<RepositoryVariable | null> {
      try {
        const { data } = await octokit.request('GET /repos/{owner}/{repo}/actions/variables/{name}', { owner, repo, name });
        const body = data as { name: string; value: string; updated_at?: string };
        return { name: body.name, value: body.value, updatedAt: body.updated_at ?? null };
      } catch (err) {
        if ((err as { status?: number }).status === 404) return null;
        throw toJitpoolError(err, `get variable ${name} of ${owner}/${repo}`);
      }
    },

    async setVariable(owner, repo, name, value): Promise<'updated' | 'created'> {
      try {
        await octokit.request('PATCH /repos/{owner}/{repo}/actions/variables/{name}', { owner, repo, name, value });
        return 'updated';
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw toJitpoolError(err, `update variable ${name} of ${owner}/${repo}`);
      }
      await call(() => octokit.request('POST /repos/{owner}/{repo}/actions/variables', { owner, repo, name, value }), `create variable ${name} of ${owner}/${repo}`);
      return 'created';
    },

    async getWorkflowRun(owner, repo, runId) {
      const { data } = await call(() => octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}', { owner, repo, run_id: runId }), `get workflow run ${runId}`);
      return toWorkflowRun(data as RawWorkflowRun);
    },

    async getPullRequest(owner, repo, pullNumber) {
      const { data } = await call(() => octokit.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { owner, repo, pull_number: pullNumber }), `get pull request #${pullNumber}`);
      return toPullRequest(data as RawPullRequest);
    },

    stats: () => ({ total: counts.total, notModified: counts.notModified, byEndpoint: { ...counts.byEndpoint } }),
    rateLimit: () => rateLimit,
  };
}

async function call<T>(fn: () => Promise<T>, what: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toJitpoolError(err, what);
  }
}

/** Maps an octokit error to a coded JitpoolError without carrying request headers (they hold the token). */
export function toJitpoolError(err: unknown, what: string): JitpoolError {
  if (err instanceof JitpoolError) return err;
  const status = (err as { status?: number }).status;
  const headers = (err as { response?: { headers?: Record<string, string> } }).response?.headers ?? {};
  const message = redact(String((err as { message?: string }).message ?? err)).slice(0, 300);
  const details = { status: status ?? null };
  if (status === undefined) return new JitpoolError('JP_GITHUB_UNAVAILABLE', `${what}: ${message}`, { details });
  if (status === 429 || (status === 403 && headers['x-ratelimit-remaining'] === '0')) {
    return new JitpoolError('JP_GITHUB_RATE_LIMITED', `${what}: rate limited (${status})`, { details });
  }
  if (status === 401 || status === 403) return new JitpoolError('JP_GITHUB_AUTH', `${what}: ${status} ${message}`, { details });
  if (status === 404) return new JitpoolError('JP_GITHUB_NOT_FOUND', `${what}: not found`, { details });
  if (status === 409) return new JitpoolError('JP_GITHUB_CONFLICT', `${what}: ${message}`, { details });
  if (status >= 500) return new JitpoolError('JP_GITHUB_UNAVAILABLE', `${what}: ${status} ${message}`, { details });
  return new JitpoolError('JP_GITHUB_REQUEST', `${what}: ${status} ${message}`, { details });
}

/** The REST path prefix of a scope (with octokit placeholders). */
export function scopePath(scope: GitHubScope): string {
  switch (scope.kind) {
    case 'repo':
      return '/repos/{owner}/{repo}';
    case 'org':
      return '/orgs/{org}';
    case 'enterprise':
      return '/enterprises/{enterprise}';
  }
}

function scopeParams(scope: GitHubScope): Record<string, string> {
  switch (scope.kind) {
    case 'repo':
      return { owner: scope.owner, repo: scope.repo };
    case 'org':
      return { org: scope.org };
    case 'enterprise':
      return { enterprise: scope.enterprise };
  }
}

/** `owner/repo`, `org org`, `enterprise e`: a scope for messages. */
export function describeScope(scope: GitHubScope): string {
  switch (scope.kind) {
    case 'repo':
      return `${scope.owner}/${scope.repo}`;
    case 'org':
      return `org ${scope.org}`;
    case 'enterprise':
      return `enterprise ${scope.enterprise}`;
  }
}

interface RawRunner {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  ephemeral?: boolean;
  labels: Array<{ name: string }>;
}

function toRunner(raw: RawRunner): GitHubRunner {
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status === 'online' ? 'online' : 'offline',
    busy: raw.busy,
    ephemeral: raw.ephemeral ?? false,
    labels: raw.labels.map((label) => label.name),
  };
}

interface RawJob {
  id: number;
  run_id: number;
  name: string;
  status: GitHubJob['status'];
  conclusion: string | null;
  labels: string[];
  runner_name: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

function toJob(raw: RawJob): GitHubJob {
  return {
    id: raw.id,
    runId: raw.run_id,
    name: raw.name,
    status: raw.status,
    conclusion: raw.conclusion,
    labels: raw.labels,
    runnerName: raw.runner_name,
    createdAt: raw.created_at,
    startedAt: raw.started_at,
    completedAt: raw.completed_at,
  };
}

function timeoutFetch(timeoutMs: number): typeof fetch {
  return (input, init) => {
    const signal = init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    return fetch(input, { ...init, signal });
  };
}
