import { describeError, type Logger } from '../core/index.ts';
import type { Store } from '../store/index.ts';
import type { RunnerAccess } from './runner-access.ts';

/**
 * Re-judges the jobs waiting for a runner against what is known of runner-group access: a job
 * recorded before its group was read, or whose group or repository changed since, becomes
 * `unservable` (with the reason) or servable again. At most `maxLookups` repository visibility
 * reads per pass. Returns how many jobs changed.
 */
export async function reviewOpenJobs(store: Store, access: RunnerAccess, maxLookups = 20): Promise<number> {
  let lookups = 0;
  let changed = 0;
  for (const job of store.listOpenJobs()) {
    if (job.state !== 'queued' && job.state !== 'waiting') continue;
    if (lookups < maxLookups && access.needsVisibility(job)) {
      lookups += 1;
      await access.lookUpVisibility(job.owner, job.repo);
    }
    const match = access.match(job);
    if (match.kind === 'ignored') continue;
    const reason = match.kind === 'unservable' ? match.reason : null;
    if (store.setJobMatch(job.id, match.pool?.name ?? null, reason, 'access-review')) changed += 1;
  }
  return changed;
}

/** Options of {@link AccessMonitor}. */
export interface AccessMonitorOptions {
  store: Store;
  access: RunnerAccess;
  logger: Logger;
  /** Time between passes. @default 60000 */
  intervalMs?: number;
  /** Called when a pass changed a job's verdict (the controller's `kick`). */
  onChange: () => void;
}

/** Keeps the runner-group cache fresh and the open jobs judged by it, on a timer (one pass at a time). */
export class AccessMonitor {
  readonly #options: AccessMonitorOptions;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(options: AccessMonitorOptions) {
    this.#options = options;
  }

  /** Runs a pass now, then every `intervalMs`. */
  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      this.#running = this.runOnce().finally(() => {
        this.#running = null;
        if (this.#stopped) return;
        this.#timer = setTimeout(tick, this.#options.intervalMs ?? 60_000);
        this.#timer.unref();
      });
    };
    tick();
  }

  /** One pass: refresh the groups that are due, re-judge the waiting jobs. Never throws. */
  async runOnce(): Promise<void> {
    const { store, access, logger } = this.#options;
    try {
      const isGroupChanged = await access.refreshGroups();
      const changed = await reviewOpenJobs(store, access);
      if (changed > 0) logger.info({ component: 'intake.access', jobs: changed }, 'jobs re-judged against runner-group access');
      if (isGroupChanged || changed > 0) this.#options.onChange();
    } catch (err) {
      logger.warn({ component: 'intake.access', err: describeError(err) }, 'runner-group access check failed; retrying at the next pass');
    }
  }

  /** Stops the timer; resolves once a pass in progress ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
