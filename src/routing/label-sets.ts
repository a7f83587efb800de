import { normalizeLabel } from '../core/index.ts';

/** The labels jitpool falls back to when no job is queued (seed 000's `linux,x64,codex` shape). */
export const DEFAULT_FALLBACK_LABELS: readonly string[] = ['self-hosted', 'linux', 'x64'];

/** One distinct `runs-on` label set among queued jobs, and how many jobs ask for it. */
export interface LabelSetDemand {
  labels: string[];
  jobs: number;
}

/** What {@link minimalLabelSet} found. */
export interface MinimalLabelSet {
  /** The smallest label set one runner needs to be able to take every queued job (their union). */
  labels: string[];
  /** `queue` when computed from queued jobs, `fallback` when none were queued. */
  source: 'queue' | 'fallback';
  /** Distinct label sets, most asked-for first. */
  labelSets: LabelSetDemand[];
  queuedJobs: number;
}

/**
 * The minimal label set covering a list of jobs. GitHub gives a job to a runner whose labels
 * include all of the job's (case-insensitively), so one runner can take every job exactly when
 * its labels contain the union of theirs — and no smaller set does. Labels keep the spelling of
 * their first occurrence; order follows first appearance. No jobs: the fallback.
 */
export function minimalLabelSet(jobs: ReadonlyArray<{ labels: readonly string[] }>, fallback: readonly string[] = DEFAULT_FALLBACK_LABELS): MinimalLabelSet {
  const union = new Map<string, string>();
  const sets = new Map<string, LabelSetDemand>();
  for (const job of jobs) {
    const distinct = new Map<string, string>();
    for (const label of job.labels) {
      const key = normalizeLabel(label);
      if (!distinct.has(key)) distinct.set(key, label);
      if (!union.has(key)) union.set(key, label);
    }
    const key = [...distinct.keys()].sort().join(',');
    const existing = sets.get(key);
    if (existing) existing.jobs += 1;
    else sets.set(key, { labels: [...distinct.values()], jobs: 1 });
  }
  const labelSets = [...sets.values()].sort((a, b) => b.jobs - a.jobs || a.labels.join(',').localeCompare(b.labels.join(',')));
  if (union.size === 0) return { labels: [...fallback], source: 'fallback', labelSets, queuedJobs: jobs.length };
  return { labels: [...union.values()], source: 'queue', labelSets, queuedJobs: jobs.length };
}
