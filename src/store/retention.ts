import { describeError, type Clock, type Logger } from '../core/index.ts';
import { PRUNABLE, type PrunableKind } from './maintenance.ts';
import type { Store } from './store.ts';

/** Options of {@link pruneExpired} and {@link RetentionTimer}. */
export interface RetentionOptions {
  /** Rows older than this are pruned (`store.retentionDays`). */
  retentionMs: number;
  clock: Clock;
  /** Rows deleted per statement: small, so a prune never holds the write lock for long. @default 500 */
  batchSize?: number;
  /** Most batches in one run (the rest waits for the next run). @default 200 */
  maxBatches?: number;
  /** Ends a run between two batches (shutdown). */
  signal?: AbortSignal;
}

/** What one {@link pruneExpired} run did. */
export interface PruneResult {
  /** Rows deleted per table. */
  deleted: Record<PrunableKind, number>;
  /** Open jobs nobody heard of within the retention, retired as `gone`. */
  retiredJobs: number;
  /** False when the batch budget ran out before everything old was pruned. */
  isComplete: boolean;
}

/**
 * One retention pass: open jobs nobody heard of within the retention are retired (`gone`: GitHub
 * ends every job long before — queued jobs after a day, running ones after days), then old
 * deliveries, transitions, finished jobs, removed runners, route audits and incidents are deleted
 * in small batches, yielding to the event loop between them, and the write-ahead log is
 * checkpointed. Never on the hot path: the runtime runs it on a timer.
 */
export async function pruneExpired(store: Store, options: RetentionOptions): Promise<PruneResult> {
  const batchSize = options.batchSize ?? 500;
  let budget = options.maxBatches ?? 200;
  const cutoffMs = options.clock.now() - options.retentionMs;
  const days = Math.round(options.retentionMs / 86_400_000);
  const deleted = Object.fromEntries(Object.keys(PRUNABLE).map((kind) => [kind, 0])) as Record<PrunableKind, number>;
  let retiredJobs = 0;
  for (;;) {
    const ids = store.maintenance.staleOpenJobIds(cutoffMs, batchSize);
    if (ids.length === 0 || budget <= 0 || options.signal?.aborted) break;
    budget -= 1;
    retiredJobs += store.retireJobs(ids, `nothing heard of it for ${days} days`, 'retention').length;
    await yieldToEventLoop();
  }
  for (const kind of Object.keys(PRUNABLE) as PrunableKind[]) {
    for (;;) {
      if (budget <= 0 || options.signal?.aborted) return { deleted, retiredJobs, isComplete: false };
      budget -= 1;
      const count = store.maintenance.pruneBatch(kind, cutoffMs, batchSize);
      deleted[kind] += count;
      await yieldToEventLoop();
      if (count < batchSize) break;
    }
  }
  store.maintenance.checkpoint();
  return { deleted, retiredJobs, isComplete: true };
}

/** Runs {@link pruneExpired} at start and then every `intervalMs`, one run at a time. */
export class RetentionTimer {
  readonly #store: Store;
  readonly #options: RetentionOptions & { intervalMs: number; logger: Logger };
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(store: Store, options: RetentionOptions & { intervalMs: number; logger: Logger }) {
    this.#store = store;
    this.#options = options;
  }

  /** Starts the timer (the first run follows shortly, not during start-up). */
  start(): void {
    const schedule = (delayMs: number) => {
      this.#timer = setTimeout(() => {
        if (this.#stopped) return;
        this.#running = this.#runOnce().finally(() => {
          this.#running = null;
          if (!this.#stopped) schedule(this.#options.intervalMs);
        });
      }, delayMs);
      this.#timer.unref();
    };
    schedule(Math.min(this.#options.intervalMs, 30_000));
  }

  /** Stops the timer; resolves when a run in progress has finished its current batch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  async #runOnce(): Promise<void> {
    const log = this.#options.logger.child({ component: 'store.retention' });
    try {
      const result = await pruneExpired(this.#store, { ...this.#options, signal: this.#abort.signal });
      const total = Object.values(result.deleted).reduce((a, b) => a + b, 0) + result.retiredJobs;
      if (total > 0) log.info({ ...result.deleted, retiredJobs: result.retiredJobs, isComplete: result.isComplete }, 'pruned old rows');
    } catch (err) {
      log.warn({ err: describeError(err) }, 'retention pass failed; retrying at the next one');
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
