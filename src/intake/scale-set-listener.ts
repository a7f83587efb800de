import { JitpoolError, backoffMs, describeError, isJitpoolError, sleep, type Clock, type Logger } from '../core/index.ts';
import {
  openSession, type JobCompleted, type JobStarted, type MessageSession, type RunnerScaleSet, type RunnerScaleSetMessage, type ScaleSetClient, type ScaleSetStatistics,
} from '../github/index.ts';
import type { Store } from '../store/index.ts';
import type { ScaleSetMemory } from './scale-set-memory.ts';

/** A pool in scale-set mode, as its listener needs it. */
export interface ScaleSetPool {
  name: string;
  scaleSetName: string;
  runnerGroupId: number;
  /** The set's labels (several per set). */
  labels: readonly string[];
  /** The set's capacity (`X-ScaleSetMaxCapacity`). */
  max: number;
}

/** What a listener reports about itself (`/status`, tests). */
export interface ScaleSetListenerStatus {
  pool: string;
  scaleSetId: number | null;
  sessionId: string | null;
  /** The last statistics received (session or message), null before the first. */
  statistics: ScaleSetStatistics | null;
  messagesHandled: number;
  lastError: string | null;
  /** Times the set had to be re-created after GitHub lost it. */
  scaleSetsRecreated: number;
}

/** Options of {@link ScaleSetListener}. */
export interface ScaleSetListenerOptions {
  pool: ScaleSetPool;
  client: ScaleSetClient;
  store: Store;
  memory: ScaleSetMemory;
  /** Session owner (the reference uses the host name). */
  ownerName: string;
  logger: Logger;
  clock: Clock;
  /** Statistics changed or a job started/completed: the controller should look at the pool. */
  onChange: (pool: string) => void;
  /** Session conflict retries (ARC: 10 attempts, 30 s apart). */
  sessionAttempts?: number;
  sessionRetryDelayMs?: number;
  /** First delay after an unexpected error; doubled per consecutive error up to 60 s. @default 1000 */
  errorBackoffMs?: number;
}

const ACTOR = 'scale-set';
const ERROR_BACKOFF_CAP_MS = 60_000;
/** Never wait longer than this for the session's DELETE at shutdown. */
const CLOSE_TIMEOUT_MS = 5_000;

/** The job conclusion jitpool records for a `JobCompleted.result`. */
export function conclusionOf(result: string): string {
  switch (result.toLowerCase()) {
    case 'succeeded':
      return 'success';
    case 'failed':
      return 'failure';
    case 'canceled':
    case 'cancelled':
      return 'cancelled';
    default:
      return result.toLowerCase();
  }
}

function timeMs(iso: string | undefined, fallbackMs: number): number {
  const ms = iso === undefined ? Number.NaN : Date.parse(iso);
  // The service sends Go's zero time for "not yet".
  return Number.isFinite(ms) && ms > 0 ? ms : fallbackMs;
}

/**
 * One pool's listener, as actions-runner-controller's: find or create the pool's runner scale set,
 * open its message session (conflicts handled by {@link openSession}), then long-poll the queue.
 * Each message: statistics kept, message deleted, offered jobs acquired, `JobStarted` and
 * `JobCompleted` recorded as job rows (the planner marks the runner busy, its exit finishes it),
 * then the controller is asked to look again. 202 re-applies the last statistics. A set deleted on
 * GitHub's side is re-created; at shutdown the session is deleted so the next start does not conflict.
 */
export class ScaleSetListener {
  readonly #options: ScaleSetListenerOptions;
  readonly #log: Logger;
  readonly #status: ScaleSetListenerStatus;
  #session: MessageSession | null = null;

  constructor(options: ScaleSetListenerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'intake.scale-set', pool: options.pool.name });
    this.#status = { pool: options.pool.name, scaleSetId: options.memory.load(options.pool.name)?.scaleSetId ?? null, sessionId: null, statistics: null, messagesHandled: 0, lastError: null, scaleSetsRecreated: 0 };
  }

  /** The listener's state now. */
  get status(): Readonly<ScaleSetListenerStatus> {
    return { ...this.#status };
  }

  /** The set's id once known (runners are registered through it). */
  get scaleSetId(): number | null {
    return this.#status.scaleSetId;
  }

  /** `totalAssignedJobs` of the last statistics, or null before any. */
  get assignedJobs(): number | null {
    return this.#status.statistics?.totalAssignedJobs ?? null;
  }

  /** Finds the pool's set (or creates it) so runners can be registered, without opening a session. */
  async ensureScaleSet(): Promise<RunnerScaleSet> {
    const { client, pool } = this.#options;
    const known = this.#status.scaleSetId === null ? null : await client.getScaleSetById(this.#status.scaleSetId);
    let set = known ?? (await client.getScaleSet(pool.runnerGroupId, pool.scaleSetName));
    if (set === null) {
      if (this.#status.scaleSetId !== null) {
        this.#status.scaleSetsRecreated += 1;
        this.#log.warn({ scaleSetId: this.#status.scaleSetId }, 'the scale set is gone on GitHub\'s side; re-creating it');
      }
      set = await client.createScaleSet({ name: pool.scaleSetName, runnerGroupId: pool.runnerGroupId, labels: [...pool.labels], disableUpdate: true });
      this.#log.info({ scaleSetId: set.id, scaleSet: set.name, labels: pool.labels }, 'registered the runner scale set');
    } else if (!sameLabels(set.labels.map((label) => label.name), pool.labels)) {
      set = await client.updateScaleSet(set.id, { labels: [...pool.labels] });
      this.#log.info({ scaleSetId: set.id, labels: pool.labels }, 'updated the scale set\'s labels to the pool\'s');
    }
    if (set.id !== this.#status.scaleSetId) {
      this.#status.scaleSetId = set.id;
      await this.#options.memory.save(pool.name, { scaleSetId: set.id, sessionId: null });
    }
    return set;
  }

  /** Runs until `signal` aborts; then deletes the session. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const set = await this.ensureScaleSet();
        await this.#listen(set, signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        this.#status.lastError = describeError(err);
        if (isJitpoolError(err, 'JP_GITHUB_NOT_FOUND')) {
          // The set (or its session) is gone on GitHub's side: look again at once, re-creating it if needed.
          this.#log.warn({ err: describeError(err) }, 'scale set or session not found; re-establishing');
          this.#session = null;
          failures += 1;
          if (failures > 1) await sleep(backoffMs(failures - 2, this.#options.errorBackoffMs ?? 1000, ERROR_BACKOFF_CAP_MS), signal);
          continue;
        }
        failures += 1;
        const delayMs = backoffMs(failures - 1, this.#options.errorBackoffMs ?? 1000, ERROR_BACKOFF_CAP_MS);
        this.#log.error({ err: describeError(err), retryInMs: delayMs }, 'scale-set listener failed; retrying');
        this.#session = null;
        await sleep(delayMs, signal);
      }
    }
    await this.#close();
  }

  async #listen(set: RunnerScaleSet, signal: AbortSignal): Promise<void> {
    const { client, pool, memory } = this.#options;
    const stale = memory.load(pool.name);
    const session = await openSession(client, set.id, this.#options.ownerName, {
      staleSessionId: stale?.scaleSetId === set.id ? stale.sessionId : null,
      attempts: this.#options.sessionAttempts,
      retryDelayMs: this.#options.sessionRetryDelayMs,
      logger: this.#options.logger,
      signal,
    });
    this.#session = session;
    this.#status.sessionId = session.sessionId;
    // Remembered before anything else: a crash from here on lets the next start delete this session.
    await memory.save(pool.name, { scaleSetId: set.id, sessionId: session.sessionId });
    if (signal.aborted) return;
    this.#log.info({ scaleSetId: set.id, sessionId: session.sessionId, statistics: session.statistics }, 'message session open');
    this.#applyStatistics(session.statistics);
    let lastMessageId = 0;
    while (!signal.aborted) {
      let message: RunnerScaleSetMessage | null;
      try {
        message = await session.getMessage(lastMessageId, pool.max, signal);
      } catch (err) {
        if (signal.aborted && isJitpoolError(err, 'JP_GITHUB_ABORTED')) return;
        throw err;
      }
      if (message === null) {
        // No message within the long poll: the last statistics still hold (a level, re-applied).
        this.#options.onChange(pool.name);
        continue;
      }
      lastMessageId = message.messageId;
      await this.#handle(session, message);
    }
  }

  /** One message, in the reference's order: statistics, delete, acquire, started, completed, desired count. */
  async #handle(session: MessageSession, message: RunnerScaleSetMessage): Promise<void> {
    this.#applyStatistics(message.statistics);
    await session.deleteMessage(message.messageId);
    if (message.jobAvailable.length > 0) {
      const acquired = await session.acquireJobs(message.jobAvailable.map((job) => job.runnerRequestId));
      this.#log.info({ offered: message.jobAvailable.length, acquired: acquired.length }, 'acquired jobs');
    }
    for (const started of message.jobStarted) this.#recordStarted(started);
    for (const completed of message.jobCompleted) this.#recordCompleted(completed);
    this.#status.messagesHandled += 1;
    this.#options.onChange(this.#options.pool.name);
  }

  #applyStatistics(statistics: ScaleSetStatistics | null): void {
    if (statistics) this.#status.statistics = { ...statistics };
  }

  /** Jobs of a scale set are recorded under their runner request id (what every message names them by). */
  #recordStarted(message: JobStarted): void {
    const nowMs = this.#options.clock.now();
    this.#options.store.observeJob({
      id: message.runnerRequestId, runId: message.workflowRunId, owner: message.ownerName, repo: message.repositoryName, name: message.jobDisplayName,
      labels: message.requestLabels ?? [], state: 'in_progress', conclusion: null, runnerName: message.runnerName || null,
      queuedAtMs: timeMs(message.queueTime, nowMs), startedAtMs: timeMs(message.runnerAssignTime, nowMs), completedAtMs: null,
    }, this.#options.pool.name, ACTOR);
  }

  #recordCompleted(message: JobCompleted): void {
    const nowMs = this.#options.clock.now();
    // A job that never started (cancelled while assigned, re-assigned elsewhere) left no row and needs none.
    if (!message.runnerName && !this.#options.store.getJob(message.runnerRequestId)) return;
    this.#options.store.observeJob({
      id: message.runnerRequestId, runId: message.workflowRunId, owner: message.ownerName, repo: message.repositoryName, name: message.jobDisplayName,
      labels: message.requestLabels ?? [], state: 'completed', conclusion: conclusionOf(message.result), runnerName: message.runnerName || null,
      queuedAtMs: timeMs(message.queueTime, nowMs), startedAtMs: timeMs(message.runnerAssignTime, nowMs), completedAtMs: timeMs(message.finishTime, nowMs),
    }, this.#options.pool.name, ACTOR);
  }

  /** Deletes the session (shutdown) so the next start does not meet a conflict; forgets it once deleted. */
  async #close(): Promise<void> {
    const session = this.#session;
    this.#session = null;
    if (!session) return;
    try {
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        session.close(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new JitpoolError('JP_GITHUB_UNAVAILABLE', 'deleting the message session took too long')), CLOSE_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      this.#status.sessionId = null;
      if (this.#status.scaleSetId !== null) await this.#options.memory.save(this.#options.pool.name, { scaleSetId: this.#status.scaleSetId, sessionId: null });
      this.#log.info({ outcome }, 'message session deleted');
    } catch (err) {
      // Remembered: the next start deletes it on its first conflict.
      this.#log.warn({ err: describeError(err) }, 'could not delete the message session; the next start removes it');
    }
  }
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  const norm = (labels: readonly string[]) => [...new Set(labels.map((label) => label.toLowerCase()))].sort().join('\n');
  return norm(a) === norm(b);
}
