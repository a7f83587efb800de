/**
 * The GitHub simulator and fake runner: the fake GitHub that tests, `jitpool demo` and the
 * benchmarks run against. Never imported by production code paths (only injected).
 */
export { startSimulator } from './simulator.ts';
export { generateWorkload, mulberry32 } from './workload.ts';
export type { WorkloadJob, WorkloadOptions } from './workload.ts';
export { runFakeRunner, jitConfigFromInputs, RUNNER_EXIT_CODES, FAKE_RUNNER_VERSION, FAKE_RUNNER_SCRIPT } from './fake-runner.ts';
export type { FakeRunnerOptions } from './fake-runner.ts';
export { decodeJitConfig, encodeJitConfig } from './jit-config.ts';
export type { CredentialsFile, DecodedJitConfig, RunnerFile } from './jit-config.ts';
export type {
  QueueJobSpec,
  RunnerChange,
  SimJob,
  SimJobConclusion,
  SimJobStatus,
  SimRunContext,
  SimRunner,
  SimScope,
  SimStats,
  Simulator,
  SimulatorOptions,
  WebhookTarget,
} from './types.ts';
