import type { DatabaseSync } from 'node:sqlite';
import { JitpoolError, isProcessAlive, type Clock, type ProcessIdentity } from '../core/index.ts';
import type { LeaseRecord } from './types.ts';
import type { Row } from './rows.ts';

/**
 * The store lease: exactly one process acts on a store (DESIGN.md, "one writer, then one
 * leader"). It is a row with the holder's identity, an epoch incremented by every acquisition,
 * and a heartbeat. A holder is gone when its heartbeat is older than its TTL (`stale`), or at
 * once when it ran on this host and its process no longer exists (`dead`: a crashed daemon
 * restarted by systemd must not wait out the TTL). Every runner write of the holder is checked
 * against its epoch inside the write's transaction (fencing), so a holder that lost the lease
 * cannot act even if it has not noticed yet. A PostgreSQL store implements the same contract
 * for several replicas, where the holder is the leader.
 */

/** The lease that guards the runner lifecycle. */
export const WRITER_LEASE = 'writer';

/** Who asks for the lease. */
export interface LeaseClaim extends ProcessIdentity {
  /** What holds it, e.g. `jitpool up`. */
  holder: string;
  adminUrl: string | null;
  ttlMs: number;
}

/** Whether a lease's holder still holds it. */
export type LeaseLiveness = 'live' | 'stale' | 'dead';

/** Result of {@link StoreLease.acquire}. */
export type LeaseAcquisition = { ok: true; lease: LeaseRecord; tookOver: LeaseRecord | null } | { ok: false; held: LeaseRecord; liveness: LeaseLiveness };

/**
 * On this host the holder's process is checked directly: `dead` when it is gone, `live` while it
 * runs (a stalled event loop that missed heartbeats is still the writer; stop it to take over).
 * A holder on another host is `stale` once its heartbeat is older than the TTL, else `live`.
 */
export function leaseLiveness(lease: LeaseRecord, nowMs: number, localHost: string): LeaseLiveness {
  if (lease.host === localHost) return isProcessAlive(lease.pid, lease.startTicks) ? 'live' : 'dead';
  return lease.heartbeatAtMs + lease.ttlMs < nowMs ? 'stale' : 'live';
}

/** One line naming a lease's holder, for errors and `status`. */
export function describeLease(lease: LeaseRecord, nowMs: number): string {
  const ageSeconds = Math.max(0, Math.round((nowMs - lease.heartbeatAtMs) / 1000));
  return `${lease.holder} (pid ${lease.pid} on ${lease.host}, last heartbeat ${ageSeconds} s ago${lease.adminUrl ? `, admin API ${lease.adminUrl}` : ''})`;
}

function isSameProcess(lease: LeaseRecord, claim: ProcessIdentity): boolean {
  return lease.pid === claim.pid && lease.host === claim.host && lease.startTicks === claim.startTicks;
}

function toLease(row: Row): LeaseRecord {
  return {
    holder: String(row.holder),
    pid: Number(row.pid),
    host: String(row.host),
    startTicks: row.start_ticks === null ? null : String(row.start_ticks),
    adminUrl: row.admin_url === null ? null : String(row.admin_url),
    epoch: Number(row.epoch),
    acquiredAtMs: Number(row.acquired_at_ms),
    heartbeatAtMs: Number(row.heartbeat_at_ms),
    ttlMs: Number(row.ttl_ms),
  };
}

/** The lease table of one SQLite store (`Store.lease`). */
export class StoreLease {
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #transaction: <T>(fn: () => T) => T;

  constructor(db: DatabaseSync, clock: Clock, transaction: <T>(fn: () => T) => T) {
    this.#db = db;
    this.#clock = clock;
    this.#transaction = transaction;
  }

  /** The lease as stored, or null when nobody holds it. */
  current(name = WRITER_LEASE): LeaseRecord | null {
    const row = this.#db.prepare('SELECT * FROM leases WHERE name = ?').get(name) as Row | undefined;
    return row ? toLease(row) : null;
  }

  /**
   * Takes the lease when it is free, held by this very process, or its holder is `dead`; a
   * `stale` one only with `takeOverStale`. A `live` lease is never taken.
   */
  acquire(claim: LeaseClaim, options: { takeOverStale: boolean }, name = WRITER_LEASE): LeaseAcquisition {
    return this.#transaction(() => {
      const nowMs = this.#clock.now();
      const held = this.current(name);
      if (held && !isSameProcess(held, claim)) {
        const liveness = leaseLiveness(held, nowMs, claim.host);
        if (liveness === 'live' || (liveness === 'stale' && !options.takeOverStale)) return { ok: false, held, liveness };
      }
      const epoch = (held?.epoch ?? 0) + 1;
      this.#db
        .prepare(
          `INSERT INTO leases (name, holder, pid, host, start_ticks, admin_url, epoch, acquired_at_ms, heartbeat_at_ms, ttl_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, host = excluded.host,
             start_ticks = excluded.start_ticks, admin_url = excluded.admin_url, epoch = excluded.epoch,
             acquired_at_ms = excluded.acquired_at_ms, heartbeat_at_ms = excluded.heartbeat_at_ms, ttl_ms = excluded.ttl_ms`,
        )
        .run(name, claim.holder, claim.pid, claim.host, claim.startTicks, claim.adminUrl, epoch, nowMs, nowMs, claim.ttlMs);
      return { ok: true, lease: this.current(name)!, tookOver: held && !isSameProcess(held, claim) ? held : null };
    });
  }

  /** Records a heartbeat (and the admin URL, once known); throws `JP_LEASE_LOST` when `epoch` no longer holds it. */
  heartbeat(epoch: number, adminUrl?: string | null, name = WRITER_LEASE): LeaseRecord {
    const nowMs = this.#clock.now();
    const result = adminUrl === undefined
      ? this.#db.prepare('UPDATE leases SET heartbeat_at_ms = ? WHERE name = ? AND epoch = ?').run(nowMs, name, epoch)
      : this.#db.prepare('UPDATE leases SET heartbeat_at_ms = ?, admin_url = ? WHERE name = ? AND epoch = ?').run(nowMs, adminUrl, name, epoch);
    if (Number(result.changes) !== 1) throw this.lostError(epoch, name);
    return this.current(name)!;
  }

  /** Gives the lease up (a no-op when `epoch` no longer holds it). */
  release(epoch: number, name = WRITER_LEASE): void {
    this.#db.prepare('DELETE FROM leases WHERE name = ? AND epoch = ?').run(name, epoch);
  }

  /**
   * Fencing check, called inside a write's transaction: with `epoch`, the lease must still be
   * held at that epoch; without one (a process that never took the lease: tests, tools), nobody
   * else may hold a live-looking lease.
   */
  assertWriter(epoch: number | null, name = WRITER_LEASE): void {
    const held = this.current(name);
    if (epoch !== null) {
      if (!held || held.epoch !== epoch) throw this.lostError(epoch, name, held);
      return;
    }
    if (held && held.heartbeatAtMs + held.ttlMs >= this.#clock.now()) {
      throw new JitpoolError('JP_LEASE_HELD', `the store is held by ${describeLease(held, this.#clock.now())}; this process may not change runners`, {
        details: { holder: held.holder, pid: held.pid, host: held.host },
      });
    }
  }

  lostError(epoch: number, name: string, held = this.current(name)): JitpoolError {
    return new JitpoolError('JP_LEASE_LOST', `this process lost the store lease (epoch ${epoch})${held ? `; it is held by ${describeLease(held, this.#clock.now())}` : ''}`, {
      details: { epoch, heldBy: held?.holder ?? null },
    });
  }
}
