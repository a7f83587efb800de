import { statSync } from 'node:fs';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { watchStatement } from './health.ts';

/** Tables whose old rows retention prunes, and what makes a row old enough. */
export const PRUNABLE = {
  /** Webhook delivery ids: dedupe only needs a window. */
  deliveries: { table: 'deliveries', age: 'received_at_ms', where: '1 = 1' },
  /** The transition log (events, SLO figures, `/events`). */
  transitions: { table: 'transitions', age: 'at_ms', where: '1 = 1' },
  /** Jobs that are over. */
  jobs: { table: 'jobs', age: 'updated_at_ms', where: "state IN ('completed', 'gone')" },
  /** Runners whose compute and registration are gone (their names are free again). */
  runners: { table: 'runners', age: 'updated_at_ms', where: "state = 'removed'" },
  /** Route audits of old runs. */
  routeAudits: { table: 'route_audits', age: 'audited_at_ms', where: '1 = 1' },
  /** Rollback incidents. */
  incidents: { table: 'incidents', age: 'at_ms', where: '1 = 1' },
} as const;

/** A table retention prunes. */
export type PrunableKind = keyof typeof PRUNABLE;

/**
 * Housekeeping on the store's own database, apart from the domain records: bounded deletes of
 * old rows (retention), the integrity check, WAL checkpoints and file sizes. Deletes run in small
 * batches so a long prune never holds the write lock for long.
 */
export class StoreMaintenance {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #onError: (err: unknown) => void;
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, path: string, onError: (err: unknown) => void) {
    this.#db = db;
    this.#path = path;
    this.#onError = onError;
  }

  /** Deletes up to `limit` rows of `kind` older than `cutoffMs`; returns how many it deleted. */
  pruneBatch(kind: PrunableKind, cutoffMs: number, limit: number): number {
    const { table, age, where } = PRUNABLE[kind];
    const sql = `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${where} AND ${age} < ? LIMIT ?)`;
    return Number(this.#stmt(sql).run(cutoffMs, limit).changes);
  }

  /** Ids of open jobs nobody has heard of since `cutoffMs` (GitHub ends every job long before). */
  staleOpenJobIds(cutoffMs: number, limit: number): number[] {
    const rows = this.#stmt("SELECT id FROM jobs WHERE state <> 'completed' AND state <> 'gone' AND updated_at_ms < ? LIMIT ?").all(cutoffMs, limit) as Array<{ id: number }>;
    return rows.map((row) => Number(row.id));
  }

  /** SQLite's `quick_check`: `[]` when the database is sound, else its findings (at most 10). */
  integrityCheck(): string[] {
    const rows = this.#stmt('PRAGMA quick_check(10)').all() as Array<Record<string, unknown>>;
    return rows.map((row) => String(Object.values(row)[0] ?? '')).filter((line) => line !== 'ok');
  }

  /** Moves the write-ahead log into the database and truncates it (keeps the `-wal` file small). */
  checkpoint(): void {
    this.#stmt('PRAGMA wal_checkpoint(TRUNCATE)').all();
  }

  /** Bytes of the database file and its `-wal` and `-shm` companions (0 for an in-memory store). */
  fileBytes(): number {
    if (this.#path === ':memory:') return 0;
    let total = 0;
    for (const file of [this.#path, `${this.#path}-wal`, `${this.#path}-shm`]) {
      try {
        total += statSync(file).size;
      } catch {
        // Absent companion file.
      }
    }
    return total;
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      try {
        statement = watchStatement(this.#db.prepare(sql), this.#onError);
      } catch (err) {
        this.#onError(err);
        throw err;
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
