import { createHash } from 'node:crypto';

/** One token's primary rate-limit window, as GitHub reports it in `x-ratelimit-*` headers. */
export interface RateLimitWindow {
  limit: number;
  remaining: number;
  used: number;
  /** Epoch seconds when the window resets. */
  resetEpochSeconds: number;
}

/**
 * GitHub's primary rate limit for the `core` resource: a fixed window per token that starts at
 * the token's first request. Only answers other than 304 consume a request
 * (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, { startMs: number; used: number }>();

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** The window of `token` (never stored in clear: keyed by a hash). */
  peek(token: string, nowMs = Date.now()): RateLimitWindow {
    return this.#view(this.#window(token, nowMs));
  }

  /** True when `token` has no request left in its window. */
  isExhausted(token: string, nowMs = Date.now()): boolean {
    return this.#window(token, nowMs).used >= this.#limit;
  }

  /** Consumes one request of `token`'s window and returns the window after it. */
  consume(token: string, nowMs = Date.now()): RateLimitWindow {
    const window = this.#window(token, nowMs);
    window.used = Math.min(this.#limit, window.used + 1);
    return this.#view(window);
  }

  /** The lowest `remaining` over every token seen (the limit when none was). */
  remainingMin(nowMs = Date.now()): number {
    let min = this.#limit;
    for (const key of this.#windows.keys()) {
      min = Math.min(min, this.#view(this.#windowByKey(key, nowMs)).remaining);
    }
    return min;
  }

  #window(token: string, nowMs: number): { startMs: number; used: number } {
    return this.#windowByKey(createHash('sha256').update(token).digest('hex'), nowMs);
  }

  #windowByKey(key: string, nowMs: number): { startMs: number; used: number } {
    let window = this.#windows.get(key);
    if (!window || nowMs >= window.startMs + this.#windowMs) {
      window = { startMs: nowMs, used: 0 };
      this.#windows.set(key, window);
    }
    return window;
  }

  #view(window: { startMs: number; used: number }): RateLimitWindow {
    return {
      limit: this.#limit,
      remaining: this.#limit - window.used,
      used: window.used,
      resetEpochSeconds: Math.ceil((window.startMs + this.#windowMs) / 1000),
    };
  }
}
