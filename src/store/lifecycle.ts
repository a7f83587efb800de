/**
 * The runner and job lifecycles as data. Every state change goes through `assertTransition`
 * inside the store's update, so an impossible edge fails loudly at write time.
 */

/** Where a runner stands. */
export const RUNNER_STATES = ['requested', 'provisioning', 'idle', 'busy', 'stopping', 'finished', 'removed', 'failed', 'lost'] as const;
/** A runner state. */
export type RunnerState = (typeof RUNNER_STATES)[number];

/**
 * Allowed runner transitions.
 * - `requested`: the launch decision is persisted; no registration or compute exists yet.
 * - `provisioning`: a JIT registration exists and compute is being (or has been) created.
 * - `idle` / `busy`: online without / with a job.
 * - `stopping`: a teardown was decided while the compute may still run (scale-down, boot
 *   timeout, job timeout, a vanished pool); the registration is deleted first, then the compute.
 *   The row's `teardown` says where it ends.
 * - `finished`: the job ended or the compute exited; compute is being cleaned up.
 * - `removed`: compute and registration are gone (terminal).
 * - `failed` / `lost`: a failed launch or boot / compute vanished; cleanup follows, then `removed`.
 */
export const RUNNER_TRANSITIONS: Record<RunnerState, readonly RunnerState[]> = {
  requested: ['provisioning', 'failed', 'removed'],
  // A job can start before we ever see the runner idle (the runner took a queued job at once).
  provisioning: ['idle', 'busy', 'stopping', 'finished', 'failed', 'lost'],
  idle: ['busy', 'stopping', 'finished', 'failed', 'lost'],
  // `stopping` from busy: the job timeout, or a job that completed while its runner did not exit.
  busy: ['stopping', 'finished', 'failed', 'lost'],
  // GitHub refuses to delete a busy runner (422): whatever the teardown was for, the runner took
  // a job (or had one all along) and is busy. Reporting busy always wins over a boot timeout.
  stopping: ['removed', 'busy', 'failed', 'lost', 'finished'],
  finished: ['removed', 'failed', 'lost'],
  failed: ['removed'],
  lost: ['removed'],
  removed: [],
};

/** States whose compute may still exist (the reconciler watches these). */
export const LIVE_RUNNER_STATES: readonly RunnerState[] = ['requested', 'provisioning', 'idle', 'busy', 'stopping', 'finished', 'failed', 'lost'];

/**
 * Where a job stands, as GitHub reports it (`cancelled` is a completed job with that conclusion),
 * plus `gone`: GitHub answers 404 for it (its repository was deleted or is no longer readable by
 * jitpool's token), so jitpool stops asking about it.
 */
export const JOB_STATES = ['queued', 'waiting', 'in_progress', 'completed', 'gone'] as const;
/** A job state. */
export type JobState = (typeof JOB_STATES)[number];

/**
 * Allowed job transitions. Webhooks arrive out of order (`completed` before `in_progress`), so a
 * job may skip states forward, but never move back from `completed`.
 * - `queued → waiting` is not an event edge: GitHub sends `waiting` (an environment approval)
 *   before `queued`, so a `waiting` after `queued` is a reordered delivery and must not drop the
 *   job from demand. A fresh read from GitHub may still move it there ({@link JOB_READ_TRANSITIONS}).
 * - `gone` is final but for a late `completed`: GitHub's answer is the better truth.
 */
export const JOB_TRANSITIONS: Record<JobState, readonly JobState[]> = {
  waiting: ['queued', 'in_progress', 'completed', 'gone'],
  queued: ['in_progress', 'completed', 'gone'],
  in_progress: ['completed', 'gone'],
  completed: [],
  gone: ['completed'],
};

/**
 * Extra edges allowed when the state comes from reading the job at GitHub now (the poller, a job
 * refresh) rather than from an event that may have been reordered: a queued job GitHub now
 * reports waiting or pending (concurrency group) is not demand.
 */
export const JOB_READ_TRANSITIONS: Partial<Record<JobState, readonly JobState[]>> = {
  queued: ['waiting'],
};

/** Actors whose observations are fresh reads from GitHub (see {@link JOB_READ_TRANSITIONS}). */
export const FRESH_READ_ACTORS: ReadonlySet<string> = new Set(['poller', 'github-refresh']);

/** Job states that are over: nothing more happens to the job (retention may prune it). */
export const FINISHED_JOB_STATES: readonly JobState[] = ['completed', 'gone'];

/** True when a runner may move from `from` to `to`. */
export function canTransitionRunner(from: RunnerState, to: RunnerState): boolean {
  return from === to || RUNNER_TRANSITIONS[from].includes(to);
}

/** True when a job may move from `from` to `to` (`isFreshRead`: the state was just read from GitHub). */
export function canTransitionJob(from: JobState, to: JobState, isFreshRead = false): boolean {
  return from === to || JOB_TRANSITIONS[from].includes(to) || (isFreshRead && (JOB_READ_TRANSITIONS[from]?.includes(to) ?? false));
}
