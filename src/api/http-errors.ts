import type { FastifyReply } from 'fastify';
import { JitpoolError, redact, type ErrorCode } from '../core/index.ts';

/**
 * The one place jitpool's error codes become HTTP statuses. A code not listed answers 500
 * (503 when retrying can help), so a new code is never mistaken for the client's fault.
 */
export const HTTP_STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  JP_INPUT_INVALID: 400,
  JP_CONFIG_INVALID: 400,
  JP_API_UNAUTHORIZED: 401,
  JP_STORE_NOT_FOUND: 404,
  JP_API_NOT_FOUND: 404,
  JP_LEASE_HELD: 409,
  JP_LEASE_LOST: 503,
  JP_POOL_NOT_FOUND: 404,
  JP_GITHUB_NOT_FOUND: 404,
  JP_RUNNER_BUSY: 409,
  JP_GITHUB_RUNNER_BUSY: 409,
  JP_RUNNER_ACTION_IN_FLIGHT: 409,
  JP_POOL_AT_CAPACITY: 409,
  JP_GITHUB_CONFLICT: 409,
  JP_STORE_TRANSITION: 409,
  JP_API_RATE_LIMITED: 429,
  JP_GITHUB_AUTH: 502,
  JP_GITHUB_REQUEST: 502,
  JP_GITHUB_RATE_LIMITED: 503,
  JP_GITHUB_UNAVAILABLE: 503,
  JP_POOL_BACKOFF: 503,
  JP_CONTROLLER_STOPPING: 503,
  JP_PROVIDER_UNAVAILABLE: 503,
  JP_SANDBOX_UNAVAILABLE: 503,
  JP_STORE_UNAVAILABLE: 503,
  JP_STORE_CORRUPT: 503,
  JP_INTERNAL: 500,
};

/** The HTTP status for a jitpool error. */
export function httpStatusOf(err: JitpoolError): number {
  return HTTP_STATUS_BY_CODE[err.code] ?? (err.retryable ? 503 : 500);
}

/** The body every failed request answers with (also the `Error` schema of the OpenAPI document). */
export interface ErrorBody {
  ok: false;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Turns anything thrown by a route into a status and an {@link ErrorBody}; 5xx messages stay generic unless the error is ours. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof JitpoolError) {
    const status = httpStatusOf(err);
    return { status, body: { ok: false, code: err.code, message: redact(err.message), details: scrubDetails(err.details) } };
  }
  const fastifyError = err as { statusCode?: number; code?: string; message?: string; validation?: ValidationIssue[]; validationContext?: string };
  const status = fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 600 ? fastifyError.statusCode : 500;
  if (Array.isArray(fastifyError.validation)) {
    const fields = fastifyError.validation.map((issue) => describeIssue(fastifyError.validationContext ?? 'request', issue));
    return { status: 400, body: { ok: false, code: 'JP_INPUT_INVALID', message: redact(fields.join('; ')), details: { problems: fields } } };
  }
  if (status === 429) return { status, body: { ok: false, code: 'JP_API_RATE_LIMITED', message: 'too many requests; slow down' } };
  if (status >= 500) return { status, body: { ok: false, code: 'JP_INTERNAL', message: 'internal error' } };
  return { status, body: { ok: false, code: fastifyError.code ?? 'JP_INPUT_INVALID', message: redact(fastifyError.message ?? 'bad request') } };
}

/** Sends `err` as an error response. */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body } = toErrorResponse(err);
  return reply.code(status).send(body);
}

/** One schema problem as Ajv reports it. */
interface ValidationIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `body.pool: must have required property` style text that always names the field. */
function describeIssue(context: string, issue: ValidationIssue): string {
  const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const field =
    issue.keyword === 'required' ? String(issue.params.missingProperty)
    : issue.keyword === 'additionalProperties' ? String(issue.params.additionalProperty)
    : path;
  const where = [context, field].filter(Boolean).join('.');
  const what = issue.keyword === 'additionalProperties' ? 'is not a known field' : (issue.message ?? 'is invalid');
  return `${where}: ${what}`;
}

function scrubDetails(details: Record<string, unknown>): Record<string, unknown> | undefined {
  if (Object.keys(details).length === 0) return undefined;
  return JSON.parse(redact(JSON.stringify(details))) as Record<string, unknown>;
}
