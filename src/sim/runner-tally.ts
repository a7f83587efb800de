/** The runner-safety record of a run (`Simulator.stats().runners`). */
export interface RunnerTallyStats {
  /** Most registrations alive at once: overall, and by runner-name prefix `jp-<pool>-`. */
  maxConcurrentRunners: { overall: number; byNamePrefix: Record<string, number> };
  /** Registrations removed while their runner was busy (must stay 0: GitHub refuses, 422). */
  busyRunnersDeleted: number;
  /** Busy runners whose process vanished mid-job (heartbeat lost), other than those the simulator made die. */
  busyRunnersKilled: number;
}

/**
 * The pool prefix of a jitpool runner name (`jp-<pool>-<short id>` → `jp-<pool>-`), or null for
 * other names. The short id is the part after the last dash.
 */
export function runnerNamePrefix(name: string): string | null {
  if (!name.startsWith('jp-')) return null;
  const cut = name.lastIndexOf('-');
  return cut > 2 ? name.slice(0, cut + 1) : null;
}

/** Keeps the history that lets a test check "the pool was never above max" and "no busy runner was killed". */
export class RunnerTally {
  #alive = 0;
  readonly #aliveByPrefix = new Map<string, number>();
  #maxOverall = 0;
  readonly #maxByPrefix: Record<string, number> = {};
  #busyDeleted = 0;
  #busyKilled = 0;

  /** A registration was created. */
  added(name: string): void {
    this.#alive++;
    this.#maxOverall = Math.max(this.#maxOverall, this.#alive);
    const prefix = runnerNamePrefix(name);
    if (prefix === null) return;
    const alive = (this.#aliveByPrefix.get(prefix) ?? 0) + 1;
    this.#aliveByPrefix.set(prefix, alive);
    this.#maxByPrefix[prefix] = Math.max(this.#maxByPrefix[prefix] ?? 0, alive);
  }

  /** A registration was removed; `wasBusy` when it still ran a job. */
  removed(name: string, wasBusy: boolean): void {
    this.#alive = Math.max(0, this.#alive - 1);
    if (wasBusy) this.#busyDeleted++;
    const prefix = runnerNamePrefix(name);
    if (prefix !== null) this.#aliveByPrefix.set(prefix, Math.max(0, (this.#aliveByPrefix.get(prefix) ?? 1) - 1));
  }

  /** A busy runner stopped heartbeating without having been told to die. */
  killedWhileBusy(): void {
    this.#busyKilled++;
  }

  /** The record so far. */
  stats(): RunnerTallyStats {
    return {
      maxConcurrentRunners: { overall: this.#maxOverall, byNamePrefix: { ...this.#maxByPrefix } },
      busyRunnersDeleted: this.#busyDeleted,
      busyRunnersKilled: this.#busyKilled,
    };
  }
}
