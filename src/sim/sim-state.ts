import { EventEmitter } from 'node:events';
import { randomUUID, createHash } from 'node:crypto';
import { JitpoolError, labelsSatisfy, type Logger } from '../core/index.ts';
import { SimRepositories } from './repositories.ts';
import { RunnerGroups } from './runner-groups.ts';
import { RunnerTally } from './runner-tally.ts';
import { jobSnapshot, runnerSnapshot, scopeKey, scopeServes, type AcquireOutcome, type JobRecord, type RegisterRunnerInput, type RunnerRecord, type RunRecord } from './sim-records.ts';
import type { QueueJobSpec, RunnerChange, SimJob, SimJobConclusion, SimJobStatus, SimRunner, SimScope } from './types.ts';

export { scopeKey, scopeServes } from './sim-records.ts';
export type { AcquireOutcome, JobRecord, RegisterRunnerInput, RunnerRecord, RunRecord } from './sim-records.ts';

/** The events {@link SimState} emits. */
export interface SimStateEvents {
  job: [SimJob];
  runner: [SimRunner, RunnerChange];
}

/** Fault decisions the state asks for (the simulator's fault injector); none by default. */
export interface StateFaults {
  /** True when a new registration must never come online. */
  shouldNotBoot(): boolean;
  /** True when the runner that just took a job must die halfway through it. */
  shouldDie(): boolean;
}

const NO_FAULTS: StateFaults = { shouldNotBoot: () => false, shouldDie: () => false };

/** Hands a newly queued job to a runner scale set (GitHub's assignment by the set's labels); null: none matches. */
export type ScaleSetRouter = (job: JobRecord) => { scaleSetId: number; runnerRequestId: number } | null;


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
  readonly #faults: StateFaults;
  /** Runner groups and the repositories they serve. */
  readonly groups = new RunnerGroups();
  /** Repository visibility and deletions. */
  readonly repos = new SimRepositories();
  /** Concurrency and busy-runner safety record. */
  readonly tally = new RunnerTally();
  #nextRunnerId = 1;
  #nextJobId = 10_000_001;
  #nextRunId = 5_000_001;
  #scaleSetRouter: ScaleSetRouter | null = null;

  constructor(log: Logger, faults: StateFaults = NO_FAULTS) {
    super();
    this.#log = log;
    this.#faults = faults;
  }

  /** Installs the scale sets' router: queued jobs whose labels a set serves are assigned to that set. */
  setScaleSetRouter(router: ScaleSetRouter | null): void {
    this.#scaleSetRouter = router;
  }

  /** The set's listener acquired the job: a runner of the set may now take it. */
  markAcquired(job: JobRecord, nowMs = Date.now()): void {
    if (job.isAcquired) return;
    job.isAcquired = true;
    this.assign(nowMs);
  }

  /** Un-assigns a job from a set that was deleted: it is queued for any matching runner again. */
  releaseFromScaleSet(job: JobRecord): void {
    job.scaleSetId = null;
    job.runnerRequestId = null;
    job.isAcquired = false;
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
      isNoBoot: this.#faults.shouldNotBoot(),
      scaleSetId: input.scaleSetId ?? null,
    };
    this.#runners.set(runner.id, runner);
    this.tally.added(runner.name);
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
    if (runner.isNoBoot) return;
    runner.lastSeenMs = nowMs;
    if (runner.status === 'online') return;
    runner.status = 'online';
    runner.idleSinceMs = nowMs;
    this.#emitRunner(runner, 'online');
    this.assign(nowMs);
  }

  /** A poll or heartbeat: the runner is alive. */
  touch(runner: RunnerRecord, nowMs = Date.now()): void {
    if (runner.isNoBoot) return;
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
        // Time spent inside a poll counts as heard from (not for a runner that never booted).
        if (!runner.isNoBoot) runner.lastSeenMs = Date.now();
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
    return runner.waiters.size > 0 && !runner.isNoBoot;
  }

  /** Creates a run (or reuses `spec.runId`) and a queued job (or a `waiting` one, see {@link QueueJobSpec.waitingForApproval}), then tries assignment. */
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
      status: spec.waitingForApproval === true ? 'waiting' : 'queued',
      conclusion: null,
      createdAtMs: nowMs,
      startedAtMs: null,
      completedAtMs: null,
      durationMs: spec.durationMs,
      runnerId: null,
      runnerName: null,
      runnerGroupId: null,
      runnerGroupName: null,
      requiredGroupId: spec.runnerGroupId ?? null,
      plannedConclusion: spec.conclusion ?? 'success',
      isDieMidJob: spec.dieMidJob ?? false,
      isCancelRequested: false,
      scaleSetId: null,
      runnerRequestId: null,
      isAcquired: false,
    };
    this.#jobs.set(id, job);
    run.jobIds.push(id);
    run.updatedAtMs = nowMs;
    if (job.status === 'queued') this.#routeToScaleSet(job);
    this.#emitJob(job);
    this.assign(nowMs);
    return job;
  }

  /** Approves a job `waiting` for its environment: it becomes `queued` and assignable. Throws `JP_INPUT_INVALID` when it is not waiting. */
  approveJob(id: number, nowMs = Date.now()): JobRecord {
    const job = this.#jobs.get(id);
    if (!job) throw new JitpoolError('JP_GITHUB_NOT_FOUND', `job ${id} not found`);
    if (job.status !== 'waiting') throw new JitpoolError('JP_INPUT_INVALID', `approveJob: job ${id} is ${job.status}, not waiting`);
    job.status = 'queued';
    this.#touchRun(job.runId, nowMs);
    this.#routeToScaleSet(job);
    this.#emitJob(job);
    this.assign(nowMs);
    return job;
  }

  /** Cancels a queued or waiting job at once; an in-progress one is cancelled when its runner reports back. */
  cancelJob(id: number, nowMs = Date.now()): JobRecord {
    const job = this.#jobs.get(id);
    if (!job) throw new JitpoolError('JP_GITHUB_NOT_FOUND', `job ${id} not found`);
    if (job.status === 'queued' || job.status === 'waiting') this.#completeJob(job, 'cancelled', nowMs);
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

  /** A run's status derived from its jobs: in_progress while any runs, else queued while any is queued, else waiting while any waits, else completed. */
  runStatus(run: RunRecord): { status: SimJobStatus; conclusion: SimJobConclusion | null } {
    const jobs = run.jobIds.map((id) => this.#jobs.get(id)).filter((job) => job !== undefined);
    if (jobs.some((job) => job.status === 'in_progress')) return { status: 'in_progress', conclusion: null };
    if (jobs.some((job) => job.status === 'queued')) return { status: 'queued', conclusion: null };
    if (jobs.some((job) => job.status === 'waiting')) return { status: 'waiting', conclusion: null };
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
        if (job && !job.isDieMidJob) this.tally.killedWhileBusy();
        runner.isBusy = false;
        runner.jobId = null;
        if (job && job.status === 'in_progress') this.#completeJob(job, 'failure', nowMs);
      }
      this.#emitRunner(runner, 'offline');
    }
  }

  /**
   * GitHub's assignment rule: each queued job, oldest first, goes to any idle online runner in a
   * scope that serves its repo, of a group that serves its repo — public repositories only by
   * groups that allow them — (and of the required group if
   * any), whose labels include all the job's labels (case-insensitive). Runners are not bound to
   * the job they were created for. `waiting` jobs are not assignable until approved.
   */
  assign(nowMs = Date.now()): void {
    // A deleted repository's jobs are never assigned (GitHub drops them with it).
    const queued = this.jobRecords().filter((job) => job.status === 'queued' && !this.repos.isDeleted(job.owner, job.repo));
    if (queued.length === 0) return;
    const idle = this.runnerRecords()
      .filter((runner) => runner.status === 'online' && !runner.isBusy)
      .sort((a, b) => a.idleSinceMs - b.idleSinceMs || a.id - b.id);
    for (const job of queued) {
      const index = idle.findIndex(
        (runner) =>
          scopeServes(runner.scope, job.owner, job.repo) &&
          this.groups.serves(runner.groupId, job.owner, job.repo, this.repos.isPublic(job.owner, job.repo)) &&
          (job.requiredGroupId === null || runner.groupId === job.requiredGroupId) &&
          // A job assigned to a scale set goes only to that set's runners, once its listener acquired it;
          // a set's runners take only the set's jobs (the set's labels matched, not the runner's).
          (job.scaleSetId === null ? runner.scaleSetId === null && labelsSatisfy(runner.labels, job.labels) : runner.scaleSetId === job.scaleSetId && job.isAcquired),
      );
      if (index < 0) continue;
      const [runner] = idle.splice(index, 1);
      if (runner) this.#start(job, runner, nowMs);
      if (idle.length === 0) return;
    }
  }

  /** A snapshot of a job for callers outside the simulator. */
  snapshotJob(job: JobRecord): SimJob {
    return jobSnapshot(job, this.#runs.get(job.runId));
  }

  /** A snapshot of a runner for callers outside the simulator. */
  snapshotRunner(runner: RunnerRecord): SimRunner {
    return runnerSnapshot(runner);
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
    job.runnerGroupName = this.groups.nameOf(runner.groupId);
    if (!job.isDieMidJob && this.#faults.shouldDie()) job.isDieMidJob = true;
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
    this.tally.removed(runner.name, runner.isBusy);
    for (const waiter of [...runner.waiters]) waiter({ kind: 'gone' });
    this.#emitRunner(runner, 'deleted');
  }

  #routeToScaleSet(job: JobRecord): void {
    if (job.scaleSetId !== null || this.#scaleSetRouter === null) return;
    const route = this.#scaleSetRouter(job);
    if (route === null) return;
    job.scaleSetId = route.scaleSetId;
    job.runnerRequestId = route.runnerRequestId;
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
      headBranch: spec.headBranch ?? 'main',
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
