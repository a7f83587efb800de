import { z } from 'zod';
import { isSafeLabel, isSafeOwner, isSafeRepo, isSafeRunnerName } from '../core/index.ts';
import type { RepositoryVisibility } from '../routing/index.ts';
import type { JobObservation } from '../store/index.ts';

/** The part of a `workflow_job` webhook jitpool reads; everything else is ignored. */
const workflowJobPayload = z.object({
  action: z.string().max(64),
  workflow_job: z.object({
    id: z.number().int().positive(),
    run_id: z.number().int().positive(),
    name: z.string().max(1024).nullable().optional(),
    status: z.string().max(64),
    conclusion: z.string().max(64).nullable().optional(),
    labels: z.array(z.string().max(256)).max(100),
    runner_name: z.string().max(256).nullable().optional(),
    created_at: z.string().max(64),
    started_at: z.string().max(64).nullable().optional(),
    completed_at: z.string().max(64).nullable().optional(),
  }),
  repository: z.object({
    name: z.string().max(256),
    owner: z.object({ login: z.string().max(256) }),
    private: z.boolean().optional(),
    visibility: z.string().max(32).optional(),
  }),
});

/** The actions of `workflow_job` that change a job's state. */
const KNOWN_ACTIONS = new Set(['queued', 'waiting', 'in_progress', 'completed']);

/** The outcome of reading a `workflow_job` payload. */
export type WorkflowJobParse =
  | { kind: 'job'; observation: JobObservation; visibility: RepositoryVisibility | null }
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };

/**
 * Turns a parsed `workflow_job` payload into a job observation. Anything that could reach a
 * path, a shell or a provider (owner, repo, runner name) is validated; a job asking for labels
 * jitpool cannot use is ignored, since no pool could serve it anyway.
 */
export function parseWorkflowJob(body: unknown): WorkflowJobParse {
  const parsed = workflowJobPayload.safeParse(body);
  if (!parsed.success) return { kind: 'invalid', reason: `not a workflow_job payload: ${parsed.error.issues[0]?.path.join('.') ?? ''}` };
  const { action, workflow_job: job, repository } = parsed.data;
  if (!KNOWN_ACTIONS.has(action)) return { kind: 'ignored', reason: `action ${action.slice(0, 32)} is not handled` };
  if (!isSafeOwner(repository.owner.login) || !isSafeRepo(repository.name)) return { kind: 'invalid', reason: 'repository owner or name is not valid' };
  if (!job.labels.every(isSafeLabel)) return { kind: 'ignored', reason: 'the job asks for labels no pool can carry' };
  const queuedAtMs = Date.parse(job.created_at);
  if (Number.isNaN(queuedAtMs)) return { kind: 'invalid', reason: 'created_at is not a date' };
  const runnerName = job.runner_name && isSafeRunnerName(job.runner_name) ? job.runner_name : null;
  const state = action === 'completed' ? 'completed' : action === 'in_progress' ? 'in_progress' : action === 'waiting' ? 'waiting' : 'queued';
  return {
    kind: 'job',
    visibility: visibilityOf(repository),
    observation: {
      id: job.id,
      runId: job.run_id,
      owner: repository.owner.login,
      repo: repository.name,
      name: (job.name ?? '').slice(0, 200),
      labels: job.labels,
      state,
      conclusion: job.conclusion ?? null,
      runnerName: state === 'queued' || state === 'waiting' ? null : runnerName,
      queuedAtMs,
      startedAtMs: parseDate(job.started_at),
      completedAtMs: parseDate(job.completed_at),
    },
  };
}

/** The repository's visibility as the payload says (`visibility`, or the older `private` flag). */
function visibilityOf(repository: { private?: boolean; visibility?: string }): RepositoryVisibility | null {
  if (repository.visibility === 'public' || repository.visibility === 'private' || repository.visibility === 'internal') return repository.visibility;
  if (repository.private === undefined) return null;
  return repository.private ? 'private' : 'public';
}

function parseDate(value: string | null | undefined): number | null {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
