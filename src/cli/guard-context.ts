import pino from 'pino';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../config/index.ts';
import { createLogger, isSafeOwner, isSafeRepo, JitpoolError } from '../core/index.ts';
import { runActing, type Via } from './acting.ts';
import { reportFailure } from './cli-errors.ts';
import { startRuntime, type Runtime } from './runtime.ts';

/** Options every guard-family command takes. */
export interface RepoCommandOptions {
  config: string;
  owner?: string;
  repo?: string;
  json?: boolean;
  dryRun?: boolean;
}

/** Adds `-c/--config`, `--owner`, `--repo` and `--json` to a command. */
export function withRepoOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'configuration file', process.env.JITPOOL_CONFIG ?? 'jitpool.yaml')
    .option('--owner <owner>', 'repository owner (default: the only entry of guard.repositories)', (v) => checked(v, isSafeOwner, '--owner'))
    .option('--repo <repo>', 'repository name (default: the only entry of guard.repositories)', (v) => checked(v, isSafeRepo, '--repo'))
    .option('--json', 'print one JSON object on stdout (logs go to stderr)');
}

function checked(value: string, test: (v: string) => boolean, flag: string): string {
  if (!test(value)) throw new InvalidArgumentError(`${flag}: not a valid GitHub name: ${JSON.stringify(value.slice(0, 60))}`);
  return value;
}

/** The repository a command acts on: the flags, or the single configured guard repository. */
export function targetRepository(config: Config, opts: RepoCommandOptions): { owner: string; repo: string } {
  if (opts.owner && opts.repo) return { owner: opts.owner, repo: opts.repo };
  if (!opts.owner && !opts.repo && config.guard.repositories.length === 1) return config.guard.repositories[0]!;
  throw new JitpoolError('JP_INPUT_INVALID', '--owner and --repo are required (or configure exactly one entry in guard.repositories)');
}

/** What an acting guard-family command is given: the repository and the flags. */
export interface RepoCommandInput {
  owner: string;
  repo: string;
  dryRun: boolean;
  force?: boolean;
}

/**
 * Runs an acting guard-family command (`recover`, `guard`, `guard restore`, `canary advance`)
 * under the one-writer rule: in the running daemon when there is one, else here with the lease.
 */
export async function withActingRuntime<R extends object>(
  opts: RepoCommandOptions & { force?: boolean },
  name: string,
  run: (runtime: Runtime, input: RepoCommandInput) => Promise<R>,
  options: { takeOverStaleLease?: boolean } = {},
): Promise<R & { via: Via }> {
  const target = targetRepository(loadConfig(opts.config), opts);
  const input: RepoCommandInput = { ...target, dryRun: Boolean(opts.dryRun), ...(opts.force === undefined ? {} : { force: opts.force }) };
  return runActing(opts.config, { name, input, run, logLevel: 'warn', force: options.takeOverStaleLease });
}

/** Starts a runtime without HTTP server and loop (store, GitHub client, controller, guard), runs `fn`, and stops it. Read-only: it takes no store lease. */
export async function withRuntime<T>(opts: RepoCommandOptions, fn: (runtime: Runtime, target: { owner: string; repo: string }) => Promise<T>): Promise<T> {
  const config = loadConfig(opts.config);
  const target = targetRepository(config, opts);
  const logger = createLogger({ level: opts.json ? 'warn' : config.log.level === 'info' ? 'warn' : config.log.level, destination: pino.destination({ fd: 2, sync: true }) });
  const runtime = await startRuntime({ config, logger, noServer: true, noLoop: true });
  try {
    return await fn(runtime, target);
  } finally {
    await runtime.stop(10_000);
  }
}

/** Prints `value` as JSON, or each line of `lines()` for humans. */
export function output(opts: { json?: boolean }, value: unknown, lines: () => string[]): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(value)}\n`);
  else for (const line of lines()) console.log(line);
}

/** Wraps a command action: a failure prints the one error line (see cli-errors.ts) and exits with its status. */
export function handled<A extends unknown[]>(action: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      process.exitCode = reportFailure(err);
    }
  };
}
