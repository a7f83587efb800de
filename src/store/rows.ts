import type { JobState, RunnerState } from './lifecycle.ts';
import type { JobRecord, RunnerRecord, StateCount, TeardownOutcome, TransitionRecord } from './types.ts';

/** A row as node:sqlite returns it. */
export type Row = Record<string, string | number | null>;

export function toRunner(row: Row): RunnerRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    pool: String(row.pool),
    state: row.state as RunnerState,
    labels: JSON.parse(String(row.labels)) as string[],
    githubRunnerId: row.github_runner_id === null ? null : Number(row.github_runner_id),
    computeId: row.compute_id === null ? null : String(row.compute_id),
    jobId: row.job_id === null ? null : Number(row.job_id),
    createdAtMs: Number(row.created_at_ms),
    updatedAtMs: Number(row.updated_at_ms),
    stateSinceMs: Number(row.state_since_ms),
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    lastError: row.last_error === null ? null : String(row.last_error),
    outputTail: row.output_tail === null ? null : String(row.output_tail),
    version: Number(row.version ?? 0),
    teardown: row.teardown_outcome === null || row.teardown_outcome === undefined ? null : { outcome: row.teardown_outcome as TeardownOutcome, isForced: Number(row.teardown_force) === 1 },
  };
}

export function toJob(row: Row): JobRecord {
  return {
    id: Number(row.id),
    runId: Number(row.run_id),
    owner: String(row.owner),
    repo: String(row.repo),
    name: String(row.name),
    labels: JSON.parse(String(row.labels)) as string[],
    state: row.state as JobState,
    conclusion: row.conclusion === null ? null : String(row.conclusion),
    pool: row.pool === null ? null : String(row.pool),
    runnerName: row.runner_name === null ? null : String(row.runner_name),
    queuedAtMs: Number(row.queued_at_ms),
    startedAtMs: row.started_at_ms === null ? null : Number(row.started_at_ms),
    completedAtMs: row.completed_at_ms === null ? null : Number(row.completed_at_ms),
    updatedAtMs: Number(row.updated_at_ms),
    refreshAttempts: row.refresh_attempts === undefined ? 0 : Number(row.refresh_attempts),
    nextRefreshAtMs: row.next_refresh_at_ms === null || row.next_refresh_at_ms === undefined ? null : Number(row.next_refresh_at_ms),
    unservableReason: row.unservable_reason === null || row.unservable_reason === undefined ? null : String(row.unservable_reason),
  };
}

export function toStateCount(row: Row): StateCount {
  return { pool: row.pool === null ? null : String(row.pool), state: String(row.state), count: Number(row.n) };
}

export function toTransition(row: Row): TransitionRecord {
  return {
    seq: Number(row.seq),
    atMs: Number(row.at_ms),
    entity: row.entity as TransitionRecord['entity'],
    entityId: String(row.entity_id),
    fromState: row.from_state === null ? null : String(row.from_state),
    toState: String(row.to_state),
    actor: String(row.actor),
    reason: row.reason === null ? null : String(row.reason),
  };
}
