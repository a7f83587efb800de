import pino, { type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import { REDACTED_FIELDS, redact } from './redact.ts';

export type { Logger } from 'pino';

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** @default 'info' */
  level?: string;
  /** Where lines go. @default stdout (stderr for CLI commands that print JSON on stdout) */
  destination?: DestinationStream;
  /**
   * Human-readable, coloured lines (pino-pretty) instead of JSON: for a terminal. Written to
   * `prettyFd`. @default false
   */
  pretty?: boolean;
  /** File descriptor of the pretty output. @default 1 */
  prettyFd?: number;
  /** A stream for the pretty output instead of `prettyFd` (the demo clears its progress line before each log line). */
  prettyDestination?: NodeJS.WritableStream;
}

/**
 * The structured logger: one JSON event per line (pretty lines on a terminal), a `component` field on child loggers, and
 * secrets removed both by field name and by value (registered through `registerSecret`).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      redact: { paths: REDACTED_FIELDS, censor: '[REDACTED]' },
      hooks: {
        streamWrite: (line: string) => redact(line),
      },
    },
    options.pretty
      ? pretty({
          colorize: true,
          destination: (options.prettyDestination ?? options.prettyFd ?? 1) as number,
          sync: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'component',
          messageFormat: '{if component}[{component}] {end}{msg}',
        })
      : (options.destination ?? pino.destination({ fd: 1, sync: false })),
  );
}

/** A logger that drops everything (tests, `--json` commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
