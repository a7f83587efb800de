import { JitpoolError } from '../core/index.ts';

/** Options of {@link generateWorkload}. */
export interface WorkloadOptions {
  /** How many jobs. */
  jobs: number;
  /** The same seed gives the same workload. */
  seed: number;
  owner: string;
  /** Each job picks one of these repositories. */
  repos: string[];
  /** Each job picks one of these `runs-on` label sets. */
  labelSets: string[][];
  /** Jobs arrive within [0, spanMs). */
  spanMs: number;
  minDurationMs: number;
  maxDurationMs: number;
  /** How many bursts (several jobs at nearly the same instant, like a push fanning out a matrix). @default 0 */
  bursts?: number;
}

/** One job of a workload: queue it `atMs` after the start. */
export interface WorkloadJob {
  atMs: number;
  owner: string;
  repo: string;
  labels: string[];
  durationMs: number;
  name: string;
}

/** mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A deterministic job arrival schedule for tests, benchmarks and what-if runs: a share of the
 * jobs arrives in bursts (within 50 ms of a burst's instant), the rest uniformly over the span;
 * durations mix mostly short jobs with a long tail. Sorted by `atMs`.
 */
export function generateWorkload(options: WorkloadOptions): WorkloadJob[] {
  const { jobs, owner, repos, labelSets, spanMs, minDurationMs, maxDurationMs } = options;
  const bursts = options.bursts ?? 0;
  if (!Number.isInteger(jobs) || jobs < 0 || repos.length === 0 || labelSets.length === 0 || spanMs <= 0 || minDurationMs > maxDurationMs || bursts < 0) {
    throw new JitpoolError('JP_INPUT_INVALID', 'generateWorkload: invalid options');
  }
  const random = mulberry32(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const burstAtMs = Array.from({ length: bursts }, () => Math.floor(random() * spanMs));
  // Half of the jobs arrive in bursts when any are asked for.
  const burstJobs = bursts > 0 ? Math.floor(jobs / 2) : 0;
  const out: WorkloadJob[] = [];
  for (let i = 0; i < jobs; i++) {
    const atMs = i < burstJobs ? Math.min(spanMs - 1, (burstAtMs[i % bursts] ?? 0) + Math.floor(random() * 50)) : Math.floor(random() * spanMs);
    // Squaring skews durations short with a long tail, like real CI.
    const durationMs = Math.round(minDurationMs + (maxDurationMs - minDurationMs) * random() ** 2);
    out.push({ atMs, owner, repo: pick(repos), labels: [...pick(labelSets)], durationMs, name: `job-${i + 1}` });
  }
  return out.sort((a, b) => a.atMs - b.atMs || a.name.localeCompare(b.name, 'en', { numeric: true }));
}
