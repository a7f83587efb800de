import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Octokit } from '@octokit/rest';
import { FAKE_RUNNER_SCRIPT } from './fake-runner.ts';
import type { Simulator } from './types.ts';

/** Helpers shared by the simulator's tests (not part of the public surface). */

/** A webhook delivery as a receiver saw it. */
export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  body: string;
  payload: { action: string; workflow_job: { id: number; status: string; conclusion: string | null; runner_name: string | null } };
}

/** A local webhook receiver on loopback that records every delivery and answers 200. */
export async function startWebhookReceiver(): Promise<{ url: string; deliveries: ReceivedDelivery[]; close: () => Promise<void> }> {
  const deliveries: ReceivedDelivery[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      deliveries.push({ headers: request.headers, body, payload: JSON.parse(body) as ReceivedDelivery['payload'] });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An Octokit pointed at the simulator, without retries or throttling (tests want raw answers). */
export function simOctokit(sim: Simulator, token = 'ghp_test_token'): Octokit {
  return new Octokit({ baseUrl: sim.url, auth: token, log: { debug() {}, info() {}, warn() {}, error() {} } });
}

/** Creates a JIT runner at org scope and returns its id and encoded config. */
export async function createJitRunner(
  octokit: Octokit,
  org: string,
  name: string,
  labels: string[],
): Promise<{ id: number; encodedJitConfig: string }> {
  const { data } = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org, name, runner_group_id: 1, labels });
  return { id: data.runner.id, encodedJitConfig: data.encoded_jit_config };
}

/** A fake runner child process and its collected output. */
export interface RunnerProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exitCode: Promise<number | null>;
}

/** Spawns the fake runner script with the JIT config in `ACTIONS_RUNNER_INPUT_JITCONFIG`, like a provider would. */
export function spawnFakeRunner(encodedJitConfig: string, cwd: string): RunnerProcess {
  const child = spawn(process.execPath, [FAKE_RUNNER_SCRIPT], {
    cwd,
    env: { ...process.env, ACTIONS_RUNNER_INPUT_JITCONFIG: encodedJitConfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exitCode };
}

/** Kills a child if it is still running (test cleanup). */
export function killIfRunning(runner: RunnerProcess): void {
  if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill('SIGKILL');
}
