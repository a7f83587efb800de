import Bottleneck from 'bottleneck';
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { JitpoolError, redact, registerJitConfig, registerSecret, type Logger } from '../core/index.ts';
import { timeoutFetch, untilAborted } from './abort.ts';
import { readPages } from './pages.ts';
import { toJob, toRepoRef, toRepository, toRun, toRunner, toRunnerGroup, type RawJob, type RawRepository, type RawRunner, type RawRunnerGroup } from './rest-shapes.ts';
import type { TokenProvider } from './token-provider.ts';
import { toPullRequest, toWorkflowRun, type RawPullRequest, type RawWorkflowRun } from './run-shapes.ts';
import type {
  ApiCallStats, Conditional, GitHubApi, GitHubJob, GitHubRepository, GitHubRunner, GitHubRunnerGroup, GitHubScope, JitConfig, JitConfigRequest,
  RateLimitState, RegistrationToken, RepositoryVariable,
} from './types.ts';

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
  /**
   * Aborted at shutdown: requests in flight and retry waits end at once with a retryable
   * `JP_GITHUB_ABORTED`, and no new request starts.
   */
  signal?: AbortSignal;
}

/** Page caps per list: a runner list may be long; queued runs, a run's jobs and workflows are not. */
const MAX_PAGES = { runners: 50, runs: 10, jobs: 10, repos: 50, workflows: 10, groupRepos: 50 } as const;

interface CachedPage {
  etag: string;
  data: unknown;
  headers: Record<string, unknown>;
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
    // Failed requests are logged by octokit at error level; jitpool handles (and logs) them with context.
    log: { debug: () => {}, info: () => {}, warn: (m: string) => logger.warn({ component: 'github' }, redact(m)), error: (m: string) => logger.debug({ component: 'github' }, redact(m)) },
    request: { fetch: timeoutFetch(timeoutMs, options.signal) },
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
    const attempt = async () => {
      const token = await options.tokens.getToken();
      requestOptions.headers.authorization = options.tokens.kind === 'app' ? `token ${token}` : `Bearer ${token}`;
      // Counted when the answer arrives, so `total` and `notModified` always describe the same
      // set of calls (a snapshot taken while a call is in flight sees neither).
      const count = (isNotModified: boolean) => {
        counts.total += 1;
        counts.byEndpoint[route] = (counts.byEndpoint[route] ?? 0) + 1;
        if (isNotModified) counts.notModified += 1;
      };
      try {
        const response = await request(requestOptions);
        count(false);
        noteRateLimit(response.headers as Record<string, string | undefined>);
        return response;
      } catch (err) {
        const status = (err as { status?: number }).status;
        count(status === 304);
        const headers = (err as { response?: { headers?: Record<string, string | undefined> } }).response?.headers;
        if (headers) noteRateLimit(headers);
        throw err;
      }
    };
    // Registered last, so it wraps retry and throttling: an abort also ends their waits.
    if (options.signal?.aborted) throw new JitpoolError('JP_GITHUB_ABORTED', `${route}: not sent, jitpool is shutting down`);
    return options.signal ? untilAborted(attempt(), options.signal, route) : attempt();
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

  /** One GET with If-None-Match; a 304 returns the cached body and costs no rate limit. */
  async function conditionalGet(route: string, params: Record<string, unknown>): Promise<{ data: unknown; headers: Record<string, unknown>; notModified: boolean }> {
    const key = `${route} ${JSON.stringify(params)}`;
    const cached = pageCache.get(key);
    try {
      const response = await octokit.request(route, { ...params, headers: cached ? { 'if-none-match': cached.etag } : {} });
      const etag = String(response.headers.etag ?? '');
      if (etag) {
        // Bounded: runs come and go, and their job lists must not pile up forever.
        if (pageCache.size >= 5000) pageCache.delete(pageCache.keys().next().value!);
        pageCache.set(key, { etag, data: response.data, headers: response.headers as Record<string, unknown> });
      }
      return { data: response.data, headers: response.headers as Record<string, unknown>, notModified: false };
    } catch (err) {
      if ((err as { status?: number }).status === 304 && cached) return { data: cached.data, headers: cached.headers, notModified: true };
      throw err;
    }
  }

  /**
   * Every page of a list (see `readPages`: de-duplicated by `keyOf`, bounded by `rel="last"` and
   * `maxPages`), each read conditionally; `notModified` when every page was a 304.
   */
  async function conditionalPages<Raw, T>(
    route: string,
    params: Record<string, unknown>,
    field: string | null,
    map: (raw: Raw) => T,
    what: string,
    paging: { maxPages: number; keyOf: (raw: Raw) => unknown },
  ): Promise<Conditional<T>> {
    try {
      const read = await readPages<Raw, T>(async (page) => {
        const result = await conditionalGet(route, { ...params, per_page: 100, page });
        const list = (field === null ? result.data : (result.data as Record<string, unknown>)[field]) as Raw[];
        return { list: Array.isArray(list) ? list : [], link: result.headers.link, notModified: result.notModified };
      }, { maxPages: paging.maxPages, map, keyOf: paging.keyOf });
      if (read.isTruncated) logger.warn({ component: 'github', what, pages: read.pages }, 'list cut at its page cap; the rest is read next time');
      return { items: read.items, notModified: read.notModified };
    } catch (err) {
      throw toJitpoolError(err, what);
    }
  }

  const byId = (raw: { id: number }) => raw.id;

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
      // Owned by the runner's name: forgotten with the runner (the registry stays bounded).
      registerJitConfig(body.encoded_jit_config, request.name);
      return { runnerId: body.runner.id, runnerName: body.runner.name, encodedJitConfig: body.encoded_jit_config };
    },

    async listRunners(scope): Promise<GitHubRunner[]> {
      const result = await conditionalPages(`GET ${scopePath(scope)}/actions/runners`, scopeParams(scope), 'runners', toRunner, `list runners of ${describeScope(scope)}`, {
        maxPages: MAX_PAGES.runners, keyOf: byId,
      });
      return result.items;
    },

    listWorkflowRuns: (owner, repo, status) =>
      conditionalPages('GET /repos/{owner}/{repo}/actions/runs', { owner, repo, status }, 'workflow_runs', toRun, `list ${status} runs of ${owner}/${repo}`, {
        maxPages: MAX_PAGES.runs, keyOf: byId,
      }),

    listRunJobs: (owner, repo, runId) =>
      conditionalPages('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', { owner, repo, run_id: runId, filter: 'latest' }, 'jobs', toJob, `list jobs of run ${runId}`, {
        maxPages: MAX_PAGES.jobs, keyOf: byId,
      }),

    listScopeRepos: (org) =>
      options.tokens.kind === 'app'
        ? conditionalPages('GET /installation/repositories', {}, 'repositories', toRepoRef, 'list installation repositories', { maxPages: MAX_PAGES.repos, keyOf: byId })
        : conditionalPages('GET /orgs/{org}/repos', { org, type: 'all' }, null, toRepoRef, `list repositories of ${org}`, { maxPages: MAX_PAGES.repos, keyOf: byId }),

    async listWorkflowPaths(owner, repo) {
      const result = await conditionalPages('GET /repos/{owner}/{repo}/actions/workflows', { owner, repo }, 'workflows', (w: { path: string; state: string }) => w, `list workflows of ${owner}/${repo}`, {
        maxPages: MAX_PAGES.workflows, keyOf: (w) => w.path,
      });
      return { items: result.items.filter((w) => w.state === 'active').map((w) => w.path), notModified: result.notModified };
    },

    async getFileText(owner, repo, path) {
      try {
        const { data, notModified } = await conditionalGet('GET /repos/{owner}/{repo}/contents/{path}', { owner, repo, path });
        const file = data as { content?: string; encoding?: string };
        const text = file.content && file.encoding === 'base64' ? Buffer.from(file.content, 'base64').toString('utf8') : null;
        return { text, notModified };
      } catch (err) {
        if ((err as { status?: number }).status === 404) return { text: null, notModified: false };
        throw toJitpoolError(err, `read ${owner}/${repo}/${path}`);
      }
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

    async createRegistrationToken(scope): Promise<RegistrationToken> {
      const { data } = await call(
        () => octokit.request(`POST ${scopePath(scope)}/actions/runners/registration-token`, scopeParams(scope)),
        `create a registration token for ${describeScope(scope)}`,
      );
      const body = data as { token: string; expires_at: string };
      registerSecret(body.token);
      return { token: body.token, expiresAt: body.expires_at };
    },

    async getRunnerByName(scope, name): Promise<GitHubRunner | null> {
      const { data } = await call(
        () => octokit.request(`GET ${scopePath(scope)}/actions/runners`, { ...scopeParams(scope), name, per_page: 100 }),
        `find runner ${name} in ${describeScope(scope)}`,
      );
      // The `name` filter is exact at GitHub; compare again in case a server ignores it.
      const found = (data as { runners: RawRunner[] }).runners.find((runner) => runner.name === name);
      return found ? toRunner(found) : null;
    },

    async listWorkflowJobs(owner, repo, filter): Promise<GitHubJob[]> {
      // A run is `queued` while any job waits, but a run with one job running and another queued
      // is `in_progress`: read both kinds of run when looking for queued jobs.
      const runStatuses: Array<'queued' | 'in_progress'> = filter.status === 'queued' ? ['queued', 'in_progress'] : ['in_progress'];
      const maxRuns = filter.maxRuns ?? 100;
      const runIds = new Set<number>();
      for (const status of runStatuses) {
        const { data } = await call(
          () =>
            octokit.request('GET /repos/{owner}/{repo}/actions/runs', {
              owner, repo, status, per_page: Math.min(100, maxRuns), ...(filter.branch ? { branch: filter.branch } : {}),
            }),
          `list ${status} workflow runs of ${owner}/${repo}`,
        );
        for (const run of (data as { workflow_runs: Array<{ id: number; head_branch: string | null }> }).workflow_runs) {
          if (filter.branch === undefined || run.head_branch === filter.branch) runIds.add(run.id);
        }
      }
      const jobs: GitHubJob[] = [];
      for (const runId of [...runIds].slice(0, maxRuns)) {
        const { data } = await call(
          () => octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', { owner, repo, run_id: runId, filter: 'latest', per_page: 100 }),
          `list jobs of run ${runId}`,
        );
        for (const raw of (data as { jobs: RawJob[] }).jobs) if (raw.status === filter.status) jobs.push(toJob(raw));
      }
      return jobs;
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

    async getRunnerGroup(org, groupId): Promise<GitHubRunnerGroup> {
      const route = 'GET /orgs/{org}/actions/runner-groups/{runner_group_id}';
      const { data } = await call(() => conditionalGet(route, { org, runner_group_id: groupId }), `get runner group ${groupId} of ${org}`);
      return toRunnerGroup(data as RawRunnerGroup);
    },

    listRunnerGroupRepositories: (org, groupId) =>
      conditionalPages(
        'GET /orgs/{org}/actions/runner-groups/{runner_group_id}/repositories', { org, runner_group_id: groupId }, 'repositories',
        (raw: { id: number; full_name: string }) => raw.full_name, `list repositories of runner group ${groupId} of ${org}`,
        { maxPages: MAX_PAGES.groupRepos, keyOf: byId },
      ),

    async getRepository(owner, repo): Promise<GitHubRepository | null> {
      try {
        const { data } = await conditionalGet('GET /repos/{owner}/{repo}', { owner, repo });
        return toRepository(data as RawRepository);
      } catch (err) {
        if ((err as { status?: number }).status === 404) return null;
        throw toJitpoolError(err, `get repository ${owner}/${repo}`);
      }
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
