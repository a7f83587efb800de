export { plan, type Action, type Observed, type PoolPlanSpec, type PoolHealth, type ObservedRegistration } from './plan.ts';
export { Executor, DEGRADED_AFTER_FAILURES, type PoolRuntime, type ExecutorOptions } from './executor.ts';
export { Controller, type ControllerOptions, type GitHubSyncStatus, type ReconcileResult } from './controller.ts';
export { Limiter } from './limiter.ts';
export { diagnose, repair, type DoctorDeps, type DoctorReport, type GhostFinding, type RepairResult } from './doctor.ts';
export { resolvePoolScale, type PoolScale, type PoolScaleRequest } from './pool-scale.ts';
export { compareViews, type RunnerViewRow, type ViewComparison } from './views.ts';
