export { WebhookIntake, type WebhookRequest, type WebhookResponse, type WebhookIntakeOptions } from './webhook-intake.ts';
export { parseWorkflowJob, type WorkflowJobParse } from './workflow-job.ts';
export { Poller, type PollerOptions, type PollResult } from './poller.ts';
export { nextPollDelayMs } from './poll-delay.ts';
export { RunnerAccess, type RunnerAccessOptions } from './runner-access.ts';
export { AccessMonitor, reviewOpenJobs, type AccessMonitorOptions } from './access-monitor.ts';
export { ScaleSetIntake, type ScaleSetIntakeOptions } from './scale-set-intake.ts';
export { ScaleSetListener, conclusionOf, type ScaleSetListenerOptions, type ScaleSetListenerStatus, type ScaleSetPool } from './scale-set-listener.ts';
export { fileScaleSetMemory, memoryScaleSetMemory, type ScaleSetMemory, type ScaleSetMemoryRecord } from './scale-set-memory.ts';
