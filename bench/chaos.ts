import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, openSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { configSchema } from '../src/config/index.ts';
import { median, round, silentLogger } from '../src/core/index.ts';
import { createProvider, type Provider } from '../src/providers/index.ts';
import { removeControllerResources } from '../src/providers/docker-test-helpers.ts';
import { EXAMPLE_EXTERNAL_SCRIPT, externalDemoConfigFile, writeExternalDemoConfig } from '../src/cli/demo-external.ts';
import { FAKE_RUNNER_IMAGE, FAKE_RUNNER_SCRIPT, ensureFakeRunnerImage, generateWorkload, mulberry32, probeDocker, startSimulator, type FaultSpec } from '../src/sim/index.ts';

/** Where the chaos run's runners run. */
export type ChaosProvider = 'process' | 'docker' | 'external';

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  kills: number;
  jobs: number;
  seed?: number;
  /** Pool max (compute alive at once must never exceed it). @default 6 */
  max?: number;
  /** @default 'process' */
  provider?: ChaosProvider;
  /** Latency added to every list endpoint of the simulated GitHub (runners, runs, run jobs, repos, workflows), in ms. @default 0 */
  listLatencyMs?: number;
  /** Where the controller's logs go (kept for inspection). */
  logFile?: string;
  /** `scale-set`: the pool is a runner scale set (no webhooks, no poller; GitHub assigns jobs to the set). @default 'webhook' */
  intake?: 'webhook' | 'scale-set';
}

/** The chaos report (`npm run chaos -- --json` prints it). */
export interface ChaosReport {
  provider: ChaosProvider;
  intake: 'webhook' | 'scale-set';
  kills: number;
  listLatencyMs: number;
  /** `failed`: completed with a failure, i.e. the runner died or was killed mid-job (the fake runner always succeeds). */
  jobs: { submitted: number; completed: number; succeeded: number; failed: number; lost: number };
  leaked: { compute: number; registrations: number };
  /** Most runner compute alive at once, counted from the provider's own list (not from registrations). */
  maxConcurrent: { seen: number; limit: number };
  /** Busy runners the simulator saw die (heartbeat lost mid-job) or deregistered while busy. */
  busyRunnersKilled: number;
  recoveryMs: { median: number; samples: number };
  /** REST calls the controller made, by endpoint (the budget a bad day costs). */
  apiCalls: { total: number; byEndpoint: Record<string, number> };
  /** Actions-service and broker calls (scale-set mode), by endpoint. */
  actionsServiceCalls: { total: number; byEndpoint: Record<string, number> };
}

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
/** The list endpoints a slow GitHub answers slowly (the reconcile must not wait for them). */
const LIST_ENDPOINTS = [
  'GET /orgs/{org}/actions/runners',
  'GET /repos/{owner}/{repo}/actions/runs',
  'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs',
  'GET /orgs/{org}/repos',
  'GET /repos/{owner}/{repo}/actions/workflows',
];

/** The simulator faults of a chaos run: latency on every list endpoint. */
export function listLatencyFaults(latencyMs: number): FaultSpec {
  return latencyMs > 0 ? { apiByEndpoint: Object.fromEntries(LIST_ENDPOINTS.map((endpoint) => [endpoint, { latencyMs }])) } : {};
}

/**
 * Runs a workload while the controller process is killed with SIGKILL at random moments and
 * restarted. Runners outlive the controller (as they would on a real host) and webhooks sent
 * while it is down are lost for good, so every job must be found again by the restarted
 * controller's reconcile and poller. The run watches the compute itself (the provider's list, from
 * this process) for `max`, and the simulator for jobs that failed because their runner died.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const random = mulberry32(options.seed ?? 42);
  const max = options.max ?? 6;
  const providerKind = options.provider ?? 'process';
  const listLatencyMs = options.listLatencyMs ?? 0;
  const stateDir = mkdtempSync(join(tmpdir(), 'jitpool-chaos-'));
  const controllerId = `chaos-${randomBytes(2).toString('hex')}`;
  const port = await freePort();
  const secret = randomBytes(16).toString('hex');
  const token = `ghp_${randomBytes(16).toString('hex')}`;
  const docker = providerKind === 'docker' ? await probeDocker() : null;
  if (docker && !docker.isReachable) throw new Error(`chaos --provider docker: ${docker.reason}`);
  if (docker) await ensureFakeRunnerImage();
  const simHost = docker?.isReachable ? docker.bridgeGateway : '127.0.0.1';
  const isScaleSet = options.intake === 'scale-set';
  // A session a killed controller opened but had not yet remembered expires after 20 s idle (GitHub: a few minutes).
  const sim = await startSimulator({
    host: simHost, offlineAfterMs: 4000, acquirePollMs: 2000, faults: listLatencyFaults(listLatencyMs), scaleSets: { sessionIdleMs: 20_000, messagePollMs: 5000 },
  });
  if (!isScaleSet) sim.setWebhookTarget({ url: `http://127.0.0.1:${port}/webhook`, secret });
  sim.setWorkflowFile('chaos', 'app', '.github/workflows/ci.yml', 'jobs:\n  a:\n    runs-on: [self-hosted, linux]\n');
  // external: the example garm-protocol script, its metadata listener on a fixed port across restarts (as an operator configures it).
  if (providerKind === 'external') writeExternalDemoConfig(stateDir, [process.execPath, FAKE_RUNNER_SCRIPT, 'run']);
  const providerConfig = providerKind === 'docker'
    ? { kind: 'docker', image: FAKE_RUNNER_IMAGE, pullPolicy: 'never', cpus: 1, memoryMb: 256, pidsLimit: 256, killGraceSeconds: 3, network: { subnetPool: '10.219.0.0/16', prefixLength: 28 } }
    : providerKind === 'external'
      ? { kind: 'external', command: EXAMPLE_EXTERNAL_SCRIPT, configFile: externalDemoConfigFile(stateDir), killGraceSeconds: 2, timeouts: { create: 30, delete: 30, query: 20 }, metadata: { port: await freePort() } }
      : { kind: 'process', command: [process.execPath, FAKE_RUNNER_SCRIPT], killGraceSeconds: 3 };
  const config = {
    controllerId,
    github: { apiUrl: sim.url, auth: { kind: 'pat', token: { env: ['CHAOS_TOKEN'] } } },
    webhook: { enabled: !isScaleSet, secret: { env: ['CHAOS_SECRET'] } },
    poll: { enabled: !isScaleSet, backstopIntervalSeconds: 2 },
    store: { stateDir },
    api: { host: '127.0.0.1', port, auth: { token: { env: ['CHAOS_API_TOKEN'] } } },
    controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 3, ghostMinAgeSeconds: 5 },
    log: { level: 'info' },
    pools: [{ name: 'chaos', scope: { kind: 'org', org: 'chaos' }, labels: ['self-hosted', 'linux'], max, idleGraceSeconds: 1, bootTimeoutSeconds: 30, provider: providerConfig, intake: { mode: options.intake ?? 'webhook' } }],
  };
  const configFile = join(stateDir, 'jitpool.yaml');
  writeFileSync(configFile, stringify(config));
  const watcher = createProvider(configSchema.parse(config).pools[0]!.provider, { controllerId, stateDir, pool: 'chaos', logger: silentLogger() });
  const logFd = openSync(options.logFile ?? join(stateDir, 'controller.log'), 'a');

  // The compute record, from the provider's own list: most runners alive at once.
  let maxSeen = 0;
  const firstCompute: Array<{ atMs: number }> = [];
  const known = new Set<string>();
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const alive = (await watcher.list().catch(() => [])).filter((info) => info.state !== 'exited');
      maxSeen = Math.max(maxSeen, alive.length);
      for (const info of alive) {
        if (known.has(info.computeId)) continue;
        known.add(info.computeId);
        firstCompute.push({ atMs: performance.now() });
      }
      await sleep(200);
    }
  })();

  let child: ChildProcess | null = null;
  const start = () => {
    child = spawn(process.execPath, [MAIN, 'up', '-c', configFile], {
      env: { PATH: process.env.PATH ?? '', CHAOS_TOKEN: token, CHAOS_SECRET: secret, CHAOS_API_TOKEN: randomBytes(16).toString('hex'), ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}) },
      stdio: ['ignore', logFd, logFd],
    });
    return performance.now();
  };
  const restarts: number[] = [];
  start();

  const workload = generateWorkload({
    jobs: options.jobs, seed: options.seed ?? 42, owner: 'chaos', repos: ['app'], labelSets: [['self-hosted', 'linux']],
    spanMs: Math.max(20_000, options.jobs * 150), minDurationMs: 200, maxDurationMs: 2000,
  });
  const spanMs = workload.at(-1)?.atMs ?? 0;
  const killTimes = Array.from({ length: options.kills }, () => 2000 + random() * spanMs).sort((a, b) => a - b);
  const timers = workload.map((item) => setTimeout(() => sim.queueJob({ owner: item.owner, repo: item.repo, labels: item.labels, durationMs: item.durationMs, name: item.name }), item.atMs));
  const began = performance.now();
  for (const at of killTimes) {
    const wait = at - (performance.now() - began);
    if (wait > 0) await sleep(wait);
    (child as ChildProcess | null)?.kill('SIGKILL');
    await sleep(100 + random() * 900);
    restarts.push(start());
  }
  try {
    await sim.waitFor((s) => s.jobs().length === workload.length && s.jobs().every((j) => j.status === 'completed'), 300_000);
  } catch {
    // Reported below as lost jobs.
  }
  for (const timer of timers) clearTimeout(timer);
  // Let the controller clean up what the last jobs left (runner exits, ghosts past their minimum age).
  const computeLeft = async () => (await watcher.list().catch(() => [])).length;
  const deadline = performance.now() + 60_000;
  while (((await computeLeft()) > 0 || sim.runners().length > 0) && performance.now() < deadline) await sleep(250);
  const exited = new Promise((resolve) => (child as ChildProcess | null)?.once('exit', resolve));
  (child as ChildProcess | null)?.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  watching = false;
  await watch;
  closeSync(logFd);

  const jobs = sim.jobs();
  const stats = sim.stats();
  const recovery = restarts
    .map((at) => firstCompute.find((c) => c.atMs >= at)?.atMs)
    .map((first, i) => (first === undefined ? null : first - restarts[i]!))
    .filter((ms): ms is number => ms !== null && ms < 15_000);
  const report: ChaosReport = {
    provider: providerKind,
    intake: options.intake ?? 'webhook',
    kills: options.kills,
    listLatencyMs,
    jobs: {
      submitted: jobs.length,
      completed: jobs.filter((j) => j.status === 'completed').length,
      succeeded: jobs.filter((j) => j.conclusion === 'success').length,
      failed: jobs.filter((j) => j.conclusion === 'failure').length,
      lost: jobs.filter((j) => j.status !== 'completed').length,
    },
    leaked: { compute: await computeLeft(), registrations: sim.runners().length },
    maxConcurrent: { seen: maxSeen, limit: max },
    busyRunnersKilled: stats.busyRunnersKilled + stats.busyRunnersDeleted,
    recoveryMs: { median: round(median(recovery)), samples: recovery.length },
    apiCalls: { total: stats.calls.total, byEndpoint: stats.calls.byEndpoint },
    actionsServiceCalls: stats.actionsService,
  };
  await closeWatcher(watcher);
  await sim.close();
  if (docker?.isReachable) await removeControllerResources(docker.docker, controllerId);
  if (!options.logFile) rmSync(stateDir, { recursive: true, force: true });
  return report;
}

/** True when a chaos run kept every promise: no job lost or failed, nothing leaked, never above max, no busy runner killed. */
export function isChaosClean(report: ChaosReport): boolean {
  return report.jobs.lost === 0 && report.jobs.failed === 0 && report.leaked.compute === 0 && report.leaked.registrations === 0
    && report.maxConcurrent.seen <= report.maxConcurrent.limit && report.busyRunnersKilled === 0;
}

async function closeWatcher(provider: Provider): Promise<void> {
  await provider.close().catch(() => {});
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const index = args.indexOf(name);
    const value = index >= 0 ? Number(args[index + 1]) : fallback;
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
    return value;
  };
  const providerIndex = args.indexOf('--provider');
  const provider = providerIndex >= 0 ? args[providerIndex + 1] : 'process';
  if (provider !== 'process' && provider !== 'docker' && provider !== 'external') throw new Error('--provider must be process, docker or external');
  const intakeIndex = args.indexOf('--intake');
  const intake = intakeIndex >= 0 ? args[intakeIndex + 1] : 'webhook';
  if (intake !== 'webhook' && intake !== 'scale-set') throw new Error('--intake must be webhook or scale-set');
  const report = await runChaos({
    kills: flag('--kills', 20), jobs: flag('--jobs', 200), seed: flag('--seed', 42), max: flag('--max', 6), provider, listLatencyMs: flag('--list-latency-ms', 0), intake,
  });
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(report)}\n`);
  else console.log(report);
  process.exitCode = isChaosClean(report) ? 0 : 1;
}
