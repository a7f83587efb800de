import type { RateLimitState } from '../github/index.ts';

/** Share of the remaining budget polling may use; the rest stays for launches and repairs. */
const POLL_SHARE = 0.5;
/** Below this share of the limit left, polling is paced to the budget. */
const LOW_BUDGET_SHARE = 0.5;

/**
 * How long to wait before the next poll. Normally `baseMs`; once less than half of the
 * rate-limit budget is left, polls are paced so that, at the current cost per poll
 * (`countedCallsPerPoll`, 304s excluded), polling spends at most half of what remains before the
 * reset — slower polling instead of failed launches. With nothing left, wait for the reset.
 */
export function nextPollDelayMs(baseMs: number, rateLimit: RateLimitState | null, countedCallsPerPoll: number, nowMs: number): number {
  if (!rateLimit || rateLimit.limit === 0) return baseMs;
  const untilResetMs = Math.max(0, rateLimit.resetAtMs - nowMs);
  if (rateLimit.remaining <= 0) return Math.max(baseMs, untilResetMs + 1000);
  if (rateLimit.remaining >= rateLimit.limit * LOW_BUDGET_SHARE) return baseMs;
  const pollsAffordable = (rateLimit.remaining * POLL_SHARE) / Math.max(1, countedCallsPerPoll);
  return Math.max(baseMs, Math.ceil(untilResetMs / Math.max(1, pollsAffordable)));
}
