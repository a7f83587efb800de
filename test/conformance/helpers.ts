import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Octokit } from '@octokit/rest';
import { silentLogger } from '../../src/core/index.ts';
import { createGitHubClient, staticToken, type GitHubApi } from '../../src/github/index.ts';
import { runFakeRunner, startSimulator, type SimExchange, type Simulator, type SimulatorOptions } from '../../src/sim/index.ts';

/** A simulator whose every REST exchange is recorded, the real jitpool client and a raw octokit pointed at it. */
export interface RecordedSim {
  sim: Simulator;
  exchanges: SimExchange[];
  client: GitHubApi;
  octokit: Octokit;
}

export const TOKEN = 'ghp_conformance_token';

/** Starts a recording simulator (closed after the test) with jitpool's client (no retries: tests want raw answers). */
export async function startRecordedSim(t: TestContext, options: SimulatorOptions = {}): Promise<RecordedSim> {
  const exchanges: SimExchange[] = [];
  const sim = await startSimulator({ ...options, onExchange: (exchange) => exchanges.push(exchange) });
  t.after(() => sim.close());
  const client = createGitHubClient({ baseUrl: sim.url, tokens: staticToken(TOKEN), logger: silentLogger(), retries: 0, retryBaseMs: 1 });
  const octokit = new Octokit({ baseUrl: sim.url, auth: TOKEN, log: { debug() {}, info() {}, warn() {}, error() {} } });
  return { sim, exchanges, client, octokit };
}

/** Runs a fake runner in-process for `encodedJitConfig` in a temp dir; the promise resolves to its exit code. */
export async function runRunner(t: TestContext, encodedJitConfig: string): Promise<{ exitCode: Promise<number>; stop: () => void }> {
  const workDir = await mkdtemp(join(tmpdir(), 'jp-conformance-'));
  const stop = new AbortController();
  const exitCode = runFakeRunner({ jitConfig: encodedJitConfig, workDir, signal: stop.signal, print: () => {}, printError: () => {}, retryDelayMs: 100 });
  t.after(async () => {
    stop.abort();
    await exitCode.catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  });
  return { exitCode, stop: () => stop.abort() };
}

/** The status of a rejected call (0 when it resolved). */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 0;
  } catch (err) {
    const status = (err as { status?: unknown; details?: { status?: unknown } }).status ?? (err as { details?: { status?: unknown } }).details?.status;
    if (typeof status === 'number') return status;
    throw err;
  }
}
