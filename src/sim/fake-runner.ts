import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Direct file imports (not ../core/index.ts, which pulls in pino): this script also runs standalone
// inside the Docker test image, which holds only its import closure (scripts/build-test-image.sh).
import { sleep } from '../core/clock.ts';
import { decodeJitConfig, type DecodedJitConfig } from './jit-config.ts';
import type { AcquiredJob } from './runner-protocol-routes.ts';

/**
 * A stand-in for the GitHub Actions runner that obeys its launch contract: a JIT config from
 * `ACTIONS_RUNNER_INPUT_JITCONFIG` or `--jitconfig <base64>` (as `run.sh` / `Runner.Listener run`),
 * the three config files written into its directory, one job, then exit — with the real
 * runner's exit codes (0 done, 1 terminated, 2 retryable). It talks to the simulator's
 * `/_sim/` protocol, so a provider cannot tell it from the real runner.
 *
 * Run it: `node src/sim/fake-runner.ts --jitconfig <base64>`.
 */

/** Exit codes of `Runner.Listener run`. */
export const RUNNER_EXIT_CODES = { success: 0, terminated: 1, retryableError: 2, crashed: 137 } as const;

/** Absolute path of this script, to launch the fake runner as a child process (`process.execPath` + this). */
export const FAKE_RUNNER_SCRIPT = fileURLToPath(import.meta.url);

/** The runner version the fake one claims to be. */
export const FAKE_RUNNER_VERSION = '2.330.0';

/** Options of {@link runFakeRunner}. */
export interface FakeRunnerOptions {
  /** The base64 JIT config. */
  jitConfig: string;
  /** Where `.runner`, `.credentials`, `.credentials_rsaparams` are written. @default process.cwd() */
  workDir?: string;
  /** Aborting it terminates the runner (exit code 1), like SIGTERM. */
  signal?: AbortSignal;
  /** Receives stdout lines. @default console.log */
  print?: (line: string) => void;
  /** Receives stderr lines. @default console.error */
  printError?: (line: string) => void;
  /** Attempts to reach the server before giving up with exit code 2. @default 5 */
  connectAttempts?: number;
  /** Pause between those attempts. @default 1000 */
  retryDelayMs?: number;
}

/** The JIT config given on the command line (`--jitconfig X`, `--jitconfig=X`) or in the environment. */
export function jitConfigFromInputs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--jitconfig') return argv[i + 1] ?? null;
    if (arg.startsWith('--jitconfig=')) return arg.slice('--jitconfig='.length);
  }
  const fromEnv = env.ACTIONS_RUNNER_INPUT_JITCONFIG;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : null;
}

/** `2026-01-01 12:00:00Z`, the real runner's timestamp format. */
function timestamp(): string {
  return new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

type Outcome = { kind: 'response'; status: number; body: unknown } | { kind: 'unreachable'; error: string } | { kind: 'aborted' };

/** Runs the fake runner to completion and returns its exit code. */
export async function runFakeRunner(options: FakeRunnerOptions): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  const printError = options.printError ?? ((line: string) => console.error(line));
  const signal = options.signal ?? new AbortController().signal;
  const attempts = options.connectAttempts ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 1000;

  let config: DecodedJitConfig;
  try {
    config = decodeJitConfig(options.jitConfig);
  } catch {
    printError('An error occurred: the JIT config is not valid.');
    return RUNNER_EXIT_CODES.terminated;
  }
  const workDir = options.workDir ?? process.cwd();
  await mkdir(workDir, { recursive: true });
  for (const [file, content] of Object.entries(config.files)) {
    await writeFile(join(workDir, file), content, { mode: 0o600 });
  }

  const agentUrl = `${config.runner.serverUrl}runners/${config.runner.agentId}`;
  const call = async (path: string, body: unknown, timeoutMs: number): Promise<Outcome> => {
    if (signal.aborted) return { kind: 'aborted' };
    try {
      const response = await fetch(`${agentUrl}/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${config.credentials.data.clientId}`, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      const text = await response.text();
      return { kind: 'response', status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
    } catch (err) {
      if (signal.aborted) return { kind: 'aborted' };
      return { kind: 'unreachable', error: err instanceof Error ? err.message : String(err) };
    }
  };
  /** Retries transport errors and 5xx; anything else is returned. */
  const callWithRetry = async (path: string, body: unknown, timeoutMs: number): Promise<Outcome> => {
    let outcome: Outcome = { kind: 'unreachable', error: 'not attempted' };
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(retryDelayMs, signal);
      outcome = await call(path, body, timeoutMs);
      if (outcome.kind === 'aborted' || (outcome.kind === 'response' && outcome.status < 500)) return outcome;
      printError(`${timestamp()}: ${path} failed (${outcome.kind === 'unreachable' ? outcome.error : `HTTP ${outcome.status}`}), retrying`);
    }
    return outcome;
  };
  const deleted = (): number => {
    printError('Runner registration has been deleted from the server, please re-configure. Runner registrations are automatically deleted for runners that have not connected to the service recently.');
    return RUNNER_EXIT_CODES.terminated;
  };
  const terminated = (): number => {
    print(`${timestamp()}: Runner listener exit because of cancellation (terminated).`);
    return RUNNER_EXIT_CODES.terminated;
  };

  const online = await callWithRetry('online', {}, 15_000);
  if (online.kind === 'aborted') return terminated();
  if (online.kind === 'unreachable' || online.status >= 500) {
    printError(`Failed to connect to ${config.runner.serverUrl}: giving up for now (retryable).`);
    return RUNNER_EXIT_CODES.retryableError;
  }
  if (online.status !== 200) return deleted();
  const session = (online.body ?? {}) as { heartbeatIntervalMs?: number; acquirePollMs?: number };
  const heartbeatIntervalMs = session.heartbeatIntervalMs ?? 2500;
  const pollTimeoutMs = (session.acquirePollMs ?? 25_000) + 15_000;
  print('');
  print('√ Connected to GitHub');
  print('');
  print(`Current runner version: '${FAKE_RUNNER_VERSION}'`);
  print(`${timestamp()}: Listening for Jobs`);

  for (;;) {
    const polled = await callWithRetry('acquire', {}, pollTimeoutMs);
    if (polled.kind === 'aborted') return terminated();
    if (polled.kind === 'unreachable' || polled.status >= 500) {
      printError(`Lost the connection to ${config.runner.serverUrl} (retryable).`);
      return RUNNER_EXIT_CODES.retryableError;
    }
    if (polled.status === 204) continue;
    if (polled.status !== 200) return deleted();
    const { job } = polled.body as { job: AcquiredJob };
    print(`${timestamp()}: Running job: ${job.name}`);
    return runJob(job, { call, print, printError, signal, heartbeatIntervalMs, terminated });
  }
}

interface JobContext {
  call: (path: string, body: unknown, timeoutMs: number) => Promise<Outcome>;
  print: (line: string) => void;
  printError: (line: string) => void;
  signal: AbortSignal;
  heartbeatIntervalMs: number;
  terminated: () => number;
}

const RESULT_WORDS = { success: 'Succeeded', failure: 'Failed', cancelled: 'Canceled' } as const;

/** Works on the job for its duration, heartbeating, then reports it and returns the exit code. */
async function runJob(job: AcquiredJob, ctx: JobContext): Promise<number> {
  const startedMs = Date.now();
  const dieAtMs = job.dieMidJob ? startedMs + job.durationMs / 2 : Number.POSITIVE_INFINITY;
  let conclusion: keyof typeof RESULT_WORDS = job.conclusion;
  for (;;) {
    const nowMs = Date.now();
    const endMs = Math.min(startedMs + job.durationMs, dieAtMs);
    if (nowMs >= endMs) break;
    await sleep(Math.min(ctx.heartbeatIntervalMs, endMs - nowMs), ctx.signal);
    if (ctx.signal.aborted) return ctx.terminated();
    if (Date.now() >= dieAtMs) break;
    const beat = await ctx.call('heartbeat', {}, 10_000);
    if (beat.kind === 'response' && beat.status === 200 && (beat.body as { cancelRequested?: boolean } | undefined)?.cancelRequested) {
      conclusion = 'cancelled';
      break;
    }
  }
  if (Date.now() >= dieAtMs) {
    // Simulated crash: no completion, no more heartbeats; GitHub fails the job once it notices.
    ctx.printError(`${new Date().toISOString()}: simulated runner crash during job ${job.name}`);
    return RUNNER_EXIT_CODES.crashed;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0) await sleep(500 * attempt, ctx.signal);
    const done = await ctx.call('complete', { jobId: job.id, conclusion }, 10_000);
    if (done.kind === 'aborted') return ctx.terminated();
    if (done.kind === 'response' && done.status < 500) {
      ctx.print(`${timestamp()}: Job ${job.name} completed with result: ${RESULT_WORDS[conclusion]}`);
      return done.status === 200 ? RUNNER_EXIT_CODES.success : RUNNER_EXIT_CODES.terminated;
    }
  }
  ctx.printError(`Could not report the result of job ${job.name} (retryable).`);
  return RUNNER_EXIT_CODES.retryableError;
}

/** The command-line entry: SIGTERM/SIGINT terminate promptly with exit code 1. */
async function main(): Promise<void> {
  const jitConfig = jitConfigFromInputs(process.argv.slice(2), process.env);
  if (jitConfig === null) {
    console.error('usage: fake-runner.ts [run] --jitconfig <base64> (or ACTIONS_RUNNER_INPUT_JITCONFIG)');
    process.exit(RUNNER_EXIT_CODES.terminated);
  }
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  const code = await runFakeRunner({ jitConfig, signal: stop.signal });
  process.exit(code);
}

if (import.meta.main) await main();
