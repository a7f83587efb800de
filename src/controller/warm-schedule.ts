/**
 * Scheduled warm pools: `minIdle` by time window, e.g. 2 warm runners on weekdays 08:00–19:00
 * in Europe/Berlin and the pool's own `minIdle` (often 0) otherwise. Evaluated at each reconcile
 * from the clock, so a window opens and closes without a restart. Pure.
 */

/** Days as the config writes them. */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
/** One day of the week. */
export type Weekday = (typeof WEEKDAYS)[number];

/** A window in which the pool keeps `minIdle` runners warm. */
export interface WarmWindow {
  /** Days the window starts on. */
  days: readonly Weekday[];
  /** `HH:MM`, local to `timeZone`. */
  from: string;
  /** `HH:MM`; earlier than `from` means the window runs past midnight into the next day. */
  to: string;
  /** IANA time zone, e.g. `Europe/Berlin`. */
  timeZone: string;
  minIdle: number;
}

/** The local weekday and minute of the day of `nowMs` in `timeZone`. */
export function localTime(nowMs: number, timeZone: string): { day: Weekday; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(nowMs));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const day = get('weekday').slice(0, 3).toLowerCase() as Weekday;
  return { day, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

/** Minutes since midnight of `HH:MM`. */
export function minuteOf(hhmm: string): number {
  const [h = 0, m = 0] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

/** True when `window` is open at `nowMs`. */
export function isWindowOpen(window: WarmWindow, nowMs: number): boolean {
  const { day, minute } = localTime(nowMs, window.timeZone);
  const from = minuteOf(window.from);
  const to = minuteOf(window.to);
  if (from < to) return window.days.includes(day) && minute >= from && minute < to;
  // Past midnight: open from `from` on a listed day, and before `to` on the day after one.
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;
  return (window.days.includes(day) && minute >= from) || (window.days.includes(yesterday) && minute < to);
}

/** The warm floor at `nowMs`: the largest `minIdle` of the open windows, else the pool's own. */
export function scheduledMinIdle(baseMinIdle: number, windows: readonly WarmWindow[] | undefined, nowMs: number): { minIdle: number; window: WarmWindow | null } {
  let best: WarmWindow | null = null;
  for (const window of windows ?? []) if (isWindowOpen(window, nowMs) && (best === null || window.minIdle > best.minIdle)) best = window;
  return best === null ? { minIdle: baseMinIdle, window: null } : { minIdle: best.minIdle, window: best };
}
