export { WebhookIntake, type WebhookRequest, type WebhookResponse, type WebhookIntakeOptions } from './webhook-intake.ts';
export { parseWorkflowJob, type WorkflowJobParse } from './workflow-job.ts';
