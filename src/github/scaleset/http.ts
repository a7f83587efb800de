import { JitpoolError, backoffMs, sleep, type Logger } from '../../core/index.ts';
import type { ScaleSetCallStats } from './types.ts';

/**
 * One HTTP exchange with the Actions service or its broker, as the reference client does it
 * (retryablehttp: 5xx, 429 and connection errors retried with capped exponential backoff; every
 * other status is the caller's to judge), with a count per templated endpoint. Errors never carry
 * a token: the message names the method, the templated endpoint and the service's exception.
 */

/** Options shared by every request of one client. */
export interface ServiceHttpOptions {
  logger: Logger;
  userAgent: string;
  /** Retries for 5xx, 429 and network errors (the reference's `retryMax`). @default 4 */
  retries: number;
  /** First retry delay; doubled per attempt up to 30 s (`retryWaitMax`). @default 1000 */
  retryBaseMs: number;
  /** Per-request timeout (a message long poll gets its own). @default 30000 */
  requestTimeoutMs: number;
  stats: ScaleSetCallStats;
  /** Aborted at shutdown: requests in flight end at once with `JP_GITHUB_ABORTED`. */
  signal?: AbortSignal;
}

/** One request. */
export interface ServiceRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  /** The endpoint's template for counts and errors, e.g. `POST /_apis/runtime/runnerscalesets/{id}/sessions`. */
  endpoint: string;
  authorization: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Ends this request (and its retries) early, e.g. a long poll at shutdown: `JP_GITHUB_ABORTED`. */
  signal?: AbortSignal;
}

/** An answer: status, parsed JSON body (undefined when empty) and the exception name of an error body. */
export interface ServiceResponse {
  status: number;
  body: unknown;
  /** `typeName` of an Actions-service exception body, e.g. `GitHub.Actions.Runtime.WebApi.RunnerScaleSetSessionConflictException, …`. */
  exception: string | null;
  message: string | null;
  /** The `ActivityId` / `X-GitHub-Request-Id` headers, for support. */
  requestIds: Record<string, string>;
}

const RETRY_CAP_MS = 30_000;

function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

/** Sends `request`, retrying transient failures; resolves with any HTTP answer (the caller maps statuses). */
export async function sendServiceRequest(options: ServiceHttpOptions, request: ServiceRequest): Promise<ServiceResponse> {
  let lastError: unknown = null;
  const abort = AbortSignal.any([...(options.signal ? [options.signal] : []), ...(request.signal ? [request.signal] : [])]);
  for (let attempt = 0; attempt <= options.retries; attempt += 1) {
    if (attempt > 0) await sleep(backoffMs(attempt - 1, options.retryBaseMs, RETRY_CAP_MS), abort);
    if (abort.aborted) throw new JitpoolError('JP_GITHUB_ABORTED', `${request.endpoint}: abandoned, jitpool is shutting down`);
    options.stats.total += 1;
    options.stats.byEndpoint[request.endpoint] = (options.stats.byEndpoint[request.endpoint] ?? 0) + 1;
    let response: Response;
    try {
      const signals = [AbortSignal.timeout(request.timeoutMs ?? options.requestTimeoutMs), abort];
      response = await fetch(request.url, {
        method: request.method,
        headers: {
          'content-type': 'application/json',
          'user-agent': options.userAgent,
          authorization: request.authorization,
          ...request.headers,
        },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.any(signals),
      });
    } catch (err) {
      if (abort.aborted) throw new JitpoolError('JP_GITHUB_ABORTED', `${request.endpoint}: abandoned, jitpool is shutting down`);
      lastError = err;
      options.logger.debug({ component: 'scaleset', endpoint: request.endpoint, attempt }, 'request failed; retrying');
      continue;
    }
    const answer = await readResponse(response);
    if (isRetryableStatus(answer.status) && attempt < options.retries) {
      lastError = new Error(`status ${answer.status}`);
      continue;
    }
    return answer;
  }
  throw new JitpoolError('JP_GITHUB_UNAVAILABLE', `${request.endpoint}: the Actions service did not answer after ${options.retries + 1} attempts`, {
    cause: lastError,
    details: { endpoint: request.endpoint },
  });
}

async function readResponse(response: Response): Promise<ServiceResponse> {
  // The service may prefix JSON with a UTF-8 byte order mark (the reference trims it).
  const text = (await response.text()).replace(/^\uFEFF/, '');
  let body: unknown;
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  const record = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const requestIds: Record<string, string> = {};
  for (const name of ['activityid', 'x-github-request-id']) {
    const value = response.headers.get(name);
    if (value) requestIds[name] = value;
  }
  return {
    status: response.status,
    body,
    exception: typeof record.typeName === 'string' ? record.typeName : null,
    message: typeof record.message === 'string' ? record.message : typeof body === 'string' ? body.slice(0, 200) : null,
    requestIds,
  };
}

/** True when the answer is the .NET exception `name` (matched on its type name, as the reference does). */
export function isException(response: ServiceResponse, name: string): boolean {
  return response.exception !== null && response.exception.includes(name);
}

/**
 * The error for an unexpected answer: 401/403 `JP_GITHUB_AUTH`, 404 `JP_GITHUB_NOT_FOUND`,
 * 409 `JP_GITHUB_CONFLICT` (a session conflict has its own code), 5xx `JP_GITHUB_UNAVAILABLE`,
 * anything else `JP_GITHUB_REQUEST`.
 */
export function serviceError(request: ServiceRequest, response: ServiceResponse): JitpoolError {
  const exception = response.exception?.split(',')[0]?.split('.').pop() ?? null;
  const what = `${request.endpoint} answered ${response.status}${exception ? ` ${exception}` : ''}${response.message ? `: ${response.message}` : ''}`;
  const details = { endpoint: request.endpoint, status: response.status, exception, ...response.requestIds };
  if (response.status === 409 && isException(response, 'RunnerScaleSetSessionConflictException')) {
    return new JitpoolError('JP_SCALESET_SESSION_CONFLICT', `${what}. Another listener holds this scale set's session (a second jitpool with the same pool, or a session a crashed one left behind, which expires within minutes)`, { details });
  }
  if (response.status === 401 || response.status === 403) {
    return new JitpoolError('JP_GITHUB_AUTH', `${what}. Check that the token or App may administer self-hosted runners of this scope`, { details });
  }
  if (response.status === 404) return new JitpoolError('JP_GITHUB_NOT_FOUND', what, { details });
  if (response.status === 409) return new JitpoolError('JP_GITHUB_CONFLICT', what, { details });
  if (response.status >= 500 || response.status === 429) return new JitpoolError('JP_GITHUB_UNAVAILABLE', what, { details });
  return new JitpoolError('JP_GITHUB_REQUEST', what, { details });
}
