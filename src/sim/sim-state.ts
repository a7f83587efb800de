import { EventEmitter } from 'node:events';
import { randomUUID, createHash } from 'node:crypto';
import { JitpoolError, labelsSatisfy, type Logger } from '../core/index.ts';
import type { QueueJobSpec, RunnerChange, SimJob, SimJobConclusion, SimJobStatus, SimRunContext, SimRunner, SimScope } from './types.ts';

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
  requiredGroupId: number | null;
  plannedConclusion: 'success' | 'failure';
  isDieMidJob: boolean;
  isCancelRequested: boolean;
}

/** A workflow run: a container of jobs whose status is derived from theirs. */
export interface RunRecord {
  id: number;
  owner: string;
  repo: string;
  workflowName: string;
  runNumber: number;
  headSha: string;
  createdAtMs: number;
  updatedAtMs: number;
  jobIds: number[];
  /** What triggered the run (null: a push by the owner). */
  context: SimRunContext | null;
}

/** What an acquire long poll answers. */
export type AcquireOutcome = { kind: 'job'; job: JobRecord } | { kind: 'none' } | { kind: 'gone' };

/** What a new registration takes. */
export interface RegisterRunnerInput {
  name: string;
  scope: SimScope;
  groupId: number;
  labels: string[];
}

/** The events {@link SimState} emits. */
export interface SimStateEvents {
  job: [SimJob];
  runner: [SimRunner, RunnerChange];
}

/** The name GitHub shows for a runner group. */
export function runnerGroupName(groupId: number): string {
  return groupId === 1 ? 'Default' : `group-${groupId}`;
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

/**
 * The simulated GitHub Actions back end: registrations, runs, jobs, and GitHub's assignment rule.
 * Every mutation goes through a method here, which emits `job` on each job status change and
 * `runner` on each registration change.
 */
export class SimState extends EventEmitter<SimStateEvents> {
  readonly #runners = new Map<number, RunnerRecord>();
  readonly #jobs = new Map<number, JobRecord>();
  readonly #runs = new Map<number, RunRecord>();
  readonly #runNumbers = new Map<string, number>();
  readonly #log: Logger;
  #nextRunnerId = 1;
  #nextJobId = 10_000_001;
  #nextRunId = 5_000_001;

  constructor(log: Logger) {
    super();
    this.#log = log;
  }

  /** Registers a runner (offline until it connects). Throws `JP_GITHUB_CONFLICT` on a duplicate name in the scope. */
  registerRunner(input: RegisterRunnerInput, nowMs = Date.now()): RunnerRecord {
    const key = scopeKey(input.scope);
    for (const other of this.#runners.values()) {
      if (scopeKey(other.scope) === key && other.name.toLowerCase() === input.name.toLowerCase()) {
        throw new JitpoolError('JP_GITHUB_CONFLICT', `Already exists - A runner with the name ${input.name} already exists.`);
      }
    }
    const runner: RunnerRecord = {
      id: this.#nextRunnerId++,
      name: input.name,
      scope: input.scope,
      groupId: input.groupId,
      labels: [...input.labels],
      status: 'offline',
      isBusy: false,
      jobId: null,
      secret: randomUUID(),
      createdAtMs: nowMs,
      lastSeenMs: null,
      idleSinceMs: nowMs,
      waiters: new Set(),
      isJobDelivered: false,
    };
    this.#runners.set(runner.id, runner);
    this.#log.debug({ runnerId: runner.id, runnerName: runner.name }, 'runner registered');
    this.#emitRunner(runner, 'registered');
    return runner;
  }

  /** The registration with this id, if it exists. */
  runner(id: number): RunnerRecord | undefined {
    return this.#runners.get(id);
  }

  /** Current registrations, oldest first. */
  runnerRecords(): RunnerRecord[] {
    return [...this.#runners.values()];
  }

  /** Registrations of exactly this scope (what GitHub's list endpoint of that scope shows). */
  runnersInScope(scope: SimScope): RunnerRecord[] {
    const key = scopeKey(scope);
    return this.runnerRecords().filter((runner) => scopeKey(runner.scope) === key);
  }

  /** Removes a registration. Throws `JP_GITHUB_RUNNER_BUSY` while it runs a job (GitHub refuses too). */
  deleteRunner(id: number): void {
    const runner = this.#runners.get(id);
    if (!runner) throw new JitpoolError('JP_GITHUB_NOT_FOUND', `runner ${id} not found`);
    if (runner.isBusy) {
      throw new JitpoolError('JP_GITHUB_RUNNER_BUSY', `Bad request - Runner "${runner.name}" is still running a job"`);
    }
    this.#removeRunner(runner);
  }

  /** The runner connected (`run` started): online and idle, then assignment runs. */
  markOnline(runner: RunnerRecord, nowMs = Date.now()): void {
    runner.lastSeenMs = nowMs;
    if (runner.status === 'online') return;
    runner.status = 'online';
    runner.idleSinceMs = nowMs;
    this.#emitRunner(runner, 'online');
    this.assign(nowMs);
  }

  /** A poll or heartbeat: the runner is alive. */
  touch(runner: RunnerRecord, nowMs = Date.now()): void {
    runner.lastSeenMs = nowMs;
    if (runner.status === 'offline') this.markOnline(runner, nowMs);
  }

  /**
   * Opens a long poll: answers at once with an assigned, undelivered job, else waits for an
   * assignment, a deletion or `timeoutMs`. `signal` abandons the poll (client gone, server closing).
   */
  acquire(runner: RunnerRecord, timeoutMs: number, signal: AbortSignal): Promise<AcquireOutcome> {
    this.touch(runner);
    const ready = this.#undeliveredJob(runner);
    if (ready) return Promise.resolve({ kind: 'job', job: ready });
    return new Promise((resolve) => {
      const finish = (outcome: AcquireOutcome): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        runner.waiters.delete(finish);
        // Time spent inside a poll counts as heard from.
        runner.lastSeenMs = Date.now();
        if (outcome.kind === 'job') runner.isJobDelivered = true;
        resolve(outcome);
      };
      const onAbort = (): void => finish({ kind: 'none' });
      const timer = setTimeout(() => finish({ kind: 'none' }), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      runner.waiters.add(finish);
    });
  }

  /** True while the runner has an acquire poll open (it is being heard from). */
  isPolling(runner: RunnerRecord): boolean {
    return runner.waiters.size > 0;
  }

  /** Creates a run (or reuses `spec.runId`) and a queued job, then tries assignment. */
  queueJob(spec: QueueJobSpec, nowMs = Date.now()): JobRecord {
    if (!Array.isArray(spec.labels) || spec.labels.length === 0) {
      throw new JitpoolError('JP_INPUT_INVALID', 'queueJob: a job needs at least one label');
    }
    const run = this.#runFor(spec, nowMs);
    const id = this.#nextJobId++;
    const job: JobRecord = {
      id,
      runId: run.id,
      owner: spec.owner,
      repo: spec.repo,
      name: spec.name ?? `job-${id}`,
      labels: [...spec.labels],
      status: 'queued',
      conclusion: null,
      createdAtMs: nowMs,
      startedAtMs: null,
      completedAtMs: null,
      durationMs: spec.durationMs,
      runnerId: null,
      runnerName: null,
      runnerGroupId: null,
      requiredGroupId: spec.runnerGroupId ?? null,
      plannedConclusion: spec.conclusion ?? 'success',
      isDieMidJob: spec.dieMidJob ?? false,
      isCancelRequested: false,
    };
    this.#jobs.set(id, job);
    run.jobIds.push(id);
    run.updatedAtMs = nowMs;
    this.#emitJob(job);
    this.assign(nowMs);
    return job;
  }

  /** Cancels a queued job at once; an in-progress one is cancelled when its runner reports back. */
  cancelJob(id: number, nowMs = Date.now()): JobRecord {
    const job = this.#jobs.get(id);
    if (!job) throw new JitpoolError('JP_GITHUB_NOT_FOUND', `job ${id} not found`);
    if (job.status === 'queued') this.#completeJob(job, 'cancelled', nowMs);
    else if (job.status === 'in_progress') job.isCancelRequested = true;
    return job;
  }

  /** The job with this id, if any. */
  job(id: number): JobRecord | undefined {
    return this.#jobs.get(id);
  }

  /** Every job, oldest first. */
  jobRecords(): JobRecord[] {
    return [...this.#jobs.values()];
  }

  /** The run with this id, if any. */
  run(id: number): RunRecord | undefined {
    return this.#runs.get(id);
  }

  /** Every run, oldest first. */
  runRecords(): RunRecord[] {
    return [...this.#runs.values()];
  }

  /** A run's status derived from its jobs: queued while any is queued, in_progress while any runs, else completed. */
  runStatus(run: RunRecord): { status: SimJobStatus; conclusion: SimJobConclusion | null } {
    const jobs = run.jobIds.map((id) => this.#jobs.get(id)).filter((job) => job !== undefined);
    if (jobs.some((job) => job.status === 'queued')) return { status: 'queued', conclusion: null };
    if (jobs.some((job) => job.status === 'in_progress')) return { status: 'in_progress', conclusion: null };
    if (jobs.some((job) => job.conclusion === 'failure')) return { status: 'completed', conclusion: 'failure' };
    if (jobs.some((job) => job.conclusion === 'cancelled')) return { status: 'completed', conclusion: 'cancelled' };
    return { status: 'completed', conclusion: 'success' };
  }

  /**
   * The runner reports its job done: the job completes and the ephemeral registration is removed.
   * A report for a job that is not this runner's is refused with `JP_INPUT_INVALID`.
   */
  completeJob(runner: RunnerRecord, jobId: number, conclusion: SimJobConclusion, nowMs = Date.now()): JobRecord {
    const job = this.#jobs.get(jobId);
    if (!job || runner.jobId !== jobId || job.status !== 'in_progress') {
      throw new JitpoolError('JP_INPUT_INVALID', `runner ${runner.id} does not run job ${jobId}`);
    }
    this.#completeJob(job, job.isCancelRequested ? 'cancelled' : conclusion, nowMs);
    runner.isBusy = false;
    runner.jobId = null;
    // Ephemeral: one job, then GitHub removes the registration.
    this.#removeRunner(runner);
    return job;
  }

  /**
   * Heartbeat loss: an idle runner not heard from for `offlineAfterMs` goes offline; a busy one
   * also fails its job (GitHub marks the job failed once it loses the runner).
   */
  sweep(offlineAfterMs: number, nowMs = Date.now()): void {
    for (const runner of this.#runners.values()) {
      if (runner.status !== 'online' || this.isPolling(runner)) continue;
      if (runner.lastSeenMs !== null && nowMs - runner.lastSeenMs <= offlineAfterMs) continue;
      runner.status = 'offline';
      if (runner.isBusy && runner.jobId !== null) {
        const job = this.#jobs.get(runner.jobId);
        this.#log.info({ runnerId: runner.id, jobId: runner.jobId }, 'runner lost mid-job: job fails');
        runner.isBusy = false;
        runner.jobId = null;
        if (job && job.status === 'in_progress') this.#completeJob(job, 'failure', nowMs);
      }
      this.#emitRunner(runner, 'offline');
    }
  }

  /**
   * GitHub's assignment rule: each queued job, oldest first, goes to any idle online runner in a
   * scope that serves its repo, of the required group if any, whose labels include all the job's
   * labels (case-insensitive). Runners are not bound to the job they were created for.
   */
  assign(nowMs = Date.now()): void {
    const queued = this.jobRecords().filter((job) => job.status === 'queued');
    if (queued.length === 0) return;
    const idle = this.runnerRecords()
      .filter((runner) => runner.status === 'online' && !runner.isBusy)
      .sort((a, b) => a.idleSinceMs - b.idleSinceMs || a.id - b.id);
    for (const job of queued) {
      const index = idle.findIndex(
        (runner) =>
          scopeServes(runner.scope, job.owner, job.repo) &&
          (job.requiredGroupId === null || runner.groupId === job.requiredGroupId) &&
          labelsSatisfy(runner.labels, job.labels),
      );
      if (index < 0) continue;
      const [runner] = idle.splice(index, 1);
      if (runner) this.#start(job, runner, nowMs);
      if (idle.length === 0) return;
    }
  }

  /** A snapshot of a job for callers outside the simulator. */
  snapshotJob(job: JobRecord): SimJob {
    const run = this.#runs.get(job.runId);
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
      runnerGroupName: job.runnerGroupId === null ? null : runnerGroupName(job.runnerGroupId),
      requiredRunnerGroupId: job.requiredGroupId,
    };
  }

  /** A snapshot of a runner for callers outside the simulator. */
  snapshotRunner(runner: RunnerRecord): SimRunner {
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

  /** Ends every open long poll (server closing). */
  endAllPolls(): void {
    for (const runner of this.#runners.values()) {
      for (const waiter of [...runner.waiters]) waiter({ kind: 'none' });
    }
  }

  #start(job: JobRecord, runner: RunnerRecord, nowMs: number): void {
    job.status = 'in_progress';
    job.startedAtMs = nowMs;
    job.runnerId = runner.id;
    job.runnerName = runner.name;
    job.runnerGroupId = runner.groupId;
    runner.isBusy = true;
    runner.jobId = job.id;
    runner.isJobDelivered = false;
    this.#touchRun(job.runId, nowMs);
    this.#log.debug({ jobId: job.id, runnerId: runner.id }, 'job assigned');
    this.#emitJob(job);
    this.#emitRunner(runner, 'busy');
    const [waiter] = runner.waiters;
    waiter?.({ kind: 'job', job });
  }

  #completeJob(job: JobRecord, conclusion: SimJobConclusion, nowMs: number): void {
    job.status = 'completed';
    job.conclusion = conclusion;
    job.completedAtMs = nowMs;
    this.#touchRun(job.runId, nowMs);
    this.#emitJob(job);
  }

  #removeRunner(runner: RunnerRecord): void {
    this.#runners.delete(runner.id);
    for (const waiter of [...runner.waiters]) waiter({ kind: 'gone' });
    this.#emitRunner(runner, 'deleted');
  }

  #undeliveredJob(runner: RunnerRecord): JobRecord | undefined {
    if (runner.jobId === null || runner.isJobDelivered) return undefined;
    const job = this.#jobs.get(runner.jobId);
    if (job) runner.isJobDelivered = true;
    return job;
  }

  #runFor(spec: QueueJobSpec, nowMs: number): RunRecord {
    if (spec.runId !== undefined) {
      const run = this.#runs.get(spec.runId);
      if (!run || run.owner.toLowerCase() !== spec.owner.toLowerCase() || run.repo.toLowerCase() !== spec.repo.toLowerCase()) {
        throw new JitpoolError('JP_INPUT_INVALID', `queueJob: run ${spec.runId} is not a run of ${spec.owner}/${spec.repo}`);
      }
      return run;
    }
    const repoKey = `${spec.owner}/${spec.repo}`.toLowerCase();
    const runNumber = (this.#runNumbers.get(repoKey) ?? 0) + 1;
    this.#runNumbers.set(repoKey, runNumber);
    const id = this.#nextRunId++;
    const run: RunRecord = {
      id,
      owner: spec.owner,
      repo: spec.repo,
      workflowName: 'CI',
      runNumber,
      headSha: createHash('sha1').update(`${repoKey}#${id}`).digest('hex'),
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
      jobIds: [],
      context: spec.run ?? null,
    };
    this.#runs.set(id, run);
    return run;
  }

  #touchRun(runId: number, nowMs: number): void {
    const run = this.#runs.get(runId);
    if (run) run.updatedAtMs = nowMs;
  }

  #emitJob(job: JobRecord): void {
    this.emit('job', this.snapshotJob(job));
  }

  #emitRunner(runner: RunnerRecord, change: RunnerChange): void {
    this.emit('runner', this.snapshotRunner(runner), change);
  }
}
