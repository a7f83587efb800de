import type { DatabaseSync } from 'node:sqlite';

/**
 * Versioned schema migrations, applied in order inside one transaction each. Never edit a
 * released migration: append a new one.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE runners (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        pool TEXT NOT NULL,
        state TEXT NOT NULL,
        labels TEXT NOT NULL,
        github_runner_id INTEGER,
        compute_id TEXT,
        job_id INTEGER,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        state_since_ms INTEGER NOT NULL,
        exit_code INTEGER,
        last_error TEXT,
        output_tail TEXT
      );
      CREATE INDEX runners_live ON runners (state) WHERE state <> 'removed';
      CREATE INDEX runners_pool ON runners (pool, state);
      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL,
        owner TEXT NOT NULL,
        repo TEXT NOT NULL,
        name TEXT NOT NULL,
        labels TEXT NOT NULL,
        state TEXT NOT NULL,
        conclusion TEXT,
        pool TEXT,
        runner_name TEXT,
        queued_at_ms INTEGER NOT NULL,
        started_at_ms INTEGER,
        completed_at_ms INTEGER,
        updated_at_ms INTEGER NOT NULL
      );
      CREATE INDEX jobs_open ON jobs (pool, state) WHERE state <> 'completed';
      CREATE INDEX jobs_updated ON jobs (updated_at_ms);
      CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        event TEXT NOT NULL,
        action TEXT,
        received_at_ms INTEGER NOT NULL
      );
      CREATE INDEX deliveries_age ON deliveries (received_at_ms);
      CREATE TABLE transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        entity TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT
      );
      CREATE INDEX transitions_entity ON transitions (entity, entity_id);
    `,
  },
  {
    version: 2,
    name: 'registration sightings',
    sql: `
      CREATE TABLE registration_sightings (
        github_runner_id INTEGER NOT NULL,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        PRIMARY KEY (scope, github_runner_id)
      );
    `,
  },
  {
    version: 3,
    name: 'pool overrides',
    sql: `
      CREATE TABLE pool_overrides (
        pool TEXT PRIMARY KEY,
        min_idle INTEGER NOT NULL,
        max INTEGER NOT NULL,
        target INTEGER NOT NULL,
        actor TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'routing guard: route audits, incidents, canary stages, guard marks, offline runners',
    sql: `
      CREATE TABLE route_audits (
        run_id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        repo TEXT NOT NULL,
        job_id INTEGER NOT NULL,
        pool TEXT NOT NULL,
        event TEXT NOT NULL,
        actor TEXT,
        pr_number INTEGER,
        trusted INTEGER NOT NULL,
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        is_mismatch INTEGER NOT NULL,
        audited_at_ms INTEGER NOT NULL
      );
      CREATE INDEX route_audits_repo ON route_audits (owner, repo, audited_at_ms);
      CREATE TABLE incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        owner TEXT NOT NULL,
        repo TEXT NOT NULL,
        kind TEXT NOT NULL,
        trigger_code TEXT NOT NULL,
        summary TEXT NOT NULL,
        evidence TEXT NOT NULL,
        action TEXT NOT NULL
      );
      CREATE INDEX incidents_repo ON incidents (owner, repo, at_ms);
      CREATE TABLE canary (
        owner TEXT NOT NULL,
        repo TEXT NOT NULL,
        stage INTEGER NOT NULL,
        stage_used INTEGER NOT NULL,
        is_holding INTEGER NOT NULL,
        stage_started_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (owner, repo)
      );
      CREATE TABLE canary_prs (
        owner TEXT NOT NULL,
        repo TEXT NOT NULL,
        pr_key TEXT NOT NULL,
        stage INTEGER NOT NULL,
        counted_at_ms INTEGER NOT NULL,
        PRIMARY KEY (owner, repo, pr_key)
      );
      CREATE TABLE guard_marks (
        key TEXT PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        value TEXT
      );
      CREATE TABLE runner_offline (
        name TEXT PRIMARY KEY,
        pool TEXT NOT NULL,
        since_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'one writer: the store lease; runner row versions and teardown intent',
    sql: `
      ALTER TABLE runners ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE runners ADD COLUMN teardown_outcome TEXT;
      ALTER TABLE runners ADD COLUMN teardown_force INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        start_ticks TEXT,
        admin_url TEXT,
        epoch INTEGER NOT NULL,
        acquired_at_ms INTEGER NOT NULL,
        heartbeat_at_ms INTEGER NOT NULL,
        ttl_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'bounded work: job refresh backoff, unservable jobs, retention indexes',
    sql: `
      ALTER TABLE jobs ADD COLUMN refresh_attempts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN next_refresh_at_ms INTEGER;
      ALTER TABLE jobs ADD COLUMN unservable_reason TEXT;
      CREATE INDEX jobs_finished ON jobs (updated_at_ms) WHERE state IN ('completed', 'gone');
      CREATE INDEX runners_removed_age ON runners (updated_at_ms) WHERE state = 'removed';
      CREATE INDEX transitions_age ON transitions (at_ms);
    `,
  },
];

/** Applies every migration newer than the database's `user_version`; returns the resulting version. */
export function migrate(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number };
  let version = row.user_version;
  for (const migration of MIGRATIONS) {
    if (migration.version <= version) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(migration.sql);
      db.exec(`PRAGMA user_version = ${migration.version}`);
      db.exec('COMMIT');
    } catch (err) {
      // SQLite may have rolled back already (a full disk): never let ROLLBACK hide the real error.
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
    version = migration.version;
  }
  return version;
}
