import pino from 'pino';
import { Option } from 'commander';
import { loadConfig } from '../config/index.ts';
import { createLogger, describeError, isJitpoolError, type Logger } from '../core/index.ts';
import { startRuntime, type Runtime } from './runtime.ts';

/** `-c FILE`, defaulting to $JITPOOL_CONFIG, then `jitpool.yaml`. */
export function configOption(): Option {
  return new Option('-c, --config <file>', 'configuration file').env('JITPOOL_CONFIG').default('jitpool.yaml');
}

/** A logger for one-shot commands: stderr (stdout is for results), pretty on a terminal. */
export function commandLogger(level = 'warn'): Logger {
  return createLogger({ level, pretty: process.stderr.isTTY === true, prettyFd: 2, destination: pino.destination({ fd: 2, sync: true }) });
}

/** Store, GitHub client, providers and controller from a config file, without server or loop. */
export async function openCommandRuntime(configFile: string, logLevel = 'warn'): Promise<Runtime> {
  const config = loadConfig(configFile);
  return startRuntime({ config, logger: commandLogger(logLevel), noServer: true, noLoop: true, configFile });
}

/**
 * Runs a command's body: its result is the exit status; a JitpoolError is printed as
 * `error: CODE: message` (or `{"ok":false,"code","message"}` with `--json`) and exits 2.
 */
export async function runCommand(asJson: boolean, body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    const code = isJitpoolError(err) ? err.code : 'JP_INTERNAL';
    if (asJson) process.stdout.write(`${JSON.stringify({ ok: false, code, message: describeError(err) })}\n`);
    else process.stderr.write(`error: ${describeError(err)}\n`);
    process.exitCode = 2;
  }
}

/** Parses a non-negative integer option value, naming the flag when it is not one. */
export function nonNegativeInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new Error(`${flag} must be a whole number >= 0, got ${JSON.stringify(value)}`);
    return n;
  };
}
