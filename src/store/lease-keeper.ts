import { JitpoolError, currentProcess, describeError, isJitpoolError, type Clock, type Logger } from '../core/index.ts';
import { describeLease, type LeaseClaim } from './lease.ts';
import type { Store } from './store.ts';
import type { LeaseRecord } from './types.ts';

/** Options of {@link LeaseKeeper.acquire}. */
export interface LeaseKeeperOptions {
  store: Store;
  /** What holds it, e.g. `jitpool up`. */
  holder: string;
  /** A stale lease (heartbeat older than its TTL, holder on another host or unknown) is taken only when true. */
  takeOverStale: boolean;
  /** @default 15000 */
  ttlMs?: number;
  logger: Logger;
  clock: Clock;
  /** Called once when the lease is lost (another process took it over): stop acting. */
  onLost?: (err: JitpoolError) => void;
}

/**
 * Holds the store lease for this process: acquires it (or throws `JP_LEASE_HELD` naming the
 * holder and what to do), fences the store's runner writes with its epoch, heartbeats every
 * third of the TTL, and releases it on close. The same contract serves a PostgreSQL store's
 * leader election later: only the store underneath changes.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  #lease: LeaseRecord;
  #timer: NodeJS.Timeout | null = null;
  #isLost = false;

  private constructor(options: LeaseKeeperOptions, lease: LeaseRecord) {
    this.#options = options;
    this.#lease = lease;
  }

  /** Takes the lease; throws `JP_LEASE_HELD` when another process holds it. */
  static acquire(options: LeaseKeeperOptions): LeaseKeeper {
    const { store, clock } = options;
    const ttlMs = options.ttlMs ?? 15_000;
    const claim: LeaseClaim = { ...currentProcess(), holder: options.holder, adminUrl: null, ttlMs };
    const result = store.lease.acquire(claim, { takeOverStale: options.takeOverStale });
    if (!result.ok) {
      const nowMs = clock.now();
      const fix = result.liveness === 'stale'
        ? 'its heartbeat stopped; if that process is gone for good, run again with --force to take the store over'
        : 'stop it first, or let it do the work: commands that act go through its admin API while it runs';
      throw new JitpoolError('JP_LEASE_HELD', `the store is held by ${describeLease(result.held, nowMs)}; ${fix}`, {
        details: { holder: result.held.holder, pid: result.held.pid, host: result.held.host, adminUrl: result.held.adminUrl, liveness: result.liveness },
      });
    }
    if (result.tookOver) {
      options.logger.warn({ component: 'lease', previous: describeLease(result.tookOver, clock.now()) }, 'took over the store lease of a process that is gone');
    }
    store.fence(result.lease.epoch);
    const keeper = new LeaseKeeper(options, result.lease);
    keeper.#timer = setInterval(() => keeper.#beat(), Math.max(500, Math.floor(ttlMs / 3)));
    keeper.#timer.unref();
    return keeper;
  }

  /** The lease as last written. */
  get lease(): LeaseRecord {
    return { ...this.#lease };
  }

  /** Publishes where this holder's admin API listens (one-shot commands of the same store find it there). */
  setAdminUrl(adminUrl: string | null): void {
    this.#lease = this.#options.store.lease.heartbeat(this.#lease.epoch, adminUrl);
  }

  /** Stops heartbeating and gives the lease up; the store is no longer fenced. */
  release(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#isLost) return;
    try {
      this.#options.store.lease.release(this.#lease.epoch);
    } catch (err) {
      this.#options.logger.warn({ component: 'lease', err: describeError(err) }, 'could not release the store lease; it expires by itself');
    }
    this.#options.store.fence(null);
  }

  #beat(): void {
    try {
      this.#lease = this.#options.store.lease.heartbeat(this.#lease.epoch);
    } catch (err) {
      if (!isJitpoolError(err, 'JP_LEASE_LOST')) {
        // A busy or failing disk: the lease expires only after its TTL; keep trying.
        this.#options.logger.warn({ component: 'lease', err: describeError(err) }, 'could not renew the store lease');
        return;
      }
      this.#isLost = true;
      if (this.#timer) clearInterval(this.#timer);
      this.#options.logger.error({ component: 'lease', err: describeError(err) }, 'lost the store lease: this process stops acting');
      this.#options.onLost?.(err);
    }
  }
}
