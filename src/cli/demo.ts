import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { InvalidArgumentError, type Command } from 'commander';
import { configSchema, type Config } from '../config/index.ts';
import { JitpoolError, createLogger, percentile, round, shortId } from '../core/index.ts';
import { FAKE_RUNNER_IMAGE, ensureFakeRunnerImage, generateWorkload, probeDocker, startSimulator, type SimJob } from '../sim/index.ts';
import { startRuntime } from './runtime.ts';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  jobs: number;
  seed: number;
  /** Receives a one-line progress summary a few times a second (TTY output). */
  onProgress?: (line: string) => void;
  /** @default 'warn' */
  logLevel?: string;
  /** Keep the state directory (printed in the report). */
  keepState?: boolean;
  /** Longest the workload may take before the demo gives up on the remaining jobs. @default 180000 */
  timeoutMs?: number;
  /** Where runners run: local processes, or containers on the Docker engine (DOCKER_HOST or the default socket). @default 'process' */
  provider?: DemoProviderKind;
}

/** The providers the demo can run on. */
export type DemoProviderKind = 'process' | 'docker';

/** The demo's report; `--json` prints exactly this object. */
export interface DemoReport {
  provider: DemoProviderKind;
  /** The controller id the demo ran as (every container and network it made carries it). */
  controllerId: string;
  jobs: { submitted: number; completed: number; lost: number };
  runners: { launched: number; leaked: number };
  queueWaitMs: { p50: number; p95: number; max: number };
  apiCallsPerJob: number;
}

/** The fake runner: obeys the real runner's contract (JIT config from ACTIONS_RUNNER_INPUT_JITCONFIG). */
export const FAKE_RUNNER = fileURLToPath(new URL('../sim/fake-runner.ts', import.meta.url));

const ORG = 'demo-org';
const LABEL_SETS = [['self-hosted', 'linux'], ['self-hosted', 'linux', 'gpu'], ['self-hosted', 'arm64']];

/** The demo's configuration: three pools on the process (or Docker) provider, against the simulator. */
export function demoConfig(apiUrl: string, stateDir: string, providerKind: DemoProviderKind = 'process', controllerId = 'demo'): Config {
  const provider =
    providerKind === 'docker'
      ? {
          kind: 'docker' as const,
          image: FAKE_RUNNER_IMAGE,
          pullPolicy: 'never' as const,
          cpus: 1,
          memoryMb: 256,
          pidsLimit: 256,
          network: { subnetPool: '10.215.0.0/16', prefixLength: 28 },
          killGraceSeconds: 5,
        }
      : { kind: 'process' as const, command: [process.execPath, FAKE_RUNNER], killGraceSeconds: 5 };
  return configSchema.parse({
    controllerId,
    github: { apiUrl, auth: { kind: 'pat', token: { env: ['JITPOOL_GITHUB_TOKEN'] } }, writeConcurrency: 8 },
    webhook: { secret: { env: ['JITPOOL_WEBHOOK_SECRET'] } },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0 },
    controller: { reconcileIntervalSeconds: 2, githubSyncIntervalSeconds: 10, concurrency: 16 },
    pools: [
      { name: 'linux', scope: { kind: 'org', org: ORG }, labels: ['self-hosted', 'linux', 'x64'], provider, minIdle: 1, max: 10, idleGraceSeconds: 2, bootTimeoutSeconds: 60 },
      { name: 'gpu', scope: { kind: 'org', org: ORG }, labels: ['self-hosted', 'linux', 'x64', 'gpu'], provider, max: 4, idleGraceSeconds: 2, bootTimeoutSeconds: 60 },
      { name: 'arm', scope: { kind: 'org', org: ORG }, labels: ['self-hosted', 'linux', 'arm64'], provider, max: 6, idleGraceSeconds: 2, bootTimeoutSeconds: 60 },
    ],
  });
}

/**
 * Where the simulator must listen for the runners to reach it: loopback for processes; for Docker
 * the default bridge's gateway, the host's address as every container sees it (the image is
 * built first if it is missing). A unique controller id keeps concurrent demos on one engine apart.
 */
async function prepareProvider(kind: DemoProviderKind): Promise<{ simHost: string; controllerId: string }> {
  if (kind === 'process') return { simHost: '127.0.0.1', controllerId: 'demo' };
  const probe = await probeDocker();
  if (!probe.isReachable) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `jitpool demo --provider docker: ${probe.reason}`);
  await ensureFakeRunnerImage();
  return { simHost: probe.bridgeGateway, controllerId: `demo-${shortId(3)}` };
}

/**
 * `jitpool demo`: the simulator, the controller (process provider, SQLite in a temp dir) and a
 * seeded workload, end to end on the real architecture; ends with a report.
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport & { stateDir?: string }> {
  const providerKind = options.provider ?? 'process';
  const { simHost, controllerId } = await prepareProvider(providerKind);
  const stateDir = mkdtempSync(join(tmpdir(), 'jitpool-demo-'));
  const logger = createLogger({ level: options.logLevel ?? 'warn', destination: pino.destination({ fd: 2, sync: false }) });
  const sim = await startSimulator({ host: simHost, offlineAfterMs: 5000 });
  const token = `demo_${randomBytes(16).toString('hex')}`;
  const secret = randomBytes(24).toString('hex');
  const runtime = await startRuntime({
    config: demoConfig(sim.url, stateDir, providerKind, controllerId),
    logger,
    env: { JITPOOL_GITHUB_TOKEN: token, JITPOOL_WEBHOOK_SECRET: secret },
  });
  sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });

  const queuedAt = new Map<number, number>();
  const waits = new Map<number, number>();
  const onJob = (job: SimJob) => {
    const start = queuedAt.get(job.id);
    if (start !== undefined && job.status !== 'queued' && !waits.has(job.id)) waits.set(job.id, performance.now() - start);
  };
  sim.on('job', onJob);

  const workload = generateWorkload({
    jobs: options.jobs, seed: options.seed, owner: ORG, repos: ['api', 'web', 'ml'], labelSets: LABEL_SETS,
    spanMs: Math.min(25_000, options.jobs * 120), minDurationMs: 200, maxDurationMs: 3000,
  });
  const started = performance.now();
  const progress = setInterval(() => {
    const jobs = sim.jobs();
    const done = jobs.filter((j) => j.status === 'completed').length;
    const running = jobs.filter((j) => j.status === 'in_progress').length;
    const alive = runtime.store.listLiveRunners().length;
    options.onProgress?.(`${((performance.now() - started) / 1000).toFixed(1)}s  submitted ${jobs.length}/${workload.length}  running ${running}  done ${done}  runners alive ${alive}`);
  }, 250);
  const timers = workload.map((item) =>
    setTimeout(() => {
      const job = sim.queueJob({ owner: item.owner, repo: item.repo, labels: item.labels, durationMs: item.durationMs, name: item.name });
      queuedAt.set(job.id, performance.now());
    }, item.atMs),
  );
  try {
    await sim.waitFor((s) => s.jobs().length === workload.length && s.jobs().every((j) => j.status === 'completed'), options.timeoutMs ?? 180_000).catch(() => {});
  } finally {
    for (const timer of timers) clearTimeout(timer);
    clearInterval(progress);
  }
  const stillAlive = await runtime.controller.drain(30_000);
  if (stillAlive > 0) logger.warn({ component: 'demo', stillAlive }, 'runners still alive after drain');
  const apiCalls = runtime.github.stats().total;
  const launched = runtime.store.countRunners();
  const leakedCompute = (await Promise.all([...new Set(runtime.providers.values())].map((p) => p.list()))).flat().length;
  await runtime.stop(10_000);
  await sleepUntil(() => sim.runners().length === 0, 6000);
  const leakedRegistrations = sim.runners().length;
  sim.off('job', onJob as never);
  const jobs = sim.jobs();
  await sim.close();
  if (!options.keepState) rmSync(stateDir, { recursive: true, force: true });

  const completed = jobs.filter((j) => j.status === 'completed').length;
  const waitValues = [...waits.values()];
  return {
    provider: providerKind,
    controllerId,
    jobs: { submitted: jobs.length, completed, lost: jobs.length - completed },
    runners: { launched, leaked: leakedCompute + leakedRegistrations },
    queueWaitMs: { p50: round(percentile(waitValues, 50)), p95: round(percentile(waitValues, 95)), max: round(Math.max(0, ...waitValues)) },
    apiCallsPerJob: round(jobs.length === 0 ? 0 : apiCalls / jobs.length, 2),
    ...(options.keepState ? { stateDir } : {}),
  };
}

async function sleepUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Registers `jitpool demo`. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the embedded demo: GitHub simulator + controller + a provider (process or docker), with a seeded workload, then a report.')
    .option('--jobs <n>', 'jobs to submit', (v) => positiveInt(v, '--jobs'), 200)
    .option('--seed <n>', 'workload seed (same seed, same workload)', (v) => positiveInt(v, '--seed'), 1)
    .option('--provider <kind>', 'where runners run: process, or docker (needs a Docker engine; builds the local test image if missing)', demoProvider, 'process')
    .option('--json', 'print exactly one JSON object (the report) on stdout')
    .option('--keep-state', 'keep the temporary state directory')
    .option('--log-level <level>', 'controller log level (logs go to stderr)', 'warn')
    .action(async (opts: { jobs: number; seed: number; provider: DemoProviderKind; json?: boolean; keepState?: boolean; logLevel: string }) => {
      const tty = !opts.json && process.stdout.isTTY;
      const report = await runDemo({
        jobs: opts.jobs,
        seed: opts.seed,
        provider: opts.provider,
        keepState: opts.keepState,
        logLevel: opts.logLevel,
        onProgress: tty ? (line) => process.stdout.write(`\r\x1b[2K${line}`) : undefined,
      });
      if (tty) process.stdout.write('\n');
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        console.log(`provider  ${report.provider}`);
        console.log(`jobs      submitted ${report.jobs.submitted}, completed ${report.jobs.completed}, lost ${report.jobs.lost}`);
        console.log(`runners   launched ${report.runners.launched}, leaked ${report.runners.leaked}`);
        console.log(`queue     p50 ${report.queueWaitMs.p50} ms, p95 ${report.queueWaitMs.p95} ms, max ${report.queueWaitMs.max} ms`);
        console.log(`API       ${report.apiCallsPerJob} REST calls per job`);
      }
      process.exitCode = report.jobs.lost === 0 && report.runners.leaked === 0 ? 0 : 1;
    });
}

function demoProvider(value: string): DemoProviderKind {
  if (value === 'process' || value === 'docker') return value;
  throw new InvalidArgumentError(`--provider must be process or docker, got ${JSON.stringify(value)}`);
}

/** Parses a positive integer option or throws a clear error naming the flag. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}
