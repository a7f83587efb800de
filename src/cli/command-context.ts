import pino from 'pino';
import { loadConfig } from '../config/index.ts';
import { InvalidArgumentError, Option } from 'commander';
import { createLogger, type Logger } from '../core/index.ts';
import { reportFailure } from './cli-errors.ts';
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
 * Runs a command's body: its result is the exit status; a thrown error is printed the one way
 * (`jitpool: CODE: message — fix`, or `{"ok":false,"code","message"}` with `--json`) with the
 * exit status of its code (see cli-errors.ts).
 */
export async function runCommand(asJson: boolean, body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    process.exitCode = reportFailure(err, { json: asJson });
  }
}

/** Parses a non-negative integer option value, naming the flag when it is not one. */
export function nonNegativeInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${flag} must be a whole number >= 0, got ${JSON.stringify(value)}`);
    return n;
  };
}
