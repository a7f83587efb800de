export { plan, type Action, type Observed, type PoolPlanSpec, type PoolHealth, type ObservedRegistration, type RegistrationSnapshot, type TeardownAction } from './plan.ts';
export { Executor, DEGRADED_AFTER_FAILURES, type PoolRuntime, type PoolRegistrar, type ExecutorOptions } from './executor.ts';
export { Controller, type ControllerOptions, type ReconcileResult } from './controller.ts';
export { RegistrationSync, type GitHubSyncStatus, type RegistrationSyncOptions } from './registration-sync.ts';
export { adoptCompute, removeOrphanCompute, teardown, type TeardownContext } from './teardown.ts';
export { Limiter } from './limiter.ts';
export { diagnose, repair, type DoctorDeps, type DoctorReport, type GhostFinding, type RepairResult } from './doctor.ts';
export { resolvePoolScale, type PoolScale, type PoolScaleRequest } from './pool-scale.ts';
export { compareViews, type RunnerViewRow, type ViewComparison } from './views.ts';
export {
  dueJobRefreshes, isRefreshDue, jobStateOf, refreshDelayMs, refreshJob, retireMissingJob, retireRepositoryJobs, MAX_REFRESHES_PER_POOL,
  type JobRefreshDeps,
} from './job-refresh.ts';
export { applyRecovery, observeForRecovery, planRecovery, type FoundRunner, type RecoveryDeps, type RecoveryInput, type RecoveryPlan } from './rebuild.ts';
export { WEEKDAYS, isWindowOpen, localTime, scheduledMinIdle, type WarmWindow, type Weekday } from './warm-schedule.ts';
