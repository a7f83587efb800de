import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../core/index.ts';

/** What jitpool remembers of a pool's scale set across restarts. */
export interface ScaleSetMemoryRecord {
  scaleSetId: number;
  /** The message session last opened (null once deleted at shutdown). */
  sessionId: string | null;
}

/**
 * Where the scale-set intake keeps each pool's set id and open session id, so that a restart after
 * a crash deletes the session its predecessor left behind instead of waiting for it to expire
 * (409 `RunnerScaleSetSessionConflictException`). Holds no secret.
 */
export interface ScaleSetMemory {
  load(pool: string): ScaleSetMemoryRecord | null;
  save(pool: string, record: ScaleSetMemoryRecord): Promise<void>;
}

/** In memory only (tests, the demo). */
export function memoryScaleSetMemory(): ScaleSetMemory {
  const records = new Map<string, ScaleSetMemoryRecord>();
  return {
    load: (pool) => records.get(pool) ?? null,
    save: async (pool, record) => {
      records.set(pool, { ...record });
    },
  };
}

/** One JSON file (mode 0600, written atomically), e.g. `<stateDir>/scale-sets.json`. */
export function fileScaleSetMemory(path: string): ScaleSetMemory {
  let records: Record<string, ScaleSetMemoryRecord> = {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (parsed !== null && typeof parsed === 'object') records = parsed as Record<string, ScaleSetMemoryRecord>;
  } catch {
    // No file yet (or an unreadable one): nothing remembered; a stale session then expires on GitHub's side.
  }
  let writing: Promise<void> = Promise.resolve();
  return {
    load: (pool) => {
      const record = records[pool];
      return record && typeof record.scaleSetId === 'number' ? { scaleSetId: record.scaleSetId, sessionId: typeof record.sessionId === 'string' ? record.sessionId : null } : null;
    },
    save: (pool, record) => {
      records = { ...records, [pool]: { ...record } };
      const text = `${JSON.stringify(records, null, 2)}\n`;
      writing = writing.then(() => writeFileAtomic(path, text, 0o600));
      return writing;
    },
  };
}
