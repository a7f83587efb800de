/** The public surface of `guard/`: SLO figures from the store's history. */
export { computeSloReport, DEFAULT_SLO_THRESHOLDS, type JobSample, type LifecycleSample, type SloCriterion, type SloReport, type SloThresholds } from './report.ts';
export { computeUsage, type UsageFigures, type UsageReport } from './usage.ts';
/** The routing guard: SLO figures, rollback triggers, route audit, canary stages, recovery. */
export { Guard, recoveredKey, type GuardOptions, type GuardPool, type GuardReport } from './guard.ts';
export { Canary, stageBudget, stageName, type CanaryStatus } from './canary.ts';
export { RouteAuditor, type RouteAuditorOptions } from './route-audit.ts';
export { evaluateTriggers, type Trigger, type TriggerCode, type GuardThresholds } from './triggers.ts';
export { routingCorrectness, trustedRunFigures, queueWaitMs, p95QueueWaitMs, type RoutingCorrectness, type TrustedRunFigure, type GuardFigures } from './slo.ts';
export { recover, healthProblems, type RecoverDeps, type RecoverResult, type RecoverStep } from './recover.ts';
