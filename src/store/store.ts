import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { JitpoolError, systemClock, type Clock } from '../core/index.ts';
import { FRESH_READ_ACTORS, canTransitionJob, canTransitionRunner, type JobState, type RunnerState } from './lifecycle.ts';
import { GuardRecords } from './guard-records.ts';
import { StoreHealth, secureStoreFiles, sqliteTrouble, storeCorruptError, verifyDatabase, watchStatement, type StoreHealthStatus } from './health.ts';
import { StoreLease } from './lease.ts';
import { StoreMaintenance } from './maintenance.ts';
import { migrate } from './migrations.ts';
import type { JobRecord, PoolOverride, RunnerRecord, StateCount, TransitionRecord } from './types.ts';
import { toJob, toRunner, toStateCount, toTransition, type Row } from './rows.ts';

/** Fields of a runner the controller may change besides its state. */
export type RunnerPatch = Partial<Pick<RunnerRecord, 'githubRunnerId' | 'computeId' | 'jobId' | 'exitCode' | 'lastError' | 'outputTail' | 'teardown'>> & {
  state?: RunnerState;
};

/** A runner found running (its compute exists) that the store does not know: re-created by {@link Store.adoptRunner}. */
export interface AdoptedRunner {
  id: string;
  name: string;
  pool: string;
  labels: string[];
  state: 'provisioning' | 'idle' | 'busy';
  computeId: string;
  githubRunnerId: number | null;
  createdAtMs: number;
}

/** A job as an event (webhook or poll) describes it. */
export interface JobObservation {
  id: number;
  runId: number;
  owner: string;
  repo: string;
  name: string;
  labels: string[];
  state: JobState;
  conclusion: string | null;
  runnerName: string | null;
  queuedAtMs: number;
  startedAtMs: number | null;
  completedAtMs: number | null;
}

/** Result of {@link Store.observeJob}. */
export interface JobObservationResult {
  job: JobRecord;
  /** False when the observation was stale (an older state arriving late) or identical. */
  changed: boolean;
  previousState: JobState | null;
}

type TransitionListener = (transition: TransitionRecord) => void;

/**
 * The controller's persistent memory in one SQLite file (`node:sqlite`). Every decision is
 * written here before its side effect, and every state change appends a transition.
 */
export class Store {
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #listeners = new Set<TransitionListener>();
  readonly #statements = new Map<string, StatementSync>();
  readonly #health = new StoreHealth();
  /** Route audits, incidents, canary stages and guard marks (same database). */
  readonly guard: GuardRecords;
  /** The one-writer lease (see lease.ts). */
  readonly lease: StoreLease;
  /** The lease epoch this process writes runners under (null: it holds no lease). */
  #fence: number | null = null;
  /** Retention, integrity and file-size housekeeping (same database). */
  readonly maintenance: StoreMaintenance;

  private constructor(db: DatabaseSync, clock: Clock, path: string) {
    this.#db = db;
    this.#clock = clock;
    this.guard = new GuardRecords(db, clock);
    this.lease = new StoreLease(db, clock, (fn) => this.transaction(fn));
    this.maintenance = new StoreMaintenance(db, path, (err) => this.#noteError(err));
  }

  /** Makes every runner write of this process carry lease epoch `epoch` (fencing); null stops it. */
  fence(epoch: number | null): void {
    this.#fence = epoch;
  }

  /**
   * Opens (creating if needed) the database at `path` (`:memory:` for tests), checks it and
   * migrates it. The state directory is kept 0700 and the files 0600. A damaged file throws
   * `JP_STORE_CORRUPT` naming it and the fix; other storage failures `JP_STORE_UNAVAILABLE`.
   */
  static open(path: string, clock: Clock = systemClock, options: { verify?: boolean; maxPageCount?: number } = {}): Store {
    const isFile = path !== ':memory:';
    let db: DatabaseSync | undefined;
    try {
      if (isFile) secureStoreFiles(path);
      db = new DatabaseSync(path);
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
      if (isFile && options.verify !== false) verifyDatabase(db, path);
      migrate(db);
      // Tests without a small filesystem to fill stand a full disk in with SQLite's own page cap.
      if (options.maxPageCount !== undefined) db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(options.maxPageCount))}`);
      if (isFile) secureStoreFiles(path);
    } catch (err) {
      if (db?.isOpen) db.close();
      const trouble = sqliteTrouble(err);
      if (trouble === 'corrupt') throw storeCorruptError(path, err);
      if (trouble !== null) {
        throw new JitpoolError('JP_STORE_UNAVAILABLE', `cannot open the store ${path}: ${(err as Error).message}`, { cause: err, details: { file: path, trouble } });
      }
      throw err;
    }
    return new Store(db, clock, path);
  }

  /** What the store saw of its own storage (a damaged file, a full disk), with SQLite's message. */
  health(): StoreHealthStatus {
    return this.#health.status();
  }

  /**
   * One tiny write, so a quiet store learns that a full disk or an I/O error is over (readiness
   * calls it while the store is unhealthy). Returns whether it committed.
   */
  probeWrite(): boolean {
    try {
      this.transaction(() => {
        this.#stmt("INSERT OR REPLACE INTO guard_marks (key, at_ms, value) VALUES ('store-write-probe', ?, NULL)").run(this.#clock.now());
      });
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the database. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    if (this.#db.isTransaction) return fn();
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      const result = fn();
      this.#db.exec('COMMIT');
      this.#health.noteCommitted(this.#clock.now());
      return result;
    } catch (err) {
      this.#noteError(err);
      // SQLite rolls back by itself on some errors (a full disk): an explicit ROLLBACK would then
      // fail with "no transaction is active" and hide the real error.
      if (this.#db.isOpen && this.#db.isTransaction) {
        try {
          this.#db.exec('ROLLBACK');
        } catch (rollbackErr) {
          this.#noteError(rollbackErr);
        }
      }
      throw err;
    }
  }

  /** Calls `listener` after every recorded transition (for `/events`); returns an unsubscribe function. */
  onTransition(listener: TransitionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- runners -------------------------------------------------------------------------

  /** Persists a launch decision: a new runner in state `requested`. */
  insertRunner(runner: { id: string; name: string; pool: string; labels: string[] }, actor: string, reason?: string): RunnerRecord {
    const now = this.#clock.now();
    return this.transaction(() => {
      this.lease.assertWriter(this.#fence);
      this.#stmt(
        `INSERT INTO runners (id, name, pool, state, labels, created_at_ms, updated_at_ms, state_since_ms)
         VALUES (?, ?, ?, 'requested', ?, ?, ?, ?)`,
      ).run(runner.id, runner.name, runner.pool, JSON.stringify(runner.labels), now, now, now);
      this.#appendTransition('runner', runner.id, null, 'requested', actor, reason ?? null, now);
      return this.getRunner(runner.id);
    });
  }

  /**
   * Re-creates the row of a runner whose compute exists but whose row does not (a wiped or
   * restored store, a second instance's runner): in the state GitHub reports, with its compute's
   * creation time, so the usual rules (boot timeout, scale-down, deregistration first) apply.
   */
  adoptRunner(runner: AdoptedRunner, actor: string, reason: string): RunnerRecord {
    const now = this.#clock.now();
    return this.transaction(() => {
      this.lease.assertWriter(this.#fence);
      this.#stmt(
        `INSERT INTO runners (id, name, pool, state, labels, github_runner_id, compute_id, created_at_ms, updated_at_ms, state_since_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(runner.id, runner.name, runner.pool, runner.state, JSON.stringify(runner.labels), runner.githubRunnerId, runner.computeId, runner.createdAtMs, now, runner.createdAtMs);
      this.#appendTransition('runner', runner.id, null, runner.state, actor, reason, now);
      return this.getRunner(runner.id);
    });
  }

  /** Applies `patch` to a runner; a state change is checked against the lifecycle and logged. */
  updateRunner(id: string, patch: RunnerPatch, actor: string, reason?: string): RunnerRecord {
    return this.transaction(() => {
      this.lease.assertWriter(this.#fence);
      const current = this.getRunner(id);
      const now = this.#clock.now();
      const nextState = patch.state ?? current.state;
      if (!canTransitionRunner(current.state, nextState)) {
        throw new JitpoolError('JP_STORE_TRANSITION', `runner ${current.name}: ${current.state} → ${nextState} is not allowed`, {
          details: { runnerId: id, from: current.state, to: nextState },
        });
      }
      const merged: RunnerRecord = { ...current, ...patch, state: nextState, updatedAtMs: now, version: current.version + 1 };
      if (nextState !== current.state) merged.stateSinceMs = now;
      this.#stmt(
        `UPDATE runners SET state = ?, github_runner_id = ?, compute_id = ?, job_id = ?, exit_code = ?, last_error = ?,
           output_tail = ?, updated_at_ms = ?, state_since_ms = ?, version = ?, teardown_outcome = ?, teardown_force = ? WHERE id = ?`,
      ).run(
        merged.state, merged.githubRunnerId, merged.computeId, merged.jobId, merged.exitCode, merged.lastError,
        merged.outputTail, merged.updatedAtMs, merged.stateSinceMs, merged.version, merged.teardown?.outcome ?? null, merged.teardown?.isForced ? 1 : 0, id,
      );
      if (nextState !== current.state) this.#appendTransition('runner', id, current.state, nextState, actor, reason ?? null, now);
      return merged;
    });
  }

  /** The runner with `id`; throws `JP_STORE_NOT_FOUND` when unknown. */
  getRunner(id: string): RunnerRecord {
    const row = this.#stmt('SELECT * FROM runners WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw new JitpoolError('JP_STORE_NOT_FOUND', `no runner with id ${id}`);
    return toRunner(row);
  }

  /** The runner with `id`, if any. */
  findRunnerById(id: string): RunnerRecord | undefined {
    const row = this.#stmt('SELECT * FROM runners WHERE id = ?').get(id) as Row | undefined;
    return row ? toRunner(row) : undefined;
  }

  /** The runner named `name`, if any. */
  findRunnerByName(name: string): RunnerRecord | undefined {
    const row = this.#stmt('SELECT * FROM runners WHERE name = ?').get(name) as Row | undefined;
    return row ? toRunner(row) : undefined;
  }

  /** Runners not yet `removed` (the ones the reconciler must watch). */
  listLiveRunners(pool?: string): RunnerRecord[] {
    const rows = pool
      ? this.#stmt(`SELECT * FROM runners WHERE state <> 'removed' AND pool = ? ORDER BY created_at_ms`).all(pool)
      : this.#stmt(`SELECT * FROM runners WHERE state <> 'removed' ORDER BY created_at_ms`).all();
    return (rows as Row[]).map(toRunner);
  }

  /** Runners filtered by state and pool, newest first, paged. */
  listRunners(filter: { states?: RunnerState[]; pool?: string; limit?: number; offset?: number } = {}): RunnerRecord[] {
    const { where, params } = buildWhere({ state: filter.states, pool: filter.pool ? [filter.pool] : undefined });
    const rows = this.#stmt(`SELECT * FROM runners ${where} ORDER BY created_at_ms DESC LIMIT ? OFFSET ?`)
      .all(...params, filter.limit ?? 1000, filter.offset ?? 0) as Row[];
    return rows.map(toRunner);
  }

  /** Number of runners ever launched (any state). */
  countRunners(): number {
    return (this.#stmt('SELECT COUNT(*) AS n FROM runners').get() as { n: number }).n;
  }

  /** Runners that were ever in `state` (from the transition log), e.g. how many ended `lost`. */
  countRunnersThatReached(state: RunnerState): number {
    return (this.#stmt("SELECT COUNT(DISTINCT entity_id) AS n FROM transitions WHERE entity = 'runner' AND to_state = ?").get(state) as { n: number }).n;
  }

  /**
   * Boot to online of the pool's newest `limit` runners that came online: launch decision (the
   * runner's creation) to its first move from `provisioning` to `idle` or `busy`, in ms, newest
   * first. The same rule as the `jitpool_launch_latency_seconds` histogram.
   */
  bootToOnlineMs(pool: string, limit = 50): number[] {
    const rows = this.#stmt(
      "SELECT MIN(t.at_ms) - r.created_at_ms AS ms FROM runners r JOIN transitions t ON t.entity = 'runner' AND t.entity_id = r.id AND t.from_state = 'provisioning' AND t.to_state IN ('idle', 'busy') WHERE r.pool = ? GROUP BY r.id ORDER BY r.created_at_ms DESC LIMIT ?",
    ).all(pool, limit) as Array<{ ms: number }>;
    return rows.map((row) => Math.max(0, row.ms));
  }

  /** Runners per (pool, state), removed ones included (metrics, dashboard). */
  countRunnersByState(): StateCount[] {
    return (this.#stmt('SELECT pool, state, COUNT(*) AS n FROM runners GROUP BY pool, state').all() as Row[]).map(toStateCount);
  }

  /** Jobs per (pool, state) (metrics). */
  countJobsByState(): StateCount[] {
    return (this.#stmt('SELECT pool, state, COUNT(*) AS n FROM jobs GROUP BY pool, state').all() as Row[]).map(toStateCount);
  }

  /** True when the database answers a query (readiness). */
  ping(): boolean {
    try {
      return this.#db.isOpen && (this.#stmt('SELECT 1 AS one').get() as { one: number }).one === 1;
    } catch {
      return false;
    }
  }

  // ---- pool overrides ------------------------------------------------------------------

  /** Persists an operator's sizing of a pool (replacing any earlier one) and logs it as a pool event. */
  setPoolOverride(override: Omit<PoolOverride, 'updatedAtMs'>): PoolOverride {
    const now = this.#clock.now();
    return this.transaction(() => {
      this.#stmt(
        `INSERT INTO pool_overrides (pool, min_idle, max, target, actor, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (pool) DO UPDATE SET min_idle = excluded.min_idle, max = excluded.max, target = excluded.target,
           actor = excluded.actor, updated_at_ms = excluded.updated_at_ms`,
      ).run(override.pool, override.minIdle, override.max, override.target, override.actor, now);
      this.#appendTransition('pool', override.pool, null, 'scaled', override.actor, `min ${override.minIdle}, max ${override.max}, target ${override.target}`, now);
      return { ...override, updatedAtMs: now };
    });
  }

  /** Every pool override, by pool name. */
  listPoolOverrides(): PoolOverride[] {
    return (this.#stmt('SELECT * FROM pool_overrides ORDER BY pool').all() as Row[]).map((row) => ({
      pool: String(row.pool),
      minIdle: Number(row.min_idle),
      max: Number(row.max),
      target: Number(row.target),
      actor: String(row.actor),
      updatedAtMs: Number(row.updated_at_ms),
    }));
  }

  /** Drops a pool's override (back to the configured sizing); false when there was none. */
  clearPoolOverride(pool: string, actor: string): boolean {
    return this.transaction(() => {
      const changed = Number(this.#stmt('DELETE FROM pool_overrides WHERE pool = ?').run(pool).changes) === 1;
      if (changed) this.#appendTransition('pool', pool, null, 'scale-reset', actor, 'back to the configured sizing', this.#clock.now());
      return changed;
    });
  }

  // ---- jobs ----------------------------------------------------------------------------

  /**
   * Records what an event says about a job. Events arrive late, twice or out of order; a state
   * that would move the job backwards is ignored (`changed: false`), never an error.
   */
  observeJob(observation: JobObservation, pool: string | null, actor: string): JobObservationResult {
    return this.transaction(() => {
      const now = this.#clock.now();
      const current = this.getJob(observation.id);
      if (!current) {
        this.#stmt(
          `INSERT INTO jobs (id, run_id, owner, repo, name, labels, state, conclusion, pool, runner_name, queued_at_ms,
             started_at_ms, completed_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          observation.id, observation.runId, observation.owner, observation.repo, observation.name, JSON.stringify(observation.labels),
          observation.state, observation.conclusion, pool, observation.runnerName, observation.queuedAtMs, observation.startedAtMs,
          observation.completedAtMs, now,
        );
        this.#appendTransition('job', String(observation.id), null, observation.state, actor, pool ? `pool ${pool}` : 'no matching pool', now);
        return { job: this.getJob(observation.id)!, changed: true, previousState: null };
      }
      if (current.state === observation.state || !canTransitionJob(current.state, observation.state, FRESH_READ_ACTORS.has(actor))) {
        // Same state again (duplicate) or an older one arriving late: keep what we know, but learn a runner name.
        if (observation.runnerName && !current.runnerName && observation.state !== 'queued') {
          this.#stmt('UPDATE jobs SET runner_name = ?, updated_at_ms = ? WHERE id = ?').run(observation.runnerName, now, observation.id);
          return { job: this.getJob(observation.id)!, changed: true, previousState: current.state };
        }
        return { job: current, changed: false, previousState: current.state };
      }
      this.#stmt(
        `UPDATE jobs SET state = ?, conclusion = COALESCE(?, conclusion), runner_name = COALESCE(?, runner_name),
           started_at_ms = COALESCE(?, started_at_ms), completed_at_ms = COALESCE(?, completed_at_ms), updated_at_ms = ? WHERE id = ?`,
      ).run(observation.state, observation.conclusion, observation.runnerName, observation.startedAtMs, observation.completedAtMs, now, observation.id);
      this.#appendTransition('job', String(observation.id), current.state, observation.state, actor, observation.conclusion, now);
      return { job: this.getJob(observation.id)!, changed: true, previousState: current.state };
    });
  }

  /** The job with `id`, if known. */
  getJob(id: number): JobRecord | undefined {
    const row = this.#stmt('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row ? toJob(row) : undefined;
  }

  /** Jobs not yet over (queued, waiting, in progress): neither completed nor gone. */
  listOpenJobs(pool?: string): JobRecord[] {
    const rows = pool
      ? this.#stmt(`SELECT * FROM jobs WHERE state <> 'completed' AND state <> 'gone' AND pool = ? ORDER BY queued_at_ms`).all(pool)
      : this.#stmt(`SELECT * FROM jobs WHERE state <> 'completed' AND state <> 'gone' ORDER BY queued_at_ms`).all();
    return (rows as Row[]).map(toJob);
  }

  /** Jobs filtered by state and pool, newest first, paged. */
  listJobs(filter: { states?: JobState[]; pool?: string; limit?: number; offset?: number } = {}): JobRecord[] {
    const { where, params } = buildWhere({ state: filter.states, pool: filter.pool ? [filter.pool] : undefined });
    const rows = this.#stmt(`SELECT * FROM jobs ${where} ORDER BY queued_at_ms DESC, id DESC LIMIT ? OFFSET ?`)
      .all(...params, filter.limit ?? 100, filter.offset ?? 0) as Row[];
    return rows.map(toJob);
  }

  /**
   * Persists a job's refresh schedule before the refresh's GitHub call, so a job GitHub keeps
   * queued is re-read with a growing delay across reconciles and restarts, never on every pass.
   */
  scheduleJobRefresh(id: number, attempts: number, nextRefreshAtMs: number): void {
    this.#stmt('UPDATE jobs SET refresh_attempts = ?, next_refresh_at_ms = ? WHERE id = ?').run(attempts, nextRefreshAtMs, id);
  }

  /**
   * Records which pool can serve an open job and, when none can, why (`unservableReason`); an
   * unservable job is never demand. Logs a job event when the verdict changes; false when it did not.
   */
  setJobMatch(id: number, pool: string | null, unservableReason: string | null, actor: string): boolean {
    return this.transaction(() => {
      const current = this.getJob(id);
      if (!current || (current.pool === pool && (current.unservableReason ?? null) === unservableReason)) return false;
      this.#stmt('UPDATE jobs SET pool = ?, unservable_reason = ? WHERE id = ?').run(pool, unservableReason, id);
      const verdict = unservableReason === null ? 'servable' : 'unservable';
      if ((current.unservableReason ?? null) !== unservableReason) {
        this.#appendTransition('job', String(id), null, verdict, actor, unservableReason ?? (pool ? `pool ${pool}` : null), this.#clock.now());
      }
      return true;
    });
  }

  /**
   * Retires open jobs GitHub no longer knows (404: the run or the repository is gone, or the
   * token lost access): state `gone`, so they are never demand nor asked about again. Returns the
   * jobs retired.
   */
  retireJobs(ids: readonly number[], reason: string, actor: string): JobRecord[] {
    return this.transaction(() => {
      const now = this.#clock.now();
      const retired: JobRecord[] = [];
      for (const id of ids) {
        const current = this.getJob(id);
        if (!current || current.state === 'completed' || current.state === 'gone') continue;
        this.#stmt("UPDATE jobs SET state = 'gone', updated_at_ms = ?, next_refresh_at_ms = NULL WHERE id = ?").run(now, id);
        this.#appendTransition('job', String(id), current.state, 'gone', actor, reason, now);
        retired.push(this.getJob(id)!);
      }
      return retired;
    });
  }

  /** Open jobs no pool can serve, newest first (status, API, dashboard). */
  listUnservableJobs(limit = 100): JobRecord[] {
    const rows = this.#stmt(
      `SELECT * FROM jobs WHERE unservable_reason IS NOT NULL AND state <> 'completed' AND state <> 'gone' ORDER BY queued_at_ms DESC, id DESC LIMIT ?`,
    ).all(limit) as Row[];
    return rows.map(toJob);
  }

  /** Open unservable jobs per pool (pool null: no pool has their labels). */
  countUnservableJobs(): StateCount[] {
    const rows = this.#stmt(
      `SELECT pool, 'unservable' AS state, COUNT(*) AS n FROM jobs WHERE unservable_reason IS NOT NULL AND state <> 'completed' AND state <> 'gone' GROUP BY pool`,
    ).all() as Row[];
    return rows.map(toStateCount);
  }

  /**
   * Re-creates a runner row found again from its compute and registration (`jitpool store
   * rebuild`, orphan adoption) in the state they show, logged as one transition from nothing.
   */
  insertFoundRunner(
    runner: Pick<RunnerRecord, 'id' | 'name' | 'pool' | 'state' | 'labels' | 'githubRunnerId' | 'computeId'> & { createdAtMs?: number },
    actor: string,
    reason: string,
  ): RunnerRecord {
    const now = this.#clock.now();
    return this.transaction(() => {
      this.#stmt(
        `INSERT INTO runners (id, name, pool, state, labels, github_runner_id, compute_id, created_at_ms, updated_at_ms, state_since_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(runner.id, runner.name, runner.pool, runner.state, JSON.stringify(runner.labels), runner.githubRunnerId, runner.computeId, runner.createdAtMs ?? now, now, now);
      this.#appendTransition('runner', runner.id, null, runner.state, actor, reason, now);
      return this.getRunner(runner.id);
    });
  }

  // ---- webhook deliveries ----------------------------------------------------------------

  /** Records a delivery id; false when it was already seen (a duplicate to drop). */
  recordDelivery(id: string, event: string, action: string | null): boolean {
    const result = this.#stmt('INSERT OR IGNORE INTO deliveries (id, event, action, received_at_ms) VALUES (?, ?, ?, ?)').run(
      id, event, action, this.#clock.now(),
    );
    return result.changes === 1;
  }

  /** Forgets deliveries older than `maxAgeMs` (dedupe only needs a window). */
  pruneDeliveries(maxAgeMs: number): number {
    return Number(this.#stmt('DELETE FROM deliveries WHERE received_at_ms < ?').run(this.#clock.now() - maxAgeMs).changes);
  }

  // ---- registration sightings (ghost age) ---------------------------------------------------

  /**
   * Records that GitHub lists these registrations in `scope` now and forgets those it no longer
   * lists; returns when each was first seen. GitHub's runner list has no creation time, so a
   * ghost's age is the time jitpool has been seeing it.
   */
  recordSightings(scope: string, registrations: ReadonlyArray<{ id: number; name: string }>): Map<number, number> {
    return this.transaction(() => {
      const now = this.#clock.now();
      const firstSeen = new Map<number, number>();
      const upsert = this.#stmt(
        `INSERT INTO registration_sightings (github_runner_id, scope, name, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (scope, github_runner_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms RETURNING first_seen_ms`,
      );
      for (const registration of registrations) {
        const row = upsert.get(registration.id, scope, registration.name, now, now) as { first_seen_ms: number };
        firstSeen.set(registration.id, Number(row.first_seen_ms));
      }
      this.#stmt('DELETE FROM registration_sightings WHERE scope = ? AND last_seen_ms < ?').run(scope, now);
      return firstSeen;
    });
  }

  // ---- transitions ---------------------------------------------------------------------

  /** Appends a free-form event (pool degraded, job timeout, …) to the transition log. */
  recordEvent(entity: TransitionRecord['entity'], entityId: string, toState: string, actor: string, reason?: string): void {
    this.#appendTransition(entity, entityId, null, toState, actor, reason ?? null, this.#clock.now());
  }

  /** Transitions after `afterSeq`, oldest first. */
  listTransitions(filter: { afterSeq?: number; entityId?: string; limit?: number } = {}): TransitionRecord[] {
    const rows = filter.entityId
      ? this.#stmt('SELECT * FROM transitions WHERE seq > ? AND entity_id = ? ORDER BY seq LIMIT ?').all(filter.afterSeq ?? 0, filter.entityId, filter.limit ?? 1000)
      : this.#stmt('SELECT * FROM transitions WHERE seq > ? ORDER BY seq LIMIT ?').all(filter.afterSeq ?? 0, filter.limit ?? 1000);
    return (rows as Row[]).map(toTransition);
  }

  #appendTransition(entity: TransitionRecord['entity'], entityId: string, from: string | null, to: string, actor: string, reason: string | null, atMs: number): void {
    const result = this.#stmt('INSERT INTO transitions (at_ms, entity, entity_id, from_state, to_state, actor, reason) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      atMs, entity, entityId, from, to, actor, reason,
    );
    if (this.#listeners.size === 0) return;
    const record: TransitionRecord = { seq: Number(result.lastInsertRowid), atMs, entity, entityId, fromState: from, toState: to, actor, reason };
    for (const listener of this.#listeners) listener(record);
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      try {
        statement = watchStatement(this.#db.prepare(sql), (err) => this.#noteError(err));
      } catch (err) {
        this.#noteError(err);
        throw err;
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #noteError(err: unknown): void {
    this.#health.note(err, this.#clock.now());
  }
}

function buildWhere(filters: Record<string, readonly string[] | undefined>): { where: string; params: string[] } {
  const clauses: string[] = [];
  const params: string[] = [];
  for (const [column, values] of Object.entries(filters)) {
    if (!values || values.length === 0) continue;
    clauses.push(`${column} IN (${values.map(() => '?').join(', ')})`);
    params.push(...values);
  }
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

