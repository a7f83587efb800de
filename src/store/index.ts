export * from './lifecycle.ts';
export * from './types.ts';
export { Store, type RunnerPatch, type JobObservation, type JobObservationResult } from './store.ts';
export { GuardRecords, type RouteAuditRecord, type IncidentRecord, type CanaryRecord } from './guard-records.ts';
