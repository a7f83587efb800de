import { loadConfig, resolveSecret, type Config } from '../config/index.ts';
import { ERROR_CODES, JitpoolError, describeError, isJitpoolError, type ErrorCode } from '../core/index.ts';
import { commandLogger } from './command-context.ts';
import { LeaseKeeper, Store } from '../store/index.ts';
import { sqlitePathOf, startRuntime, type Runtime } from './runtime.ts';

/** A CLI command that changes something: its name (as the admin API knows it), its input, and what it does given a runtime. */
export interface ActingCommand<I, R> {
  name: string;
  input: I;
  /** Runs the command on a runtime that holds the store lease: this process's, or the daemon's. */
  run(runtime: Runtime, input: I): Promise<R>;
  /** Take over a stale lease (`--force`); a live one is never taken. @default false */
  force?: boolean;
  /** @default 'warn' */
  logLevel?: string;
}

/** Where an acting command ran. */
export type Via = 'daemon' | 'local';

/**
 * Runs an acting command under the one-writer rule (issue 13). When no process holds the store
 * lease, this process takes it, runs the command and gives it back. When a live daemon holds it,
 * the command is handed to the daemon's admin API (`POST /api/v1/commands/NAME`) and runs inside
 * the daemon, beside its own reconciles, never beside them in a second process. Anything else
 * (a daemon without an admin API, one that does not answer, a stale lease without `--force`)
 * fails with `JP_LEASE_HELD` naming the holder.
 */
export async function runActing<I, R extends object>(configFile: string, command: ActingCommand<I, R>): Promise<R & { via: Via }> {
  const config = loadConfig(configFile);
  let runtime: Runtime;
  try {
    runtime = await startRuntime({
      config, logger: commandLogger(command.logLevel), noServer: true, noLoop: true,
      lease: { holder: `jitpool ${command.name}`, takeOverStale: command.force ?? false },
    });
  } catch (err) {
    return { ...((await handToDaemon(config, command.name, command.input, err)) as R), via: 'daemon' };
  }
  try {
    return { ...(await command.run(runtime, command.input)), via: 'local' };
  } finally {
    await runtime.stop(30_000);
  }
}

/**
 * {@link runActing} for a command that only writes the store (`pool scale`): no GitHub client or
 * providers are needed to run it here, but it obeys the same lease.
 */
export async function runActingOnStore<I, R extends object>(
  configFile: string,
  command: { name: string; input: I; run(scope: { config: Config; store: Store }, input: I): R },
): Promise<R & { via: Via }> {
  const config = loadConfig(configFile);
  const store = Store.open(sqlitePathOf(config));
  let lease: LeaseKeeper;
  try {
    lease = LeaseKeeper.acquire({ store, holder: `jitpool ${command.name}`, takeOverStale: false, ttlMs: config.controller.leaseTtlSeconds * 1000, logger: commandLogger(), clock: { now: () => Date.now() } });
  } catch (err) {
    store.close();
    return { ...((await handToDaemon(config, command.name, command.input, err)) as R), via: 'daemon' };
  }
  try {
    return { ...command.run({ config, store }, command.input), via: 'local' };
  } finally {
    lease.release();
    store.close();
  }
}

/** A live daemon holds the store: the command runs in it. Anything else that failed is rethrown. */
function handToDaemon(config: Config, name: string, input: unknown, err: unknown): Promise<unknown> {
  if (!isJitpoolError(err, 'JP_LEASE_HELD') || err.details.liveness !== 'live' || typeof err.details.adminUrl !== 'string') throw err;
  return callDaemon(config, err.details.adminUrl, name, input, err);
}

async function callDaemon(config: Config, adminUrl: string, name: string, input: unknown, held: JitpoolError): Promise<unknown> {
  const token = resolveSecret(config.api.auth.token, 'admin API token (api.auth.token) to reach the running daemon', process.env);
  let response: Response;
  try {
    response = await fetch(`${adminUrl}/api/v1/commands/${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(input ?? {}),
      signal: AbortSignal.timeout(10 * 60_000),
    });
  } catch (err) {
    throw new JitpoolError('JP_LEASE_HELD', `${held.message}; its admin API did not answer (${describeError(err)})`, { details: held.details });
  }
  const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string; details?: Record<string, unknown> };
  if (!response.ok) {
    const code: ErrorCode = typeof body.code === 'string' && body.code in ERROR_CODES ? (body.code as ErrorCode) : 'JP_COMMAND_FAILED';
    throw new JitpoolError(code, `the running daemon refused ${name}: ${body.message ?? `HTTP ${response.status}`}`, { details: body.details });
  }
  return body;
}
