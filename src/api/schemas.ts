import { redact } from '../core/index.ts';
import { JOB_STATES, RUNNER_STATES, type JobRecord, type RunnerRecord } from '../store/index.ts';

/**
 * The shared JSON schemas of the API. Each is added once with `addSchema` and referenced by
 * `$ref`, so validation, serialisation and the OpenAPI components come from the same text.
 */

const nullableInt = { type: ['integer', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

/** Every failed request's body. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['ok', 'code', 'message'],
  properties: {
    ok: { type: 'boolean', const: false },
    code: { type: 'string', description: 'stable error code, e.g. JP_RUNNER_BUSY' },
    message: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
  },
} as const;

/** A runner as the API shows it. */
export const runnerSchema = {
  $id: 'Runner',
  type: 'object',
  required: ['id', 'name', 'pool', 'state', 'labels', 'githubRunnerId', 'computeId', 'jobId', 'createdAtMs', 'stateSinceMs', 'ageSeconds'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    pool: { type: 'string' },
    state: { type: 'string', enum: [...RUNNER_STATES] },
    labels: { type: 'array', items: { type: 'string' } },
    githubRunnerId: nullableInt,
    computeId: nullableString,
    jobId: nullableInt,
    createdAtMs: { type: 'integer' },
    updatedAtMs: { type: 'integer' },
    stateSinceMs: { type: 'integer' },
    ageSeconds: { type: 'number', description: 'seconds since the launch decision' },
    exitCode: nullableInt,
    lastError: nullableString,
    outputTail: { ...nullableString, description: 'last lines of the runner output (detail view only)' },
  },
} as const;

/** A workflow job as the API shows it. */
export const jobSchema = {
  $id: 'Job',
  type: 'object',
  required: ['id', 'owner', 'repo', 'name', 'labels', 'state', 'pool', 'queuedAtMs', 'queueWaitMs'],
  properties: {
    id: { type: 'integer' },
    runId: { type: 'integer' },
    owner: { type: 'string' },
    repo: { type: 'string' },
    name: { type: 'string' },
    labels: { type: 'array', items: { type: 'string' } },
    state: { type: 'string', enum: [...JOB_STATES] },
    conclusion: nullableString,
    pool: nullableString,
    runnerName: nullableString,
    queuedAtMs: { type: 'integer' },
    startedAtMs: nullableInt,
    completedAtMs: nullableInt,
    queueWaitMs: { type: ['integer', 'null'], description: 'started minus queued; null until the job starts' },
    unservableReason: { ...nullableString, description: 'why no pool can serve the job (runner-group access, public repository, labels); such a job is never demand' },
    refreshAttempts: { type: 'integer', description: 're-reads from GitHub while it stayed queued' },
  },
} as const;

/** A pool with its sizing and what runs in it. */
export const poolSchema = {
  $id: 'Pool',
  type: 'object',
  required: ['name', 'labels', 'scope', 'minIdle', 'max', 'counts', 'queued', 'health', 'override'],
  properties: {
    name: { type: 'string' },
    labels: { type: 'array', items: { type: 'string' } },
    scope: { type: 'string', description: 'e.g. org acme, repo acme/app' },
    minIdle: { type: 'integer', description: 'warm floor in use (an override target when set)' },
    max: { type: 'integer' },
    bootTimeoutSeconds: { type: 'integer' },
    jobTimeoutSeconds: { type: 'integer' },
    counts: {
      type: 'object',
      required: ['booting', 'idle', 'busy', 'stopping', 'total'],
      properties: {
        booting: { type: 'integer' },
        idle: { type: 'integer' },
        busy: { type: 'integer' },
        stopping: { type: 'integer', description: 'stopping, finished, failed or lost: cleanup in progress' },
        total: { type: 'integer' },
      },
    },
    queued: { type: 'integer', description: 'queued jobs this pool serves' },
    bootToOnline: {
      type: 'object',
      description: 'launch decision → runner online over the latest 50 launches that came online (ms; null without samples)',
      required: ['p50Ms', 'p95Ms', 'samples'],
      properties: { p50Ms: { type: ['integer', 'null'] }, p95Ms: { type: ['integer', 'null'] }, samples: { type: 'integer' } },
    },
    unservable: { type: 'integer', description: 'open jobs matching its labels that its runner group may not serve (never demand)' },
    health: {
      type: 'object',
      required: ['degraded', 'consecutiveFailures'],
      properties: { degraded: { type: 'boolean' }, consecutiveFailures: { type: 'integer' }, lastError: nullableString },
    },
    override: {
      type: ['object', 'null'],
      properties: { minIdle: { type: 'integer' }, max: { type: 'integer' }, target: { type: 'integer' }, actor: { type: 'string' }, updatedAtMs: { type: 'integer' } },
    },
  },
} as const;

/** Every shared schema, in the order they must be added. */
export const SHARED_SCHEMAS = [errorSchema, runnerSchema, jobSchema, poolSchema];

/** Reference to a shared schema. */
export const ref = (id: 'Error' | 'Runner' | 'Job' | 'Pool') => ({ $ref: `${id}#` });

/** Error responses a route may answer, for its schema. */
export function errorResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((status) => [status, ref('Error')]));
}

/** A runner record as the API shows it (`detail` adds its output tail, scrubbed of secrets). */
export function runnerView(runner: RunnerRecord, nowMs: number, detail = false): Record<string, unknown> {
  return {
    id: runner.id,
    name: runner.name,
    pool: runner.pool,
    state: runner.state,
    labels: runner.labels,
    githubRunnerId: runner.githubRunnerId,
    computeId: runner.computeId,
    jobId: runner.jobId,
    createdAtMs: runner.createdAtMs,
    updatedAtMs: runner.updatedAtMs,
    stateSinceMs: runner.stateSinceMs,
    ageSeconds: Math.max(0, Math.round((nowMs - runner.createdAtMs) / 100) / 10),
    exitCode: runner.exitCode,
    lastError: runner.lastError === null ? null : redact(runner.lastError),
    ...(detail ? { outputTail: runner.outputTail === null ? null : redact(runner.outputTail) } : {}),
  };
}

/**
 * A job record as the API shows it. The queue wait counts only once the job left the queue:
 * GitHub's `queued` deliveries already carry a `started_at` (equal to the creation time).
 */
export function jobView(job: JobRecord): Record<string, unknown> {
  const hasStarted = (job.state === 'in_progress' || job.state === 'completed') && job.startedAtMs !== null;
  return { ...job, queueWaitMs: hasStarted ? Math.max(0, job.startedAtMs! - job.queuedAtMs) : null };
}
