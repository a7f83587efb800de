import { percentile, round } from '../core/index.ts';

/** Seed 001 §11's post-rollout criteria. */
export interface SloThresholds {
  /** Least share of runner lifecycles that end without failing or being lost. @default 0.98 */
  minLifecycleSuccessRate: number;
  /** Most p95 queue wait. @default 120 */
  maxQueueWaitP95Seconds: number;
  /** Most p95 setup latency (launch decision → runner busy). @default 180 */
  maxSetupLatencyP95Seconds: number;
}

/** The defaults of {@link SloThresholds}. */
export const DEFAULT_SLO_THRESHOLDS: SloThresholds = { minLifecycleSuccessRate: 0.98, maxQueueWaitP95Seconds: 120, maxSetupLatencyP95Seconds: 180 };

/** One finished runner lifecycle as the report needs it. */
export interface LifecycleSample {
  createdAtMs: number;
  /** Every state the runner went through. */
  states: readonly string[];
  /** When it first went busy (null: it never took a job). */
  busyAtMs: number | null;
}

/** One started job as the report needs it. */
export interface JobSample {
  queuedAtMs: number;
  startedAtMs: number;
}

/** One criterion: its figure, its threshold and whether it was met (`null` figure: no samples). */
export interface SloCriterion {
  name: 'lifecycleSuccessRate' | 'queueWaitP95Seconds' | 'setupLatencyP95Seconds' | 'routingCorrectness';
  value: number | null;
  threshold: number;
  comparison: '>=' | '<=';
  samples: number;
  isMet: boolean;
}

/** The report `jitpool report` prints. */
export interface SloReport {
  criteria: SloCriterion[];
  /** True when every criterion with samples is met. */
  isMet: boolean;
}

/**
 * Seed 001 §11's success criteria over the latest samples. Pure. A criterion without samples
 * cannot be missed: it is reported with a null value.
 */
export function computeSloReport(
  lifecycles: readonly LifecycleSample[],
  jobs: readonly JobSample[],
  thresholds: SloThresholds = DEFAULT_SLO_THRESHOLDS,
  routing?: { audited: number; mismatches: number },
): SloReport {
  const succeeded = lifecycles.filter((l) => !l.states.includes('failed') && !l.states.includes('lost')).length;
  const successRate = lifecycles.length === 0 ? null : round(succeeded / lifecycles.length, 4);
  const waits = jobs.map((j) => Math.max(0, j.startedAtMs - j.queuedAtMs) / 1000);
  const setups = lifecycles.filter((l) => l.busyAtMs !== null).map((l) => Math.max(0, l.busyAtMs! - l.createdAtMs) / 1000);
  const criteria: SloCriterion[] = [
    criterion('lifecycleSuccessRate', successRate, thresholds.minLifecycleSuccessRate, '>=', lifecycles.length),
    criterion('queueWaitP95Seconds', waits.length ? round(percentile(waits, 95), 1) : null, thresholds.maxQueueWaitP95Seconds, '<=', waits.length),
    criterion('setupLatencyP95Seconds', setups.length ? round(percentile(setups, 95), 1) : null, thresholds.maxSetupLatencyP95Seconds, '<=', setups.length),
  ];
  if (routing) {
    // Seed 001 §11: routing correctness must be 100 % (no untrusted run on a self-hosted pool).
    const share = routing.audited === 0 ? null : round((routing.audited - routing.mismatches) / routing.audited, 4);
    criteria.push(criterion('routingCorrectness', share, 1, '>=', routing.audited));
  }
  return { criteria, isMet: criteria.every((c) => c.isMet) };
}

function criterion(name: SloCriterion['name'], value: number | null, threshold: number, comparison: '>=' | '<=', samples: number): SloCriterion {
  const isMet = value === null || (comparison === '>=' ? value >= threshold : value <= threshold);
  return { name, value, threshold, comparison, samples, isMet };
}
