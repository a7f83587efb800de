import type { Store } from '../store/index.ts';

/**
 * Cost and utilisation from the store: how many runner-minutes each pool and repository used,
 * how much of that was idle (warm runners waiting, boot, teardown) rather than running a job,
 * and how many runners were launched per job that ran. Pure over the store's rows and its
 * transition log; nothing is estimated.
 */

/** Minutes used by one group (a pool, a repository). */
export interface UsageFigures {
  runners: number;
  runnerMinutes: number;
  busyMinutes: number;
  /** Share (0–1) of runner-minutes not spent running a job; null without runner-minutes. */
  idleShare: number | null;
}

/** The usage report over the latest runners. */
export interface UsageReport {
  /** Runners considered (the latest `last`, any state). */
  runners: number;
  /** Jobs those runners ran. */
  jobsRun: number;
  /** Runners launched per job that ran (1.0 is the ideal of one runner per job; minIdle and lost jobs raise it). */
  launchesPerJob: number | null;
  total: UsageFigures;
  byPool: Record<string, UsageFigures>;
  /** By the repository of the job the runner ran (`owner/repo`); `(no job)` for runners that ran none. */
  byRepository: Record<string, UsageFigures>;
}

/** The usage of the latest `last` runners, their minutes counted up to `nowMs` while alive. */
export function computeUsage(store: Store, last: number, nowMs: number): UsageReport {
  const runners = store.listRunners({ limit: last });
  const byPool = new Map<string, Accumulator>();
  const byRepository = new Map<string, Accumulator>();
  const total = new Accumulator();
  let jobsRun = 0;
  for (const runner of runners) {
    const transitions = store.listTransitions({ entityId: runner.id });
    const endMs = transitions.find((t) => t.toState === 'removed')?.atMs ?? nowMs;
    const busyIndex = transitions.findIndex((t) => t.toState === 'busy');
    const busyStartMs = busyIndex === -1 ? null : transitions[busyIndex]!.atMs;
    const busyEndMs = busyIndex === -1 ? null : (transitions[busyIndex + 1]?.atMs ?? endMs);
    const spanMs = Math.max(0, endMs - runner.createdAtMs);
    const busyMs = busyStartMs === null ? 0 : Math.max(0, Math.min(busyEndMs!, endMs) - busyStartMs);
    const job = runner.jobId === null ? undefined : store.getJob(runner.jobId);
    if (job) jobsRun += 1;
    const repository = job ? `${job.owner}/${job.repo}` : '(no job)';
    for (const acc of [total, of(byPool, runner.pool), of(byRepository, repository)]) acc.add(spanMs, busyMs);
  }
  return {
    runners: runners.length,
    jobsRun,
    launchesPerJob: jobsRun === 0 ? null : round(runners.length / jobsRun),
    total: total.figures(),
    byPool: Object.fromEntries([...byPool].map(([key, acc]) => [key, acc.figures()])),
    byRepository: Object.fromEntries([...byRepository].map(([key, acc]) => [key, acc.figures()])),
  };
}

class Accumulator {
  runners = 0;
  spanMs = 0;
  busyMs = 0;
  add(spanMs: number, busyMs: number): void {
    this.runners += 1;
    this.spanMs += spanMs;
    this.busyMs += busyMs;
  }
  figures(): UsageFigures {
    return { runners: this.runners, runnerMinutes: round(this.spanMs / 60_000), busyMinutes: round(this.busyMs / 60_000), idleShare: this.spanMs === 0 ? null : round(1 - this.busyMs / this.spanMs) };
  }
}

function of(map: Map<string, Accumulator>, key: string): Accumulator {
  let acc = map.get(key);
  if (!acc) map.set(key, (acc = new Accumulator()));
  return acc;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
