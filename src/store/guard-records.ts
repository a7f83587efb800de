import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Clock } from '../core/index.ts';
import type { JobRecord } from './types.ts';
import { toJob, type Row } from './rows.ts';

/** One route audit: the triggering run's context judged by the routing policy. */
export interface RouteAuditRecord {
  runId: number;
  owner: string;
  repo: string;
  /** The first job of the run seen on a self-hosted pool. */
  jobId: number;
  pool: string;
  event: string;
  actor: string | null;
  prNumber: number | null;
  trusted: boolean;
  rule: string;
  reason: string;
  /** True when an untrusted run reached a self-hosted pool. */
  isMismatch: boolean;
  auditedAtMs: number;
}

/** A recorded incident: a rollback with its evidence, a route mismatch, a canary hold. */
export interface IncidentRecord {
  id: number;
  atMs: number;
  owner: string;
  repo: string;
  kind: 'rollback' | 'route-mismatch' | 'canary-hold' | 'canary-advance' | 'restore' | 'recover';
  triggerCode: string;
  summary: string;
  evidence: unknown;
  /** What was done: `variable-set-false`, `variable-set-true`, `dry-run`, `none`. */
  action: string;
}

/** A repository's canary position. */
export interface CanaryRecord {
  owner: string;
  repo: string;
  stage: number;
  /** Trusted PRs counted in the current stage. */
  stageUsed: number;
  isHolding: boolean;
  stageStartedAtMs: number;
  updatedAtMs: number;
}


/**
 * The guard's persistent memory, in the same SQLite file as the rest: route audits,
 * incidents, canary stages, marks (last restore, last recovery) and how long runners have been
 * offline. Reached as `store.guard`.
 */
export class GuardRecords {
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  // ---- route audits ----------------------------------------------------------------------

  /** Records (or replaces) the audit of a run. */
  recordRouteAudit(audit: Omit<RouteAuditRecord, 'auditedAtMs'>): RouteAuditRecord {
    const auditedAtMs = this.#clock.now();
    this.#stmt(
      `INSERT OR REPLACE INTO route_audits (run_id, owner, repo, job_id, pool, event, actor, pr_number, trusted, rule, reason, is_mismatch, audited_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(audit.runId, audit.owner, audit.repo, audit.jobId, audit.pool, audit.event, audit.actor, audit.prNumber, audit.trusted ? 1 : 0, audit.rule, audit.reason, audit.isMismatch ? 1 : 0, auditedAtMs);
    return { ...audit, auditedAtMs };
  }

  /** The audit of a run, if any. */
  getRouteAudit(runId: number): RouteAuditRecord | undefined {
    const row = this.#stmt('SELECT * FROM route_audits WHERE run_id = ?').get(runId) as Row | undefined;
    return row ? toAudit(row) : undefined;
  }

  /** Audits of a repository (all repositories when omitted) since `sinceMs`, newest first. */
  listRouteAudits(filter: { owner?: string; repo?: string; sinceMs?: number; limit?: number } = {}): RouteAuditRecord[] {
    const rows = filter.owner && filter.repo
      ? this.#stmt('SELECT * FROM route_audits WHERE owner = ? AND repo = ? AND audited_at_ms >= ? ORDER BY audited_at_ms DESC, run_id DESC LIMIT ?').all(filter.owner, filter.repo, filter.sinceMs ?? 0, filter.limit ?? 1000)
      : this.#stmt('SELECT * FROM route_audits WHERE audited_at_ms >= ? ORDER BY audited_at_ms DESC, run_id DESC LIMIT ?').all(filter.sinceMs ?? 0, filter.limit ?? 1000);
    return (rows as Row[]).map(toAudit);
  }

  // ---- runs and jobs the guard measures --------------------------------------------------

  /**
   * Jobs of the latest `runs` workflow runs of a repository that ran on jitpool's pools, queued
   * at or after `sinceMs`, excluding runs the audit found untrusted. Newest run first.
   */
  trustedRunJobs(owner: string, repo: string, sinceMs: number, runs: number): Array<{ runId: number; jobs: JobRecord[] }> {
    const runRows = this.#stmt(
      `SELECT run_id, MIN(queued_at_ms) AS first_ms FROM jobs
       WHERE owner = ? AND repo = ? AND pool IS NOT NULL AND queued_at_ms >= ?
         AND run_id NOT IN (SELECT run_id FROM route_audits WHERE trusted = 0)
       GROUP BY run_id ORDER BY first_ms DESC, run_id DESC LIMIT ?`,
    ).all(owner, repo, sinceMs, runs) as Array<{ run_id: number }>;
    return runRows.map(({ run_id: runId }) => ({
      runId,
      jobs: (this.#stmt('SELECT * FROM jobs WHERE run_id = ? AND pool IS NOT NULL ORDER BY queued_at_ms, id').all(runId) as Row[]).map(toJob),
    }));
  }

  /** Runners of `pool` that failed before they were ever online (boot or registration failure) at or after `sinceMs`. */
  bootFailures(pool: string, sinceMs: number): Array<{ runnerId: string; name: string; atMs: number; reason: string | null }> {
    const rows = this.#stmt(
      `SELECT t.entity_id AS runner_id, r.name AS name, t.at_ms AS at_ms, COALESCE(r.last_error, t.reason) AS reason
       FROM transitions t JOIN runners r ON r.id = t.entity_id
       WHERE t.entity = 'runner' AND t.to_state = 'failed' AND t.from_state IN ('requested', 'provisioning') AND r.pool = ? AND t.at_ms >= ?
       ORDER BY t.at_ms`,
    ).all(pool, sinceMs) as Row[];
    return rows.map((row) => ({ runnerId: String(row.runner_id), name: String(row.name), atMs: Number(row.at_ms), reason: row.reason === null ? null : String(row.reason) }));
  }

  // ---- incidents -------------------------------------------------------------------------

  /** Records an incident. */
  recordIncident(incident: Omit<IncidentRecord, 'id' | 'atMs'>): IncidentRecord {
    const atMs = this.#clock.now();
    const result = this.#stmt('INSERT INTO incidents (at_ms, owner, repo, kind, trigger_code, summary, evidence, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
      atMs, incident.owner, incident.repo, incident.kind, incident.triggerCode, incident.summary, JSON.stringify(incident.evidence ?? null), incident.action,
    );
    return { ...incident, id: Number(result.lastInsertRowid), atMs };
  }

  /** Incidents, newest first. */
  listIncidents(filter: { owner?: string; repo?: string; limit?: number } = {}): IncidentRecord[] {
    const rows = filter.owner && filter.repo
      ? this.#stmt('SELECT * FROM incidents WHERE owner = ? AND repo = ? ORDER BY id DESC LIMIT ?').all(filter.owner, filter.repo, filter.limit ?? 100)
      : this.#stmt('SELECT * FROM incidents ORDER BY id DESC LIMIT ?').all(filter.limit ?? 100);
    return (rows as Row[]).map((row) => ({
      id: Number(row.id),
      atMs: Number(row.at_ms),
      owner: String(row.owner),
      repo: String(row.repo),
      kind: String(row.kind) as IncidentRecord['kind'],
      triggerCode: String(row.trigger_code),
      summary: String(row.summary),
      evidence: JSON.parse(String(row.evidence)) as unknown,
      action: String(row.action),
    }));
  }

  // ---- marks -----------------------------------------------------------------------------

  /** Notes that something happened now (`restored:owner/repo`, `recovered:owner/repo`). */
  mark(key: string, value: string | null = null): void {
    this.#stmt('INSERT OR REPLACE INTO guard_marks (key, at_ms, value) VALUES (?, ?, ?)').run(key, this.#clock.now(), value);
  }

  /** When a mark was last set, or null. */
  markedAt(key: string): number | null {
    const row = this.#stmt('SELECT at_ms FROM guard_marks WHERE key = ?').get(key) as { at_ms: number } | undefined;
    return row ? Number(row.at_ms) : null;
  }

  // ---- canary ----------------------------------------------------------------------------

  /** A repository's canary position, or null before it started. */
  getCanary(owner: string, repo: string): CanaryRecord | null {
    const row = this.#stmt('SELECT * FROM canary WHERE owner = ? AND repo = ?').get(owner, repo) as Row | undefined;
    if (!row) return null;
    return {
      owner, repo,
      stage: Number(row.stage),
      stageUsed: Number(row.stage_used),
      isHolding: Number(row.is_holding) === 1,
      stageStartedAtMs: Number(row.stage_started_at_ms),
      updatedAtMs: Number(row.updated_at_ms),
    };
  }

  /** Saves a canary position. */
  saveCanary(canary: Omit<CanaryRecord, 'updatedAtMs'>): CanaryRecord {
    const updatedAtMs = this.#clock.now();
    this.#stmt('INSERT OR REPLACE INTO canary (owner, repo, stage, stage_used, is_holding, stage_started_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      canary.owner, canary.repo, canary.stage, canary.stageUsed, canary.isHolding ? 1 : 0, canary.stageStartedAtMs, updatedAtMs,
    );
    return { ...canary, updatedAtMs };
  }

  /** Counts a trusted PR once for the canary; false when it was already counted. */
  countCanaryPullRequest(owner: string, repo: string, prKey: string, stage: number): boolean {
    const result = this.#stmt('INSERT OR IGNORE INTO canary_prs (owner, repo, pr_key, stage, counted_at_ms) VALUES (?, ?, ?, ?, ?)').run(owner, repo, prKey, stage, this.#clock.now());
    return result.changes === 1;
  }

  // ---- offline runners -------------------------------------------------------------------

  /**
   * Records which registrations of a pool are offline now and returns each with the time it was
   * first seen offline; registrations no longer offline are forgotten.
   */
  syncOffline(pool: string, offlineNames: readonly string[]): Array<{ name: string; sinceMs: number }> {
    const now = this.#clock.now();
    const known = new Map((this.#stmt('SELECT name, since_ms FROM runner_offline WHERE pool = ?').all(pool) as Array<{ name: string; since_ms: number }>).map((r) => [r.name, Number(r.since_ms)]));
    const current = new Set(offlineNames);
    for (const name of known.keys()) if (!current.has(name)) this.#stmt('DELETE FROM runner_offline WHERE name = ?').run(name);
    for (const name of current) if (!known.has(name)) this.#stmt('INSERT OR REPLACE INTO runner_offline (name, pool, since_ms) VALUES (?, ?, ?)').run(name, pool, now);
    return [...current].map((name) => ({ name, sinceMs: known.get(name) ?? now }));
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}

function toAudit(row: Row): RouteAuditRecord {
  return {
    runId: Number(row.run_id),
    owner: String(row.owner),
    repo: String(row.repo),
    jobId: Number(row.job_id),
    pool: String(row.pool),
    event: String(row.event),
    actor: row.actor === null ? null : String(row.actor),
    prNumber: row.pr_number === null ? null : Number(row.pr_number),
    trusted: Number(row.trusted) === 1,
    rule: String(row.rule),
    reason: String(row.reason),
    isMismatch: Number(row.is_mismatch) === 1,
    auditedAtMs: Number(row.audited_at_ms),
  };
}

