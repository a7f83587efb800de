import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSafeRunnerName } from '../core/index.ts';
import type { InstanceStatus } from './external-metadata.ts';

/**
 * The external provider's record of each instance it asked for, one 0600 JSON file per
 * instance in a 0700 directory of the controller's: what garm's instance JSON does not carry
 * (runner id, create attempt, creation time) and the last status the instance reported, so a
 * restarted controller still knows them. No secrets: tokens and JIT configs live in memory only.
 */

/** One instance's record. */
export interface ExternalRecord {
  runnerId: string;
  runnerName: string;
  pool: string;
  controllerId: string;
  createdAtMs: number;
  /** Bumped on every CreateInstance of this name; the instance token is bound to it. */
  createAttempt: number;
  /** What CreateInstance answered as `provider_id` (GARM_INSTANCE_ID for Get/Delete), null before it answered. */
  providerId: string | null;
  reportedStatus: InstanceStatus;
  /** The last failure of a command on this instance (secret-free). */
  lastError: string | null;
}

/** Reads and writes records in one directory. */
export class ExternalRecords {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  read(name: string): ExternalRecord | null {
    if (!isSafeRunnerName(name)) return null;
    try {
      return JSON.parse(readFileSync(join(this.#dir, `${name}.json`), 'utf8')) as ExternalRecord;
    } catch {
      return null;
    }
  }

  /** Replaces a record atomically. */
  write(record: ExternalRecord): void {
    const file = join(this.#dir, `${record.runnerName}.json`);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    renameSync(tmp, file);
  }

  remove(name: string): void {
    if (isSafeRunnerName(name)) rmSync(join(this.#dir, `${name}.json`), { force: true });
  }
}
