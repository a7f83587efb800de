import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { labelsSatisfy, type Logger } from '../core/index.ts';
import { scopeKey, scopeServes, type JobRecord, type SimState } from './sim-state.ts';
import type { SimJob, SimScope } from './types.ts';

/**
 * GitHub's runner scale sets as the Actions service keeps them: sets per scope and runner group,
 * one message session per set, a message queue per set whose messages stay until deleted
 * (redelivered otherwise), job offers, acquisitions and statistics. Shapes follow the
 * `actions/scaleset` client's types field for field (`RunnerScaleSet`, `RunnerScaleSetSession`,
 * `RunnerScaleSetStatistic`, the `JobAvailable`/`JobAssigned`/`JobStarted`/`JobCompleted` bodies).
 */

/** A label of a set, as the service keeps it (`type` is `System` for labels jitpool sets). */
export interface ScaleSetLabel {
  type: string;
  name: string;
}

/** The service's `RunnerScaleSetStatistic`. */
export interface ScaleSetStatistics {
  totalAvailableJobs: number;
  totalAcquiredJobs: number;
  totalAssignedJobs: number;
  totalRunningJobs: number;
  totalRegisteredRunners: number;
  totalBusyRunners: number;
  totalIdleRunners: number;
}

/** A scale set as the simulator keeps it. */
export interface ScaleSetRecord {
  id: number;
  name: string;
  scope: SimScope;
  runnerGroupId: number;
  labels: ScaleSetLabel[];
  disableUpdate: boolean;
  createdAtMs: number;
  /** Job messages not yet batched into a queue message. */
  pending: Array<Record<string, unknown>>;
  /** Queue messages not yet deleted (acknowledged), oldest first. */
  messages: QueueMessage[];
  /** Open long polls of the set's queue. */
  waiters: Set<() => void>;
  /** The `X-ScaleSetMaxCapacity` the listener last sent (null: never). */
  maxCapacity: number | null;
}

/** One message of a set's queue (`runnerScaleSetMessageResponse`). */
export interface QueueMessage {
  messageId: number;
  messageType: 'RunnerScaleSetJobMessages';
  body: string;
  statistics: ScaleSetStatistics;
}

/** A message session: its owner, queue token and when it was last heard from. */
export interface SessionRecord {
  sessionId: string;
  scaleSetId: number;
  ownerName: string;
  queueToken: string;
  queueTokenExpiresAtMs: number;
  lastSeenMs: number;
}

/** Lifetimes the scale-set service works with (short ones make tests of expiry fast). */
export interface ScaleSetTimings {
  /** Admin (Actions-service) token lifetime. @default 3_600_000 */
  adminTokenTtlMs: number;
  /** Message queue token lifetime; the listener refreshes its session after a 401. @default 3_600_000 */
  queueTokenTtlMs: number;
  /** A session not polled for this long is abandoned (a new one no longer conflicts). @default 120_000 */
  sessionIdleMs: number;
  /** Longest a message long poll is held before answering 202. @default 50_000 */
  messagePollMs: number;
}

/** Faults of the scale-set service. */
export interface ScaleSetFaultState {
  /** The next N session creations answer 409 `RunnerScaleSetSessionConflictException` as if another session held the set. */
  sessionConflicts: number;
}

/** Counters of Actions-service calls, by templated endpoint. */
export interface ActionsServiceCallStats {
  total: number;
  byEndpoint: Record<string, number>;
}

const MESSAGE_TYPES = { available: 'JobAvailable', assigned: 'JobAssigned', started: 'JobStarted', completed: 'JobCompleted' } as const;

/** The service's result names for job conclusions (`JobCompleted.result`). */
function resultOf(job: SimJob): string {
  switch (job.conclusion) {
    case 'success':
      return 'succeeded';
    case 'failure':
      return 'failed';
    case 'cancelled':
      return 'canceled';
    default:
      return 'failed';
  }
}

/** The simulated Actions service's scale-set half. */
export class SimScaleSets {
  readonly #state: SimState;
  readonly #log: Logger;
  readonly #sets = new Map<number, ScaleSetRecord>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #adminSecret = randomBytes(32);
  readonly #scopesByKey = new Map<string, SimScope>();
  readonly timings: ScaleSetTimings;
  readonly faults: ScaleSetFaultState = { sessionConflicts: 0 };
  readonly calls: ActionsServiceCallStats = { total: 0, byEndpoint: {} };
  #nextSetId = 1;
  #nextMessageId = 1;
  #nextRequestId = 1;

  constructor(state: SimState, log: Logger, timings: Partial<ScaleSetTimings> = {}) {
    this.#state = state;
    this.#log = log;
    this.timings = { adminTokenTtlMs: 3_600_000, queueTokenTtlMs: 3_600_000, sessionIdleMs: 120_000, messagePollMs: 50_000, ...timings };
    state.setScaleSetRouter((job) => this.#route(job));
    state.on('job', (job) => this.#onJob(job));
  }

  // ---- admin tokens ------------------------------------------------------------------------

  /** An admin JWT for a scope (HS256 over the simulator's secret; `exp` tells the client when to refresh). */
  issueAdminToken(scope: SimScope, nowMs = Date.now()): string {
    this.#scopesByKey.set(scopeKey(scope), scope);
    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64({ scp: scopeKey(scope), iat: Math.floor(nowMs / 1000), exp: Math.floor((nowMs + this.timings.adminTokenTtlMs) / 1000), jti: randomUUID() });
    const signature = createHmac('sha256', this.#adminSecret).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${signature}`;
  }

  /** The scope an admin token was issued for, by its key. */
  scopeOf(key: string): SimScope | undefined {
    return this.#scopesByKey.get(key);
  }

  /** The scope key an admin token was issued for, or null when it is forged or expired. */
  verifyAdminToken(token: string, nowMs = Date.now()): string | null {
    const [header, payload, signature] = token.split('.');
    if (!header || !payload || !signature) return null;
    const expected = createHmac('sha256', this.#adminSecret).update(`${header}.${payload}`).digest('base64url');
    if (expected !== signature) return null;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { scp?: string; exp?: number };
      if (typeof claims.exp !== 'number' || claims.exp * 1000 <= nowMs || typeof claims.scp !== 'string') return null;
      return claims.scp;
    } catch {
      return null;
    }
  }

  // ---- scale sets --------------------------------------------------------------------------

  /** Creates a set. Null when a set of this name already exists in the group (the service refuses). */
  create(input: { name: string; scope: SimScope; runnerGroupId: number; labels: ScaleSetLabel[]; disableUpdate: boolean }, nowMs = Date.now()): ScaleSetRecord | null {
    if (this.find(input.scope, input.runnerGroupId, input.name)) return null;
    const set: ScaleSetRecord = {
      id: this.#nextSetId++, name: input.name, scope: input.scope, runnerGroupId: input.runnerGroupId, labels: input.labels, disableUpdate: input.disableUpdate,
      createdAtMs: nowMs, pending: [], messages: [], waiters: new Set(), maxCapacity: null,
    };
    this.#sets.set(set.id, set);
    this.#log.debug({ scaleSetId: set.id, name: set.name }, 'scale set created');
    // Jobs already queued that the new set serves are assigned to it (GitHub matches queued jobs too).
    for (const job of this.#state.jobRecords()) {
      if (job.status === 'queued' && job.scaleSetId === null && this.#serves(set, job)) this.#assignToSet(set, job);
    }
    return set;
  }

  /** The set with this name in the scope's runner group. */
  find(scope: SimScope, runnerGroupId: number, name: string): ScaleSetRecord | undefined {
    const key = scopeKey(scope);
    return [...this.#sets.values()].find((set) => scopeKey(set.scope) === key && set.runnerGroupId === runnerGroupId && set.name.toLowerCase() === name.toLowerCase());
  }

  /** The set with this id. */
  get(id: number): ScaleSetRecord | undefined {
    return this.#sets.get(id);
  }

  /** Every set, oldest first. */
  list(): ScaleSetRecord[] {
    return [...this.#sets.values()];
  }

  /** Updates a set's labels or settings (PATCH). */
  update(set: ScaleSetRecord, patch: { name?: string; labels?: ScaleSetLabel[]; disableUpdate?: boolean }): ScaleSetRecord {
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.labels !== undefined) set.labels = patch.labels;
    if (patch.disableUpdate !== undefined) set.disableUpdate = patch.disableUpdate;
    return set;
  }

  /**
   * Deletes a set (the API, or someone on the GitHub side): its sessions end, its queue is gone,
   * and jobs assigned to it but not started are queued for any matching runner again.
   */
  delete(id: number): boolean {
    const set = this.#sets.get(id);
    if (!set) return false;
    this.#sets.delete(id);
    for (const session of [...this.#sessions.values()]) if (session.scaleSetId === id) this.#sessions.delete(session.sessionId);
    for (const wake of [...set.waiters]) wake();
    for (const job of this.#state.jobRecords()) {
      if (job.scaleSetId === id && job.status === 'queued') this.#state.releaseFromScaleSet(job);
    }
    this.#log.info({ scaleSetId: id }, 'scale set deleted');
    this.#state.assign();
    return true;
  }

  // ---- sessions ----------------------------------------------------------------------------

  /** Opens a session; `conflict` while another live session holds the set (or a fault says so). */
  createSession(set: ScaleSetRecord, ownerName: string, nowMs = Date.now()): SessionRecord | 'conflict' {
    if (this.faults.sessionConflicts > 0) {
      this.faults.sessionConflicts -= 1;
      return 'conflict';
    }
    const held = [...this.#sessions.values()].find((s) => s.scaleSetId === set.id && nowMs - s.lastSeenMs < this.timings.sessionIdleMs);
    if (held) return 'conflict';
    for (const stale of [...this.#sessions.values()]) if (stale.scaleSetId === set.id) this.#sessions.delete(stale.sessionId);
    const session: SessionRecord = {
      sessionId: randomUUID(), scaleSetId: set.id, ownerName, queueToken: randomBytes(24).toString('base64url'),
      queueTokenExpiresAtMs: nowMs + this.timings.queueTokenTtlMs, lastSeenMs: nowMs,
    };
    this.#sessions.set(session.sessionId, session);
    // Jobs still offered but never acquired are offered again to the new session.
    for (const job of this.#state.jobRecords()) {
      if (job.scaleSetId === set.id && job.status === 'queued' && !job.isAcquired) this.#push(set, this.#jobMessage(MESSAGE_TYPES.available, job, set));
    }
    return session;
  }

  /** The session with this id, if it is alive. */
  session(sessionId: string): SessionRecord | undefined {
    return this.#sessions.get(sessionId);
  }

  /** A new queue token for the session (PATCH: the listener's answer to a 401). */
  refreshSession(session: SessionRecord, nowMs = Date.now()): SessionRecord {
    session.queueToken = randomBytes(24).toString('base64url');
    session.queueTokenExpiresAtMs = nowMs + this.timings.queueTokenTtlMs;
    session.lastSeenMs = nowMs;
    return session;
  }

  /** Ends a session (DELETE, or shutdown of its listener). */
  deleteSession(sessionId: string): boolean {
    return this.#sessions.delete(sessionId);
  }

  /** The live session whose queue token this is, or `expired` for a known but expired one, or null. */
  sessionByQueueToken(token: string, nowMs = Date.now()): SessionRecord | 'expired' | null {
    for (const session of this.#sessions.values()) {
      if (session.queueToken !== token) continue;
      return session.queueTokenExpiresAtMs <= nowMs ? 'expired' : session;
    }
    return null;
  }

  /** Expires every queue token now (fault: the next queue call answers 401). */
  expireQueueTokens(nowMs = Date.now()): void {
    for (const session of this.#sessions.values()) session.queueTokenExpiresAtMs = nowMs;
  }

  /** Sessions alive now (for tests and `stats`). */
  sessions(): SessionRecord[] {
    return [...this.#sessions.values()];
  }

  // ---- the message queue -------------------------------------------------------------------

  /**
   * A long poll of the set's queue: the oldest undeleted message after `lastMessageId` (so an
   * unacknowledged one is delivered again), else a new message batching the pending job
   * messages, else wait for one until `messagePollMs` (null: 202, no message).
   */
  async nextMessage(session: SessionRecord, lastMessageId: number, maxCapacity: number | null, signal: AbortSignal): Promise<QueueMessage | null> {
    const set = this.#sets.get(session.scaleSetId);
    if (!set) return null;
    if (maxCapacity !== null) set.maxCapacity = maxCapacity;
    const deadline = Date.now() + this.timings.messagePollMs;
    for (;;) {
      session.lastSeenMs = Date.now();
      const ready = this.#readyMessage(set, lastMessageId);
      if (ready || signal.aborted || !this.#sets.has(set.id) || !this.#sessions.has(session.sessionId)) return ready;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return null;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', wake);
          set.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, remainingMs);
        signal.addEventListener('abort', wake, { once: true });
        set.waiters.add(wake);
      });
    }
  }

  /** Deletes (acknowledges) a message of the session's set; false when there is no such message. */
  deleteMessage(session: SessionRecord, messageId: number): boolean {
    const set = this.#sets.get(session.scaleSetId);
    if (!set) return false;
    session.lastSeenMs = Date.now();
    const index = set.messages.findIndex((m) => m.messageId === messageId);
    if (index < 0) return false;
    set.messages.splice(index, 1);
    return true;
  }

  /** Acquires offered jobs by runner request id; answers the ids acquired (jobs no longer queued or not the set's are left out). */
  acquire(set: ScaleSetRecord, requestIds: readonly number[]): number[] {
    const acquired: number[] = [];
    for (const requestId of requestIds) {
      const job = this.#state.jobRecords().find((j) => j.runnerRequestId === requestId && j.scaleSetId === set.id);
      if (!job || job.status !== 'queued') continue;
      if (!job.isAcquired) {
        this.#push(set, this.#jobMessage(MESSAGE_TYPES.assigned, job, set));
        this.#state.markAcquired(job);
      }
      acquired.push(requestId);
    }
    return acquired;
  }

  /** The set's statistics now. */
  statistics(set: ScaleSetRecord): ScaleSetStatistics {
    const jobs = this.#state.jobRecords().filter((job) => job.scaleSetId === set.id && job.status !== 'completed');
    const runners = this.#state.runnerRecords().filter((runner) => runner.scaleSetId === set.id);
    const busy = runners.filter((runner) => runner.isBusy).length;
    const online = runners.filter((runner) => runner.status === 'online').length;
    return {
      totalAvailableJobs: jobs.filter((job) => job.status === 'queued' && !job.isAcquired).length,
      totalAcquiredJobs: jobs.filter((job) => job.status === 'queued' && job.isAcquired).length,
      totalAssignedJobs: jobs.filter((job) => job.isAcquired).length,
      totalRunningJobs: jobs.filter((job) => job.status === 'in_progress').length,
      totalRegisteredRunners: runners.length,
      totalBusyRunners: busy,
      totalIdleRunners: Math.max(0, online - busy),
    };
  }

  /** Ends every open long poll (server closing). */
  endAllPolls(): void {
    for (const set of this.#sets.values()) for (const wake of [...set.waiters]) wake();
  }

  #readyMessage(set: ScaleSetRecord, lastMessageId: number): QueueMessage | null {
    const undeleted = set.messages.find((m) => m.messageId > lastMessageId) ?? (lastMessageId > 0 ? undefined : set.messages[0]);
    if (undeleted) return undeleted;
    if (set.pending.length === 0) return null;
    const message: QueueMessage = {
      messageId: this.#nextMessageId++, messageType: 'RunnerScaleSetJobMessages', body: JSON.stringify(set.pending.splice(0)), statistics: this.statistics(set),
    };
    set.messages.push(message);
    return message;
  }

  #push(set: ScaleSetRecord, jobMessage: Record<string, unknown>): void {
    set.pending.push(jobMessage);
    for (const wake of [...set.waiters]) wake();
  }

  #serves(set: ScaleSetRecord, job: JobRecord): boolean {
    return scopeServes(set.scope, job.owner, job.repo) &&
      this.#state.groups.serves(set.runnerGroupId, job.owner, job.repo, this.#state.repos.isPublic(job.owner, job.repo)) &&
      (job.requiredGroupId === null || job.requiredGroupId === set.runnerGroupId) &&
      labelsSatisfy(set.labels.map((label) => label.name), job.labels);
  }

  #route(job: JobRecord): { scaleSetId: number; runnerRequestId: number } | null {
    // Several sets may serve the job (one's labels a superset of another's): the oldest set wins.
    const set = [...this.#sets.values()].filter((candidate) => this.#serves(candidate, job)).sort((a, b) => a.id - b.id)[0];
    if (!set) return null;
    const runnerRequestId = this.#nextRequestId++;
    // The offer is queued once the job record carries the set (the state sets it after this returns).
    queueMicrotask(() => {
      const current = this.#state.job(job.id);
      if (current && current.scaleSetId === set.id && current.status === 'queued') this.#push(set, this.#jobMessage(MESSAGE_TYPES.available, current, set));
    });
    return { scaleSetId: set.id, runnerRequestId };
  }

  #assignToSet(set: ScaleSetRecord, job: JobRecord): void {
    job.scaleSetId = set.id;
    job.runnerRequestId = this.#nextRequestId++;
    this.#push(set, this.#jobMessage(MESSAGE_TYPES.available, job, set));
  }

  #onJob(snapshot: SimJob): void {
    const job = this.#state.job(snapshot.id);
    if (!job || job.scaleSetId === null) return;
    const set = this.#sets.get(job.scaleSetId);
    if (!set) return;
    if (snapshot.status === 'in_progress') {
      this.#push(set, { ...this.#jobMessage(MESSAGE_TYPES.started, job, set), runnerId: job.runnerId ?? 0, runnerName: job.runnerName ?? '' });
    } else if (snapshot.status === 'completed') {
      this.#push(set, { ...this.#jobMessage(MESSAGE_TYPES.completed, job, set), result: resultOf(snapshot), runnerId: job.runnerId ?? 0, runnerName: job.runnerName ?? '' });
    }
  }

  /** A `JobMessageBase` (plus `acquireJobUrl` for an offer). */
  #jobMessage(messageType: string, job: JobRecord, set: ScaleSetRecord): Record<string, unknown> {
    const iso = (ms: number | null): string => (ms === null ? '0001-01-01T00:00:00Z' : new Date(ms).toISOString());
    const base: Record<string, unknown> = {
      messageType,
      runnerRequestId: job.runnerRequestId ?? 0,
      repositoryName: job.repo,
      ownerName: job.owner,
      jobId: String(job.id),
      jobWorkflowRef: `${job.owner}/${job.repo}/.github/workflows/ci.yml@refs/heads/main`,
      jobDisplayName: job.name,
      workflowRunId: job.runId,
      eventName: 'push',
      requestLabels: [...job.labels],
      queueTime: iso(job.createdAtMs),
      scaleSetAssignTime: iso(job.createdAtMs),
      runnerAssignTime: iso(job.startedAtMs),
      finishTime: iso(job.completedAtMs),
    };
    if (messageType === MESSAGE_TYPES.available) base.acquireJobUrl = `_apis/runtime/runnerscalesets/${set.id}/acquirejobs`;
    return base;
  }
}
