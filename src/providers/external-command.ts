import { spawn } from 'node:child_process';
import { JitpoolError, redactOutput, sleep } from '../core/index.ts';
import type { GarmCommand } from './external-protocol.ts';

/**
 * Runs the operator's provider executable once, the way garm does (no arguments, the operation
 * in the environment, optional stdin), but with a hard deadline that holds even for a script
 * whose children keep its pipes open: the command runs in its own process group, and at the
 * deadline the whole group gets SIGTERM, then SIGKILL after a grace period. Output is bounded,
 * and stderr is redacted before it can reach an error message or a log.
 */

/** What one run needs. */
export interface CommandRun {
  executable: string;
  command: GarmCommand;
  /** The complete environment (the controller's own is never inherited: it holds tokens). */
  env: Record<string, string>;
  /** JSON for stdin (CreateInstance); the instance token in it is a secret, never argv. */
  stdin?: string;
  timeoutMs: number;
  killGraceMs: number;
  /** Stdout beyond this fails the run (a provider printing junk forever). @default 4 MiB */
  maxStdoutBytes?: number;
}

/** How a run ended. */
export interface CommandResult {
  exitCode: number;
  stdout: string;
  /** The last few KiB of stderr, redacted. */
  stderrTail: string;
  durationMs: number;
}

const STDERR_TAIL_BYTES = 4096;

/** Runs the command; resolves with its exit code (any), rejects on timeout, oversized output or a failed spawn. */
export async function runProviderCommand(run: CommandRun): Promise<CommandResult> {
  const startedMs = Date.now();
  const maxStdout = run.maxStdoutBytes ?? 4 * 1024 * 1024;
  const child = spawn(run.executable, [], { env: run.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  let stdoutBytes = 0;
  let stderr = Buffer.alloc(0);
  let failure: JitpoolError | null = null;
  const killGroup = async (reason: JitpoolError) => {
    if (failure) return;
    failure = reason;
    signalGroup(child.pid, 'SIGTERM');
    const deadline = Date.now() + run.killGraceMs;
    while (isGroupAlive(child.pid) && Date.now() < deadline) await sleep(25);
    signalGroup(child.pid, 'SIGKILL');
    // A process that left our group (setsid) but kept our pipes would hold 'close' forever.
    await sleep(200);
    child.stdout.destroy();
    child.stderr.destroy();
  };

  child.stdout.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    if (stdoutBytes > maxStdout) {
      void killGroup(new JitpoolError('JP_PROVIDER_UNAVAILABLE', `${run.command}: provider printed more than ${maxStdout} bytes`, { details: { command: run.command } }));
      return;
    }
    stdout.push(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = Buffer.concat([stderr, chunk]);
    if (stderr.length > STDERR_TAIL_BYTES * 2) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
  });
  // A provider that exits without reading stdin closes the pipe: that is its right, not an error.
  child.stdin.on('error', () => {});
  child.stdin.end(run.stdin ?? '');

  const timer = setTimeout(() => {
    void killGroup(new JitpoolError('JP_PROVIDER_TIMEOUT', `${run.command}: provider ${run.executable} did not finish within ${Math.round(run.timeoutMs / 1000)} s (its process group was killed)`, { details: { command: run.command, timeoutMs: run.timeoutMs } }));
  }, run.timeoutMs);

  try {
    // 'close' waits for the pipes too: a script must detach what it leaves running (setsid, output
    // redirected), or the deadline kills its group.
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new JitpoolError('JP_PROVIDER_UNAVAILABLE', `${run.command}: cannot run ${run.executable}: ${err.message}`, { retryable: false, cause: err })));
      child.once('close', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
    });
    if (failure) throw failure;
    return { exitCode, stdout: Buffer.concat(stdout).toString('utf8'), stderrTail: tail(stderr), durationMs: Date.now() - startedMs };
  } finally {
    clearTimeout(timer);
  }
}

function tail(buffer: Buffer): string {
  const text = buffer.subarray(Math.max(0, buffer.length - STDERR_TAIL_BYTES)).toString('utf8');
  return redactOutput(text).trim();
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

function isGroupAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
