import { spawn, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { JitpoolError } from '../core/index.ts';
import { interpretRunnerExit, runnerEnvironment, type RunnerExitMeaning } from './contract.ts';

/** The command line that starts a runner root's listener (the JIT config goes through the environment). */
export function listenerCommand(root: string): [string, string] {
  return [join(root, 'bin', 'Runner.Listener'), 'run'];
}

/** Options of {@link runListener}. */
export interface RunListenerOptions {
  root: string;
  /** The runner's name (`RUNNER_NAME`). */
  runnerName: string;
  /** The encoded JIT config (secret); omitted for a root configured with `config.sh`. */
  jitConfig?: string;
  /** Environment given to the runner (the caller's is not inherited unless passed). */
  env: Record<string, string>;
  /** Let the runner update itself. @default false */
  allowUpdate?: boolean;
  stdio?: StdioOptions;
  /** Aborting sends SIGTERM (the runner then exits 1 after cancelling its job). */
  signal?: AbortSignal;
}

/** Runs `bin/Runner.Listener run` in the foreground and resolves with its exit code and meaning. */
export async function runListener(options: RunListenerOptions): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; meaning: RunnerExitMeaning }> {
  const [command, ...args] = listenerCommand(options.root);
  const env = runnerEnvironment({ runnerName: options.runnerName, jitConfig: options.jitConfig, extra: options.env, allowUpdate: options.allowUpdate });
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
