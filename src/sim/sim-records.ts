import type { SimJob, SimJobConclusion, SimJobStatus, SimRunContext, SimRunner, SimScope } from './types.ts';

/** The simulator's internal records and scope rules, shared by the state and the routes. */

/** A runner registration as the simulator keeps it. */
export interface RunnerRecord {
  id: number;
  name: string;
  scope: SimScope;
  groupId: number;
  labels: string[];
  status: 'online' | 'offline';
  isBusy: boolean;
  jobId: number | null;
  /** The OAuth client id handed out in the JIT config: the runner's secret for `/_sim/`. */
  secret: string;
  createdAtMs: number;
  lastSeenMs: number | null;
  /** Since when it waits for work (oldest idle runner is assigned first). */
  idleSinceMs: number;
  /** Open acquire long polls, each answered once with an outcome. */
  waiters: Set<(outcome: AcquireOutcome) => void>;
  isJobDelivered: boolean;
  /** Injected `noboot` fault: `/online` is accepted but the runner never comes online. */
  isNoBoot: boolean;
  /** The runner scale set it was created through (its JIT config endpoint); null for a REST JIT runner. */
  scaleSetId: number | null;
}

/** A job as the simulator keeps it. */
export interface JobRecord {
  id: number;
  runId: number;
  owner: string;
  repo: string;
  name: string;
  labels: string[];
  status: SimJobStatus;
  conclusion: SimJobConclusion | null;
  createdAtMs: number;
  startedAtMs: number | null;
  completedAtMs: number | null;
  durationMs: number;
  runnerId: number | null;
  runnerName: string | null;
  runnerGroupId: number | null;
  runnerGroupName: string | null;
  requiredGroupId: number | null;
  plannedConclusion: 'success' | 'failure';
  isDieMidJob: boolean;
  isCancelRequested: boolean;
  /** The runner scale set GitHub assigned the job to (its labels matched); null: any matching runner. */
  scaleSetId: number | null;
  /** The runner request id the scale set's messages name the job by (set with `scaleSetId`). */
  runnerRequestId: number | null;
  /** True once the set's listener acquired it: only then may a runner of the set take it. */
  isAcquired: boolean;
}

/** A workflow run: a container of jobs whose status is derived from theirs. */
export interface RunRecord {
  id: number;
  owner: string;
  repo: string;
  workflowName: string;
  runNumber: number;
  headSha: string;
  /** The run's branch. */
  headBranch: string;
  /** What triggered the run (null: a push by the owner). */
  context: SimRunContext | null;
  createdAtMs: number;
  updatedAtMs: number;
  jobIds: number[];
}

/** What an acquire long poll answers. */
export type AcquireOutcome = { kind: 'job'; job: JobRecord } | { kind: 'none' } | { kind: 'gone' };

/** What a new registration takes. */
export interface RegisterRunnerInput {
  name: string;
  scope: SimScope;
  groupId: number;
  labels: string[];
  /** The scale set registering it. @default null */
  scaleSetId?: number | null;
}

/** A stable key of a scope, case-insensitive like GitHub's names. */
export function scopeKey(scope: SimScope): string {
  switch (scope.kind) {
    case 'repo':
      return `repo:${scope.owner}/${scope.repo}`.toLowerCase();
    case 'org':
      return `org:${scope.org}`.toLowerCase();
    case 'enterprise':
      return `enterprise:${scope.enterprise}`.toLowerCase();
  }
}

/** True when a runner registered at `scope` may serve a job of `owner/repo`. */
export function scopeServes(scope: SimScope, owner: string, repo: string): boolean {
  switch (scope.kind) {
    case 'repo':
      return scope.owner.toLowerCase() === owner.toLowerCase() && scope.repo.toLowerCase() === repo.toLowerCase();
    case 'org':
      return scope.org.toLowerCase() === owner.toLowerCase();
    case 'enterprise':
      // The simulator has one enterprise holding every organisation.
      return true;
  }
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A snapshot of a job for callers outside the simulator. */
export function jobSnapshot(job: JobRecord, run: RunRecord | undefined): SimJob {
  return {
    id: job.id,
    runId: job.runId,
    owner: job.owner,
    repo: job.repo,
    name: job.name,
    workflowName: run?.workflowName ?? 'CI',
    labels: [...job.labels],
    status: job.status,
    conclusion: job.conclusion,
    createdAt: new Date(job.createdAtMs).toISOString(),
    startedAt: iso(job.startedAtMs),
    completedAt: iso(job.completedAtMs),
    durationMs: job.durationMs,
    runnerId: job.runnerId,
    runnerName: job.runnerName,
    runnerGroupId: job.runnerGroupId,
    runnerGroupName: job.runnerGroupName,
    requiredRunnerGroupId: job.requiredGroupId,
  };
}

/** A snapshot of a runner for callers outside the simulator. */
export function runnerSnapshot(runner: RunnerRecord): SimRunner {
  return {
    id: runner.id,
    name: runner.name,
    scope: { ...runner.scope },
    groupId: runner.groupId,
    labels: [...runner.labels],
    status: runner.status,
    isBusy: runner.isBusy,
    ephemeral: true,
    jobId: runner.jobId,
    createdAt: new Date(runner.createdAtMs).toISOString(),
    lastSeenAt: iso(runner.lastSeenMs),
  };
}
