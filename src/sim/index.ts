/**
 * The GitHub simulator and fake runner: the fake GitHub that tests, `jitpool demo` and the
 * benchmarks run against. Never imported by production code paths (only injected).
 */
export { startSimulator } from './simulator.ts';
export { generateWorkload, mulberry32 } from './workload.ts';
export type { WorkloadJob, WorkloadOptions } from './workload.ts';
export { runFakeRunner, jitConfigFromInputs, RUNNER_EXIT_CODES, FAKE_RUNNER_VERSION, FAKE_RUNNER_SCRIPT } from './fake-runner.ts';
export type { FakeRunnerOptions } from './fake-runner.ts';
export { jwtProblem } from './app-routes.ts';
export { decodeJitConfig, encodeJitConfig } from './jit-config.ts';
export type { CredentialsFile, DecodedJitConfig, RunnerFile } from './jit-config.ts';
export { parseFaultSpec, validateFaultSpec } from './fault-spec.ts';
export type { ApiFaults, FaultSpec, RunnerFaults, WebhookFaults } from './fault-spec.ts';
export type { FaultCounts } from './fault-injector.ts';
export type { RunnerGroupSpec, SimRunnerGroup } from './runner-groups.ts';
export { runnerNamePrefix } from './runner-tally.ts';
export type { ScaleSetStatistics, ScaleSetTimings } from './scale-sets.ts';
export type {
  QueueJobSpec,
  SimExchange,
  RunnerChange,
  SimJob,
  SimJobConclusion,
  SimJobStatus,
  SimAppOptions,
  SimRunContext,
  SimRunner,
  SimScaleSet,
  SimScope,
  SimStats,
  Simulator,
  SimulatorOptions,
  WebhookTarget,
} from './types.ts';
export { FAKE_RUNNER_IMAGE, BUILD_TEST_IMAGE_SCRIPT, probeDocker, ensureFakeRunnerImage } from './fake-runner-image.ts';
export type { DockerProbe } from './fake-runner-image.ts';
