/** Injected time, so the simulator and tests can drive a virtual clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  #nowMs: number;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#nowMs = startMs;
  }
  now(): number {
    return this.#nowMs;
  }
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.#nowMs += ms;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** Exponential backoff with full jitter: a random delay in [0, min(capMs, baseMs * 2^attempt)]. */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 5 * 60_000, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
