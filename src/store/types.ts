import type { JobState, RunnerState } from './lifecycle.ts';

/** A runner as the store knows it. */
export interface RunnerRecord {
  id: string;
  name: string;
  pool: string;
  state: RunnerState;
  labels: string[];
  /** GitHub's runner id, once the JIT registration exists. */
  githubRunnerId: number | null;
  /** The provider's handle for the compute, once created. */
  computeId: string | null;
  /** The job the runner took (learned from GitHub, never decided by us). */
  jobId: number | null;
  createdAtMs: number;
  updatedAtMs: number;
  /** When the runner entered its current state. */
  stateSinceMs: number;
  exitCode: number | null;
  lastError: string | null;
  /** The last lines of the runner's output, kept when its compute ends. */
  outputTail: string | null;
  /**
   * Incremented by every update. An action carries the version its plan saw and is skipped when
   * the row changed since (no decision from a view older than the row it judges).
   */
  version: number;
  /** Set when a teardown was decided (state `stopping`): where the runner ends once torn down, and whether a busy runner may be destroyed (job timeout). */
  teardown: { outcome: TeardownOutcome; isForced: boolean } | null;
}

/** Where a teardown ends: `removed` for a scale-down, else the state recorded before removal. */
export type TeardownOutcome = 'removed' | 'finished' | 'failed' | 'lost';

/** The store lease: the one process that acts on this store (the daemon, or a one-shot command). */
export interface LeaseRecord {
  /** What holds it, e.g. `jitpool up` or `jitpool recover`. */
  holder: string;
  pid: number;
  host: string;
  /** Kernel start time of the holder process (/proc/PID/stat field 22), against pid reuse. */
  startTicks: string | null;
  /** Where the holder serves its admin API (null: it serves none). */
  adminUrl: string | null;
  /** Incremented by every acquisition; writes of the holder carry it (fencing). */
  epoch: number;
  acquiredAtMs: number;
  heartbeatAtMs: number;
  /** The lease is stale once `heartbeatAtMs + ttlMs` has passed. */
  ttlMs: number;
}

/** A workflow job as the store knows it. */
export interface JobRecord {
  id: number;
  runId: number;
  owner: string;
  repo: string;
  name: string;
  labels: string[];
  state: JobState;
  conclusion: string | null;
  /** The pool whose runners can serve the job (null: no pool matches). */
  pool: string | null;
  runnerName: string | null;
  queuedAtMs: number;
  startedAtMs: number | null;
  completedAtMs: number | null;
  updatedAtMs: number;
  /** Times jitpool re-read the job from GitHub while it stayed queued (the refresh backoff). @default 0 */
  refreshAttempts?: number;
  /** When the job may next be re-read from GitHub (null: after `staleJobMs` without news). @default null */
  nextRefreshAtMs?: number | null;
  /** Why no runner of jitpool can take the job (runner group access, public repository, labels); null when one can. Never demand. @default null */
  unservableReason?: string | null;
}

/** One line of the append-only transition log. */
export interface TransitionRecord {
  seq: number;
  atMs: number;
  entity: 'runner' | 'job' | 'pool' | 'controller';
  entityId: string;
  fromState: string | null;
  toState: string;
  actor: string;
  reason: string | null;
}

/**
 * An operator's override of a pool's sizing (`jitpool pool scale`), applied by the running
 * controller at its next reconcile. `target` is the warm floor in use, clamped to [minIdle, max].
 */
export interface PoolOverride {
  pool: string;
  minIdle: number;
  max: number;
  target: number;
  actor: string;
  updatedAtMs: number;
}

/** How many rows hold one (pool, state) pair. */
export interface StateCount {
  pool: string | null;
  state: string;
  count: number;
}
