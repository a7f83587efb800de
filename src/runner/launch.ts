import { spawn, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { JitpoolError } from '../core/index.ts';

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
  description: string;
}

/** Interprets the listener's exit code (or the signal that ended it). */
export function interpretRunnerExit(code: number | null, signal: NodeJS.Signals | null = null): RunnerExitMeaning {
  if (code === null) return { kind: 'signal', isRetryable: true, description: `killed by ${signal ?? 'a signal'}` };
  switch (code) {
    case RUNNER_EXIT.success:
      return { kind: 'done', isRetryable: false, description: 'ran its job (or was told to stop) and exited normally' };
    case RUNNER_EXIT.terminatedError:
      return { kind: 'terminated', isRetryable: false, description: 'terminated: bad configuration, a deleted registration, or a signal' };
    case RUNNER_EXIT.retryableError:
      return { kind: 'retryable', isRetryable: true, description: 'a retryable error (the service was unreachable)' };
    case RUNNER_EXIT.runnerUpdating:
    case RUNNER_EXIT.runOnceRunnerUpdating:
      return { kind: 'updating', isRetryable: true, description: 'the runner is updating itself; pin a current version and pass --disableupdate' };
    case RUNNER_EXIT.sessionConflict:
      return { kind: 'session-conflict', isRetryable: true, description: 'another session exists for this runner registration' };
    case RUNNER_EXIT.configurationRefreshed:
      return { kind: 'configuration-refreshed', isRetryable: true, description: 'the runner configuration was refreshed; start it again' };
    case RUNNER_EXIT.versionDeprecated:
      return { kind: 'version-deprecated', isRetryable: false, description: 'GitHub refuses this runner version: raise the pinned version' };
    default:
      return { kind: 'unknown', isRetryable: false, description: `exit code ${code}` };
  }
}

/** The command line that starts a runner root's listener (the JIT config goes through the environment). */
export function listenerCommand(root: string): [string, string] {
  return [join(root, 'bin', 'Runner.Listener'), 'run'];
}

/** The environment of the listener: the JIT config and the switch that makes a deprecated version exit 7. */
export function listenerEnv(jitConfig: string): Record<string, string> {
  return {
    // Read by the runner's CommandSettings like `--jitconfig`, but never visible in `ps`.
    ACTIONS_RUNNER_INPUT_JITCONFIG: jitConfig,
    ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE: '1',
  };
}

/** Options of {@link runListener}. */
export interface RunListenerOptions {
  root: string;
  /** The encoded JIT config (secret); omitted for a root configured with `config.sh`. */
  jitConfig?: string;
  /** Environment given to the runner (the caller's is not inherited unless passed). */
  env: Record<string, string>;
  stdio?: StdioOptions;
  /** Aborting sends SIGTERM (the runner then exits 1 after cancelling its job). */
  signal?: AbortSignal;
}

/** Runs `bin/Runner.Listener run` in the foreground and resolves with its exit code and meaning. */
export async function runListener(options: RunListenerOptions): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; meaning: RunnerExitMeaning }> {
  const [command, ...args] = listenerCommand(options.root);
  const env = { ...options.env, ...(options.jitConfig ? listenerEnv(options.jitConfig) : { ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE: '1' }) };
  const child = spawn(command, args, { cwd: options.root, env, stdio: options.stdio ?? 'inherit' });
  const onAbort = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await new Promise((resolve, reject) => {
      child.once('error', (err) => reject(new JitpoolError('JP_RUNNER_PACKAGE', `could not start ${command}: ${err.message}`)));
      child.once('exit', (exitCode, signal) => resolve({ exitCode, signal, meaning: interpretRunnerExit(exitCode, signal) }));
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}
