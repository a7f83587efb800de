/**
 * One registry of jitpool's errors: a stable code, whether a retry can help, and a cause.
 * Tests assert `err.code`, never message text. HTTP statuses are mapped only in `api/`.
 */

/** Every error code jitpool raises, with whether retrying the same operation can succeed. */
export const ERROR_CODES = {
  JP_CONFIG_INVALID: { retryable: false },
  JP_CONFIG_NOT_FOUND: { retryable: false },
  JP_SECRET_MISSING: { retryable: false },
  JP_STORE_TRANSITION: { retryable: false },
  JP_STORE_NOT_FOUND: { retryable: false },
  JP_STORE_CORRUPT: { retryable: false },
  JP_STORE_UNAVAILABLE: { retryable: true },
  JP_STORE_IN_USE: { retryable: false },
  JP_GITHUB_AUTH: { retryable: false },
  JP_GITHUB_NOT_FOUND: { retryable: false },
  JP_GITHUB_CONFLICT: { retryable: false },
  JP_GITHUB_RUNNER_BUSY: { retryable: false },
  JP_GITHUB_RATE_LIMITED: { retryable: true },
  JP_GITHUB_UNAVAILABLE: { retryable: true },
  JP_GITHUB_REQUEST: { retryable: false },
  JP_GITHUB_ABORTED: { retryable: true },
  /** Another listener holds the runner scale set's message session (409 `RunnerScaleSetSessionConflictException`). */
  JP_SCALESET_SESSION_CONFLICT: { retryable: true },
  JP_PROVIDER_CREATE: { retryable: true },
  JP_PROVIDER_DELETE: { retryable: true },
  JP_PROVIDER_UNAVAILABLE: { retryable: true },
  JP_PROVIDER_IMAGE_MISSING: { retryable: true },
  JP_PROVIDER_TIMEOUT: { retryable: true },
  /** The process sandbox cannot start on this machine (bubblewrap missing or too old, no user namespaces). */
  JP_SANDBOX_UNAVAILABLE: { retryable: false },
  JP_INPUT_INVALID: { retryable: false },
  JP_POOL_NOT_FOUND: { retryable: false },
  JP_POOL_AT_CAPACITY: { retryable: true },
  JP_POOL_BACKOFF: { retryable: true },
  JP_RUNNER_BUSY: { retryable: false },
  JP_RUNNER_ACTION_IN_FLIGHT: { retryable: true },
  JP_CONTROLLER_STOPPING: { retryable: true },
  JP_API_UNAUTHORIZED: { retryable: false },
  JP_API_RATE_LIMITED: { retryable: true },
  JP_API_NOT_FOUND: { retryable: false },
  JP_VIEWS_DISAGREE: { retryable: false },
  JP_SLO_MISSED: { retryable: false },
  JP_WEBHOOK_SIGNATURE: { retryable: false },
  JP_WEBHOOK_MALFORMED: { retryable: false },
  JP_RUNNER_PACKAGE: { retryable: false },
  JP_RUNNER_CHECKSUM: { retryable: false },
  JP_RUNNER_DOWNLOAD: { retryable: true },
  JP_RUNNER_CONFIG: { retryable: false },
  JP_COMMAND_FAILED: { retryable: false },
  JP_LEASE_HELD: { retryable: false },
  JP_LEASE_LOST: { retryable: false },
  JP_RUNNER_CHANGED: { retryable: true },
  JP_INTERNAL: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options accepted by {@link JitpoolError}. */
export interface JitpoolErrorOptions {
  cause?: unknown;
  /** Overrides the code's default retry semantics (e.g. a 404 that is final here). */
  retryable?: boolean;
  /** Structured, secret-free details for logs and the API. */
  details?: Record<string, unknown>;
  /** What the operator does about it, in one sentence (printed after the message by the CLI). */
  fix?: string;
}

/** The one error class jitpool throws; `code` is stable, `retryable` says whether to back off and retry. */
export class JitpoolError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;
  /** What the operator does about it, when the message does not already say. */
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, options: JitpoolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JitpoolError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
    this.fix = options.fix;
  }
}

/** True when `err` is a {@link JitpoolError}, optionally with the given code. */
export function isJitpoolError(err: unknown, code?: ErrorCode): err is JitpoolError {
  return err instanceof JitpoolError && (code === undefined || err.code === code);
}

/** Whether retrying the operation that threw `err` can help (unknown errors are assumed transient). */
export function isRetryable(err: unknown): boolean {
  return err instanceof JitpoolError ? err.retryable : true;
}

/** A short, secret-free description of any thrown value, for logs and stored `lastError` fields. */
export function describeError(err: unknown): string {
  if (err instanceof JitpoolError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
