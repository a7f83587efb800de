export * from './lifecycle.ts';
export * from './types.ts';
export { Store, type AdoptedRunner, type RunnerPatch, type JobObservation, type JobObservationResult } from './store.ts';
export { StoreLease, WRITER_LEASE, describeLease, leaseLiveness, type LeaseAcquisition, type LeaseClaim, type LeaseLiveness } from './lease.ts';
export { GuardRecords, type RouteAuditRecord, type IncidentRecord, type CanaryRecord } from './guard-records.ts';
export { LeaseKeeper, type LeaseKeeperOptions } from './lease-keeper.ts';
