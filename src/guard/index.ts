/** The public surface of `guard/`: SLO figures from the store's history. */
export { computeSloReport, DEFAULT_SLO_THRESHOLDS, type JobSample, type LifecycleSample, type SloCriterion, type SloReport, type SloThresholds } from './report.ts';
