import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { JitpoolError, isSystemDirectory } from '../core/index.ts';

/**
 * Store health made explicit: which SQLite failures mean the database itself is in trouble
 * (damaged, disk full, I/O errors), the check a database passes before the daemon uses it, and
 * the file permissions a store holding runner state is kept at.
 */

/** What a storage failure means for the daemon. */
export type StoreTrouble = 'corrupt' | 'full' | 'io' | 'readonly' | 'unavailable';

/** The store's health as readiness and `/status` report it. */
export interface StoreHealthStatus {
  ok: boolean;
  trouble: StoreTrouble | null;
  /** SQLite's own message for the last storage failure (never shown on a public route). */
  message: string | null;
  atMs: number | null;
}

/** SQLite's primary result codes (https://www.sqlite.org/rescode.html) that mean storage trouble. */
const TROUBLE_BY_CODE: Record<number, StoreTrouble> = {
  8: 'readonly', // SQLITE_READONLY
  10: 'io', // SQLITE_IOERR
  11: 'corrupt', // SQLITE_CORRUPT
  13: 'full', // SQLITE_FULL
  14: 'unavailable', // SQLITE_CANTOPEN
  26: 'corrupt', // SQLITE_NOTADB
};

/** The storage trouble a thrown value means, or null for anything else (a constraint, a bug). */
export function sqliteTrouble(err: unknown): StoreTrouble | null {
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  if ((err as { code?: unknown } | null)?.code !== 'ERR_SQLITE_ERROR' || typeof errcode !== 'number') return null;
  return TROUBLE_BY_CODE[errcode & 0xff] ?? null;
}

/** SQLite's message for a thrown value. */
export function sqliteMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A full disk is over only once writes commit for this long without a storage failure: a small
 * write can still fit in a full disk's last free page while a webhook delivery cannot.
 */
export const TROUBLE_CLEARS_AFTER_MS = 30_000;

/**
 * What the store saw of its own storage. A damaged database stays unhealthy until the process
 * restarts (or the store is rebuilt); a full disk or an I/O error clears with a write that
 * commits {@link TROUBLE_CLEARS_AFTER_MS} after the last failure.
 */
export class StoreHealth {
  #status: StoreHealthStatus = { ok: true, trouble: null, message: null, atMs: null };
  #lastFailureMs = -Infinity;

  /** Records `err` when it is storage trouble; returns the trouble (null otherwise). */
  note(err: unknown, nowMs: number): StoreTrouble | null {
    const trouble = sqliteTrouble(err);
    if (trouble === null) return null;
    this.#lastFailureMs = nowMs;
    if (this.#status.trouble !== 'corrupt') this.#status = { ok: false, trouble, message: sqliteMessage(err), atMs: nowMs };
    return trouble;
  }

  /** A write committed: a full disk or I/O trouble is over if none happened lately (a damaged file never is). */
  noteCommitted(nowMs: number): void {
    if (this.#status.ok || this.#status.trouble === 'corrupt' || nowMs - this.#lastFailureMs < TROUBLE_CLEARS_AFTER_MS) return;
    this.#status = { ok: true, trouble: null, message: null, atMs: null };
  }

  /** The current health. */
  status(): StoreHealthStatus {
    return { ...this.#status };
  }
}

/**
 * A statement whose failures are reported to `health` (and rethrown unchanged): every read and
 * write of the store then feeds readiness, whoever made it.
 */
export function watchStatement(statement: StatementSync, onError: (err: unknown) => void): StatementSync {
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      onError(err);
      throw err;
    }
  };
  const watched = {
    run: (...params: unknown[]) => guard(() => statement.run(...(params as []))),
    get: (...params: unknown[]) => guard(() => statement.get(...(params as []))),
    all: (...params: unknown[]) => guard(() => statement.all(...(params as []))),
  };
  return watched as unknown as StatementSync;
}

/** The error a damaged database file raises: the file, SQLite's words and what to do. */
export function storeCorruptError(path: string, cause: unknown): JitpoolError {
  return new JitpoolError(
    'JP_STORE_CORRUPT',
    `the store ${path} is damaged (${sqliteMessage(cause)}); stop jitpool and run \`jitpool store rebuild\` ` +
      '(the damaged file is kept aside; runners are found again from the providers and GitHub)',
    { cause, details: { file: path, sqlite: sqliteMessage(cause) } },
  );
}

/**
 * Checks an opened database before anything uses it: SQLite's `quick_check` (every page's
 * structure, without the slower index cross-checks). Throws `JP_STORE_CORRUPT` naming the file.
 */
export function verifyDatabase(db: DatabaseSync, path: string): void {
  let rows: Array<Record<string, unknown>>;
  try {
    rows = db.prepare('PRAGMA quick_check').all() as Array<Record<string, unknown>>;
  } catch (err) {
    if (sqliteTrouble(err) === 'corrupt') throw storeCorruptError(path, err);
    throw err;
  }
  const problems = rows.map((row) => String(Object.values(row)[0] ?? '')).filter((line) => line !== 'ok');
  if (problems.length > 0) throw storeCorruptError(path, new Error(problems.slice(0, 3).join('; ')));
}

/**
 * Creates `dir` 0700, or tightens an existing one jitpool may call its own: owned by this user,
 * not sticky (a shared `/tmp`) and not a system directory. Others are left as they are.
 */
export function securePrivateDir(dir: string): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return;
  }
  const stat = statSync(dir);
  const isOwn = process.getuid === undefined || stat.uid === process.getuid();
  if (isOwn && (stat.mode & 0o1000) === 0 && !isSystemDirectory(dir) && (stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * Keeps the store's files private before SQLite touches them: the state directory 0700 (it also
 * holds runner work directories and caches), the database and its `-wal`/`-shm` companions 0600.
 * SQLite creates the companions with the database's mode, so the database is created 0600 first.
 */
export function secureStoreFiles(path: string): void {
  securePrivateDir(dirname(path));
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file) && (statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
}
