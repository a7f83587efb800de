import pino, { type Logger, type DestinationStream } from 'pino';
import { REDACTED_FIELDS, redact } from './redact.ts';

export type { Logger } from 'pino';

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** @default 'info' */
  level?: string;
  /** Where lines go. @default stdout (stderr for CLI commands that print JSON on stdout) */
  destination?: DestinationStream;
}

/**
 * The structured logger: one JSON event per line, a `component` field on child loggers, and
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
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything (tests, `--json` commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
