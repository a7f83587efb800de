import { describeError, type Clock, type Logger } from '../core/index.ts';
import { describeScope, type GitHubApi, type GitHubScope } from '../github/index.ts';
import type { Store } from '../store/index.ts';
import type { ObservedRegistration, RegistrationSnapshot } from './plan.ts';

/** The outcome of the last comparison with GitHub (readiness, `/status`). */
export interface GitHubSyncStatus {
  /** null before the first attempt. */
  ok: boolean | null;
  atMs: number | null;
  error: string | null;
  /** How long the last successful sync took. */
  durationMs: number | null;
}

/** Options of {@link RegistrationSync}. */
export interface RegistrationSyncOptions {
  store: Store;
  github: GitHubApi;
  /** The pools whose scopes are listed (one list per distinct scope). */
  pools: ReadonlyArray<{ name: string; scope: GitHubScope }>;
  logger: Logger;
  clock: Clock;
  /** Time between syncs. @default 60000 */
  intervalMs?: number;
  /** Called after each successful sync (the controller reconciles with it). */
  onSynced?: () => void;
}

/**
 * Reads GitHub's runner lists (one per scope) beside the reconcile loop, never inside it: a slow
 * or failing GitHub delays no launch (issue 13). The reconcile uses the latest snapshot, which
 * carries the time its first request was sent, so the planner judges a runner by it only when
 * the runner's row has not changed since. One sync at a time; requests made meanwhile collapse
 * into one more.
 */
export class RegistrationSync {
  readonly #options: RegistrationSyncOptions;
  readonly #log: Logger;
  #latest: RegistrationSnapshot | null = null;
  #status: GitHubSyncStatus = { ok: null, atMs: null, error: null, durationMs: null };
  #running: Promise<boolean> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(options: RegistrationSyncOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'github-sync' });
  }

  /** The latest successful snapshot (null before the first). */
  get latest(): RegistrationSnapshot | null {
    return this.#latest;
  }

  /** The last attempt's outcome. */
  get status(): GitHubSyncStatus {
    return { ...this.#status };
  }

  /** Starts the periodic sync (the first one at once). */
  start(): void {
    this.request();
    this.#timer = setInterval(() => this.request(), this.#options.intervalMs ?? 60_000);
    this.#timer.unref();
  }

  /** Asks for a sync soon, without waiting for it. */
  request(): void {
    void this.syncNow();
  }

  /**
   * Syncs now (or joins the sync under way and runs one more after it, so the answer is never
   * older than this call); resolves true when it succeeded.
   */
  async syncNow(): Promise<boolean> {
    if (this.#stopped) return false;
    if (this.#running) {
      // The sync under way may have sent its requests before this call: one more pass follows it.
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Stops the timer; a sync under way finishes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  async #loop(): Promise<boolean> {
    let ok = false;
    do {
      this.#again = false;
      ok = await this.#syncOnce();
    } while (this.#again && !this.#stopped);
    return ok;
  }

  async #syncOnce(): Promise<boolean> {
    const { store, github, clock } = this.#options;
    const listedAtMs = clock.now();
    const started = performance.now();
    const scopes = new Map<string, { pool: string; scope: GitHubScope }>();
    for (const pool of this.#options.pools) if (!scopes.has(describeScope(pool.scope))) scopes.set(describeScope(pool.scope), { pool: pool.name, scope: pool.scope });
    const items: ObservedRegistration[] = [];
    try {
      for (const [scopeKey, { pool, scope }] of scopes) {
        const runners = await github.listRunners(scope);
        const firstSeen = store.recordSightings(scopeKey, runners);
        for (const runner of runners) {
          const known = store.findRunnerByName(runner.name);
          const storeState = !known ? 'unknown' : known.state === 'removed' ? 'removed' : 'live';
          items.push({ pool, runner, firstSeenMs: firstSeen.get(runner.id) ?? clock.now(), storeState });
        }
      }
    } catch (err) {
      this.#status = { ...this.#status, ok: false, atMs: clock.now(), error: describeError(err) };
      this.#log.warn({ err: describeError(err) }, 'could not list GitHub runners; registration repair waits for the next sync');
      return false;
    }
    this.#latest = { listedAtMs, items };
    this.#status = { ok: true, atMs: clock.now(), error: null, durationMs: Math.round(performance.now() - started) };
    this.#options.onSynced?.();
    return true;
  }
}
