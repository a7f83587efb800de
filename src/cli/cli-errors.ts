import { CommanderError } from 'commander';
import { isJitpoolError, redact, type ErrorCode } from '../core/index.ts';

/**
 * How every `jitpool` command reports a failure: one line on stderr,
 * `jitpool: CODE: message — fix`, the same for the same error in every command, and an exit
 * status from one table (docs/cli-errors.md). A stack trace only with `--debug` (or
 * `JITPOOL_DEBUG=1`). Under `--json` the same facts go to stdout as one JSON object.
 */

/** The exit statuses of `jitpool` (documented in docs/cli-errors.md). */
export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** The command ran and found problems (an invalid config in `config check`, a lost job in `demo`, …). */
  PROBLEMS: 1,
  /** An error stopped the command: bad input or config, a missing secret, GitHub or a provider refused. */
  ERROR: 2,
  /** A bug in jitpool: an error it did not expect (run again with --debug and report the trace). */
  INTERNAL: 70,
  /** The store is damaged (EX_CONFIG): a restart cannot fix it, so the systemd unit does not restart on it. */
  STORE_CORRUPT: 78,
} as const;

/** Codes whose exit status is not {@link EXIT.ERROR}. */
const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = { JP_STORE_CORRUPT: EXIT.STORE_CORRUPT, JP_INTERNAL: EXIT.INTERNAL };

/** The fix printed when an error does not carry its own and its message does not already say. */
const DEFAULT_FIX: Partial<Record<ErrorCode, string>> = {
  JP_INTERNAL: 'this is a bug in jitpool: run the command again with --debug and report the stack trace',
  JP_STORE_CORRUPT: 'run `jitpool store rebuild -c FILE` (the damaged file is kept beside the new one)',
};

/** A failure reduced to what the operator reads: code, message, fix. */
export interface CliFailure {
  code: ErrorCode;
  message: string;
  fix?: string;
  exitCode: number;
}

/** True when stack traces were asked for: `--debug` on the command line or `JITPOOL_DEBUG=1`. */
export function isDebug(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--debug') || env.JITPOOL_DEBUG === '1';
}

/** The code, message, fix and exit status of any thrown value. */
export function describeFailure(err: unknown, commandName?: string): CliFailure {
  if (isJitpoolError(err)) {
    const fix = err.fix ?? DEFAULT_FIX[err.code];
    return { code: err.code, message: redact(err.message), fix: fix === undefined ? undefined : redact(fix), exitCode: EXIT_BY_CODE[err.code] ?? EXIT.ERROR };
  }
  if (err instanceof CommanderError) {
    // Commander's own usage errors ("unknown option", "missing required argument", a bad option value).
    const message = err.message.replace(/^error: /, '');
    const help = commandName ? `jitpool ${commandName} --help` : 'jitpool --help';
    return { code: 'JP_INPUT_INVALID', message, fix: `see \`${help}\``, exitCode: EXIT.ERROR };
  }
  const message = redact(err instanceof Error ? err.message : String(err));
  return { code: 'JP_INTERNAL', message, fix: DEFAULT_FIX.JP_INTERNAL, exitCode: EXIT.INTERNAL };
}

/**
 * The one line: `jitpool: CODE: message — fix`. A multi-line message (a config's problem list)
 * keeps its first line on the error line and the rest below it; the fix is left out when the
 * message already gives one.
 */
export function formatFailure(failure: CliFailure): string {
  const [head = '', ...rest] = failure.message.split('\n');
  const hasFix = failure.fix !== undefined && !/\bFix:/.test(failure.message);
  const line = `jitpool: ${failure.code}: ${head}${hasFix ? ` — ${failure.fix}` : ''}`;
  return [line, ...rest].join('\n');
}

/** Where {@link reportFailure} writes; the process streams by default. */
export interface FailureOutput {
  json?: boolean;
  debug?: boolean;
  commandName?: string;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

/**
 * Prints a failure the one way (a line on stderr, or one JSON object on stdout with `--json`)
 * and returns its exit status. The JSON carries `code` and `message` at the top (the shape of
 * the store and pool commands) and under `error` (the shape of the GitHub and App commands).
 */
export function reportFailure(err: unknown, output: FailureOutput = {}): number {
  const failure = describeFailure(err, output.commandName);
  const stdout = output.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = output.stderr ?? ((text: string) => process.stderr.write(text));
  if (output.json) {
    const body = { code: failure.code, message: failure.message, ...(failure.fix === undefined ? {} : { fix: failure.fix }) };
    stdout(`${JSON.stringify({ ok: false, ...body, error: body })}\n`);
  } else {
    stderr(`${formatFailure(failure)}\n`);
  }
  if (output.debug ?? isDebug()) stderr(`${redact(stackOf(err))}\n`);
  return failure.exitCode;
}

function stackOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let text = err.stack ?? err.message;
  let cause = err.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth += 1) {
    text += `\ncaused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}
