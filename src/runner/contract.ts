/**
 * The runner contract, written once: how every provider starts the actions runner (its
 * environment), how it says it is online, and what its exit code means. Providers, `runner once`
 * and the planner all read it from here, so the copies cannot drift.
 */

/** The real runner prints this once its session is open; the fake runner does too. */
export const RUNNER_ONLINE_MARKER = 'Listening for Jobs';

/**
 * Exit codes of `bin/Runner.Listener run` (actions/runner `Constants.Runner.ReturnCode`).
 * `run.sh` hides them; jitpool launches the listener directly to see them.
 */
export const RUNNER_EXIT = {
  success: 0,
  terminatedError: 1,
  retryableError: 2,
  runnerUpdating: 3,
  runOnceRunnerUpdating: 4,
  sessionConflict: 5,
  configurationRefreshed: 6,
  versionDeprecated: 7,
} as const;

/** What an exit code means for whoever launched the runner. */
export interface RunnerExitMeaning {
  kind: 'done' | 'terminated' | 'retryable' | 'updating' | 'session-conflict' | 'configuration-refreshed' | 'version-deprecated' | 'signal' | 'unknown';
  /** Whether launching a new runner for the same demand may succeed. */
  isRetryable: boolean;
  /**
   * Whether the exit says something is wrong with the pool's launches (counted towards its
   * backoff and `degraded`). A runner that exits to update itself, or because its configuration
   * was refreshed, is not a failed launch.
   */
  isLaunchFailure: boolean;
  description: string;
}

/** Interprets the listener's exit code (or the signal that ended it). */
export function interpretRunnerExit(code: number | null, signal: NodeJS.Signals | null = null): RunnerExitMeaning {
  if (code === null) return { kind: 'signal', isRetryable: true, isLaunchFailure: false, description: `killed by ${signal ?? 'a signal'}` };
  switch (code) {
    case RUNNER_EXIT.success:
      return { kind: 'done', isRetryable: false, isLaunchFailure: false, description: 'ran its job (or was told to stop) and exited normally' };
    case RUNNER_EXIT.terminatedError:
      return { kind: 'terminated', isRetryable: false, isLaunchFailure: true, description: 'terminated: bad configuration, a deleted registration, or a signal' };
    case RUNNER_EXIT.retryableError:
      return { kind: 'retryable', isRetryable: true, isLaunchFailure: true, description: 'a retryable error (the service was unreachable)' };
    case RUNNER_EXIT.runnerUpdating:
    case RUNNER_EXIT.runOnceRunnerUpdating:
      return { kind: 'updating', isRetryable: true, isLaunchFailure: false, description: 'the runner exited to update itself; pin a current runner version' };
    case RUNNER_EXIT.sessionConflict:
      return { kind: 'session-conflict', isRetryable: true, isLaunchFailure: true, description: 'another session exists for this runner registration' };
    case RUNNER_EXIT.configurationRefreshed:
      return { kind: 'configuration-refreshed', isRetryable: true, isLaunchFailure: false, description: 'the runner configuration was refreshed; start it again' };
    case RUNNER_EXIT.versionDeprecated:
      return { kind: 'version-deprecated', isRetryable: false, isLaunchFailure: true, description: 'GitHub refuses this runner version: raise the pinned version' };
    default:
      return { kind: 'unknown', isRetryable: false, isLaunchFailure: true, description: `exit code ${code}` };
  }
}

/** What {@link runnerEnvironment} needs. */
export interface RunnerEnvironmentInput {
  runnerName: string;
  /** The encoded JIT config (secret); omitted for a runner configured with `config.sh`. */
  jitConfig?: string;
  /** The operator's extra environment (already placeholder-filled); the contract's own keys win over it. */
  extra?: Readonly<Record<string, string>>;
  /** Let the runner update itself (only `runner once --allow-update`). @default false */
  allowUpdate?: boolean;
}

/**
 * The environment every provider gives the runner. The JIT config travels as
 * `ACTIONS_RUNNER_INPUT_JITCONFIG` (the runner reads every argument from
 * `ACTIONS_RUNNER_INPUT_<NAME>` and removes it from its environment before starting a job), never
 * argv. `ACTIONS_RUNNER_INPUT_DISABLEUPDATE` is the `--disableupdate` flag (jitpool pins the
 * version; an update mid-launch would exit 3/4), and
 * `ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE` makes a refused version exit 7 instead of
 * retrying forever.
 */
export function runnerEnvironment(input: RunnerEnvironmentInput): Record<string, string> {
  return {
    RUNNER_NAME: input.runnerName,
    ...input.extra,
    ...(input.jitConfig === undefined ? {} : { ACTIONS_RUNNER_INPUT_JITCONFIG: input.jitConfig }),
    ...(input.allowUpdate ? {} : { ACTIONS_RUNNER_INPUT_DISABLEUPDATE: 'true' }),
    ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE: '1',
  };
}
