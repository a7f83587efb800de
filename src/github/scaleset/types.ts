/**
 * The runner scale set protocol's wire types, field for field as the `actions/scaleset` Go client
 * declares them (types.go). Times are ISO strings on the wire.
 */

/** Kinds of job message a queue message batches. */
export type JobMessageType = 'JobAvailable' | 'JobAssigned' | 'JobStarted' | 'JobCompleted';

/** `JobMessageBase`: what every job message says about its job. */
export interface JobMessageBase {
  messageType: JobMessageType;
  runnerRequestId: number;
  repositoryName: string;
  ownerName: string;
  jobId: string;
  jobWorkflowRef: string;
  jobDisplayName: string;
  workflowRunId: number;
  eventName: string;
  requestLabels: string[];
  queueTime: string;
  scaleSetAssignTime: string;
  runnerAssignTime: string;
  finishTime: string;
}

/** A job offered to the set; the listener acquires it. */
export interface JobAvailable extends JobMessageBase {
  messageType: 'JobAvailable';
  acquireJobUrl: string;
}

/** A job the set acquired. */
export interface JobAssigned extends JobMessageBase {
  messageType: 'JobAssigned';
}

/** A runner of the set took the job. */
export interface JobStarted extends JobMessageBase {
  messageType: 'JobStarted';
  runnerId: number;
  runnerName: string;
}

/** The job ended; `result` is `succeeded`, `failed`, `canceled`, … */
export interface JobCompleted extends JobMessageBase {
  messageType: 'JobCompleted';
  result: string;
  runnerId: number;
  runnerName: string;
}

/** `RunnerScaleSetStatistic`: the level the desired runner count is computed from. */
export interface ScaleSetStatistics {
  totalAvailableJobs: number;
  totalAcquiredJobs: number;
  totalAssignedJobs: number;
  totalRunningJobs: number;
  totalRegisteredRunners: number;
  totalBusyRunners: number;
  totalIdleRunners: number;
}

/** `Label`. */
export interface ScaleSetLabel {
  type: string;
  name: string;
}

/** `RunnerScaleSet`. */
export interface RunnerScaleSet {
  id: number;
  name: string;
  runnerGroupId: number;
  runnerGroupName: string;
  labels: ScaleSetLabel[];
  RunnerSetting: { disableUpdate?: boolean };
  createdOn: string;
  runnerJitConfigUrl: string;
  statistics: ScaleSetStatistics | null;
}

/** What {@link ScaleSetClient.createScaleSet} takes. */
export interface ScaleSetSpec {
  name: string;
  runnerGroupId: number;
  /** Several labels per set; the service types them `System`. */
  labels: string[];
  disableUpdate?: boolean;
}

/** `RunnerGroup`. */
export interface ScaleSetRunnerGroup {
  id: number;
  name: string;
  size: number;
  isDefaultGroup: boolean;
}

/** `RunnerScaleSetSession`. The queue token is a secret. */
export interface RunnerScaleSetSession {
  sessionId: string;
  ownerName: string;
  runnerScaleSet: RunnerScaleSet | null;
  messageQueueUrl: string;
  messageQueueAccessToken: string;
  statistics: ScaleSetStatistics | null;
}

/** `RunnerScaleSetMessage`: one queue message, its job messages sorted by kind. */
export interface RunnerScaleSetMessage {
  messageId: number;
  statistics: ScaleSetStatistics | null;
  jobAvailable: JobAvailable[];
  jobAssigned: JobAssigned[];
  jobStarted: JobStarted[];
  jobCompleted: JobCompleted[];
}

/** `RunnerReference`. */
export interface RunnerReference {
  id: number;
  name: string;
  runnerScaleSetId: number;
}

/** Actions-service calls made so far, by templated endpoint (`POST /_apis/runtime/runnerscalesets/{id}/sessions`). */
export interface ScaleSetCallStats {
  total: number;
  byEndpoint: Record<string, number>;
}
