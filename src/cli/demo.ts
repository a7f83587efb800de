import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { InvalidArgumentError, type Command } from 'commander';
import { configSchema, type Config } from '../config/index.ts';
import { JitpoolError, createLogger, describeError, isJitpoolError, percentile, round, shortId } from '../core/index.ts';
import { FAKE_RUNNER_IMAGE, ensureFakeRunnerImage, generateWorkload, parseFaultSpec, probeDocker, startSimulator, type FaultSpec, type SimJob } from '../sim/index.ts';
import type { ApiCallStats } from '../github/index.ts';
import type { SandboxKind } from '../providers/index.ts';
import { startRuntime } from './runtime.ts';
import { externalDemoProvider, writeExternalDemoConfig } from './demo-external.ts';

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
  /** How process runners are isolated; `none` runs them as this user, unsandboxed (warned about). @default 'bwrap' */
  sandbox?: SandboxKind;
  /** No webhooks at all: the poller alone finds the jobs (seed 004's design). */
  pollOnly?: boolean;
  /** Poll interval in poll-only mode. @default 10 */
  pollIntervalSeconds?: number;
  /** Share of webhook deliveries the simulator drops (0–1). */
  dropWebhooks?: number;
  /** Simulator fault spec (see docs/simulator.md), e.g. `5xx=0.1,429burst=1,latency=200ms`. */
  faults?: string;
  /**
   * Keep the API and dashboard up during the workload and after it, until `until` resolves
   * (`jitpool demo --serve`). Loopback only.
   */
  serve?: {
    /** @default 8080 (0 picks a free port) */
    port: number;
    /** No admin token (the dashboard opens without one); the demo listens on loopback only. @default false */
    noAuth?: boolean;
    /** Called once the API listens: its URL and the admin token (null with `noAuth`). */
    onListening?: (info: { url: string; token: string | null }) => void;
    /** Called with the report once the workload is done, before waiting for `until`. */
    onReport?: (report: DemoReport) => void;
    /** Resolves when the demo should stop serving (SIGINT, a test). */
    until: Promise<void>;
  };
}

/** The providers the demo can run on. */
export type DemoProviderKind = 'process' | 'docker' | 'external';

/** The demo's report; `--json` prints exactly this object. */
export interface DemoReport {
  provider: DemoProviderKind;
  /** The process provider's sandbox (null for Docker, which isolates by itself). */
  sandbox: SandboxKind | null;
  /** The controller id the demo ran as (every container and network it made carries it). */
  controllerId: string;
  /** `succeeded` ran to the end on their runner; `failed`: their runner died or was killed mid-job. */
  jobs: { submitted: number; completed: number; lost: number; succeeded: number; failed: number };
  /**
   * `lost`: runners that ended `lost` (their compute vanished); `busyKilled`: runners destroyed
   * while GitHub held them busy, as the simulator counts them (not jitpool).
   */
  runners: { launched: number; leaked: number; lost: number; busyKilled: number };
  queueWaitMs: { p50: number; p95: number; max: number };
  apiCallsPerJob: number;
  apiCalls: { total: number; notModified: number; byEndpoint: Record<string, number> };
  rateLimit: { remainingMin: number };
}

/** The fake runner: obeys the real runner's contract (JIT config from ACTIONS_RUNNER_INPUT_JITCONFIG). */
export const FAKE_RUNNER = fileURLToPath(new URL('../sim/fake-runner.ts', import.meta.url));

const ORG = 'demo-org';
const REPOS = ['api', 'web', 'ml'];
const LABEL_SETS = [['self-hosted', 'linux'], ['self-hosted', 'linux', 'gpu'], ['self-hosted', 'arm64']];

/** A workflow whose jobs ask for the demo's label sets, so repository discovery finds the repos. */
const DEMO_WORKFLOW = `name: ci
on: [push, pull_request]
jobs:
${LABEL_SETS.map((labels, i) => `  job${i}:\n    runs-on: [${labels.join(', ')}]\n    steps:\n      - run: make test`).join('\n')}
`;

/** What {@link demoConfig} varies. */
export interface DemoConfigOptions {
  pollOnly?: boolean;
  /** Backstop poll interval in webhook mode. @default 60 */
  backstopIntervalSeconds?: number;
  pollIntervalSeconds?: number;
  apiPort?: number;
  /** @default 'process' */
  provider?: DemoProviderKind;
  /** The process provider's sandbox. @default 'bwrap' */
  sandbox?: SandboxKind;
  /** @default 'demo' */
  controllerId?: string;
}

/** The demo's configuration: three pools on the process (or Docker) provider, against the simulator. */
export function demoConfig(apiUrl: string, stateDir: string, options: DemoConfigOptions = {}): Config {
  const provider =
    options.provider === 'docker'
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
      : options.provider === 'external'
        ? externalDemoProvider(stateDir)
        : { kind: 'process' as const, command: [process.execPath, FAKE_RUNNER], killGraceSeconds: 5, sandbox: options.sandbox ?? 'bwrap' };
  return configSchema.parse({
    controllerId: options.controllerId ?? 'demo',
    github: { apiUrl, auth: { kind: 'pat', token: { env: ['JITPOOL_GITHUB_TOKEN'] } }, writeConcurrency: 8 },
    webhook: { enabled: !options.pollOnly, secret: { env: ['JITPOOL_WEBHOOK_SECRET'] } },
    // The backstop polls at the production default (60 s) unless the demo loses webhooks on purpose.
    poll: { intervalSeconds: options.pollIntervalSeconds ?? 10, backstopIntervalSeconds: options.backstopIntervalSeconds ?? 60 },
    store: { stateDir },
    api: { host: '127.0.0.1', port: options.apiPort ?? 0 },
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
  if (kind === 'process' || kind === 'external') return { simHost: '127.0.0.1', controllerId: 'demo' };
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
  const logger = createLogger({
    level: options.logLevel ?? 'warn',
    pretty: process.stderr.isTTY === true,
    prettyFd: 2,
    destination: pino.destination({ fd: 2, sync: false }),
  });
  if (providerKind === 'external') writeExternalDemoConfig(stateDir, [process.execPath, FAKE_RUNNER, 'run']);
  const sim = await startSimulator({ host: simHost, offlineAfterMs: 5000, seed: options.seed, faults: demoFaults(options) });
  for (const repo of REPOS) sim.setWorkflowFile(ORG, repo, '.github/workflows/ci.yml', DEMO_WORKFLOW);
  const token = `demo_${randomBytes(16).toString('hex')}`;
  const secret = randomBytes(24).toString('hex');
  const apiToken = randomBytes(24).toString('hex');
  const serve = options.serve;
  let runtime;
  try {
    runtime = await startRuntime({
      config: demoConfig(sim.url, stateDir, {
        ...options,
        backstopIntervalSeconds: options.dropWebhooks || options.faults ? 10 : 60,
        apiPort: serve?.port ?? 0,
        provider: providerKind,
        controllerId,
      }),
      logger,
      env: { JITPOOL_GITHUB_TOKEN: token, JITPOOL_WEBHOOK_SECRET: secret, JITPOOL_API_TOKEN: apiToken },
      demoNoAuthOnLoopback: serve?.noAuth === true,
    });
  } catch (err) {
    // A start that fails (no sandbox on this machine) leaves nothing behind.
    await sim.close();
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  if (!options.pollOnly) sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });
  serve?.onListening?.({ url: runtime.adminUrl!, token: serve.noAuth ? null : apiToken });

  const queuedAt = new Map<number, number>();
  const waits = new Map<number, number>();
  const onJob = (job: SimJob) => {
    const start = queuedAt.get(job.id);
    if (start !== undefined && job.status !== 'queued' && !waits.has(job.id)) waits.set(job.id, performance.now() - start);
  };
  sim.on('job', onJob);

  const workload = generateWorkload({
    jobs: options.jobs, seed: options.seed, owner: ORG, repos: REPOS, labelSets: LABEL_SETS,
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
  const apiCalls = runtime.github.stats();
  const launched = runtime.store.countRunners();
  const leakedCompute = (await Promise.all([...new Set(runtime.providers.values())].map((p) => p.list()))).flat().length;
  // Drained: nothing relaunches, so GitHub's list empties as the last deregistrations land.
  await sleepUntil(() => sim.runners().length === 0, 6000);
  const leakedRegistrations = sim.runners().length;
  sim.off('job', onJob as never);
  const jobs = sim.jobs();
  const simStats = sim.stats();
  const runners = {
    launched, leaked: leakedCompute + leakedRegistrations, lost: runtime.store.countRunnersThatReached('lost'), busyKilled: simStats.busyRunnersKilled + simStats.busyRunnersDeleted,
  };
  const report = { provider: providerKind, sandbox: providerKind === 'process' ? (options.sandbox ?? 'bwrap') : null, controllerId, ...summarize(jobs, waits, apiCalls, runners, simStats.rateLimit.remainingMin) };
  if (serve) {
    serve.onReport?.(report);
    await serve.until;
  }
  await runtime.stop(10_000);
  await sim.close();
  if (!options.keepState) rmSync(stateDir, { recursive: true, force: true });
  return { ...report, ...(options.keepState ? { stateDir } : {}) };
}

function summarize(jobs: SimJob[], waits: Map<number, number>, apiCalls: ApiCallStats, runners: DemoReport['runners'], remainingMin: number): Omit<DemoReport, 'provider' | 'sandbox' | 'controllerId'> {
  const completed = jobs.filter((j) => j.status === 'completed').length;
  const waitValues = [...waits.values()];
  return {
    jobs: {
      submitted: jobs.length, completed, lost: jobs.length - completed,
      succeeded: jobs.filter((j) => j.conclusion === 'success').length, failed: jobs.filter((j) => j.conclusion === 'failure').length,
    },
    runners,
    queueWaitMs: { p50: round(percentile(waitValues, 50)), p95: round(percentile(waitValues, 95)), max: round(Math.max(0, ...waitValues)) },
    apiCallsPerJob: round(jobs.length === 0 ? 0 : apiCalls.total / jobs.length, 2),
    apiCalls,
    rateLimit: { remainingMin },
  };
}

/** The simulator faults the demo options ask for (`--faults` and `--drop-webhooks` combined). */
function demoFaults(options: DemoOptions): FaultSpec {
  const spec = options.faults ? parseFaultSpec(options.faults) : {};
  if (options.dropWebhooks !== undefined && options.dropWebhooks > 0) spec.webhooks = { ...spec.webhooks, dropRate: options.dropWebhooks };
  return spec;
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
    .option('--provider <kind>', 'where runners run: process, docker (needs a Docker engine; builds the local test image if missing), or external (the example garm-protocol script, examples/external/)', demoProvider, 'process')
    .option('--json', 'print exactly one JSON object (the report) on stdout')
    .option('--keep-state', 'keep the temporary state directory')
    .option('--log-level <level>', 'controller log level (logs go to stderr)', 'warn')
    .option('--poll-only', 'switch webhooks off: the poller alone finds queued jobs')
    .option('--poll-interval <seconds>', 'poll interval in poll-only mode', (v) => positiveInt(v, '--poll-interval'), 10)
    .option('--drop-webhooks <ratio>', 'drop this share (0-1) of webhook deliveries; the poller must find those jobs', (v) => ratio(v, '--drop-webhooks'))
    .option('--faults <spec>', 'inject simulator faults, e.g. 5xx=0.1,429burst=1,latency=200ms,drop=0.3,dup=0.1,reorder=0.2 (see docs/simulator.md)', (v) => faultSpec(v))
    .option('--serve [port]', 'keep the API and live dashboard up (loopback, default port 8080) during the workload and afterwards, until Ctrl-C')
    .option('--no-auth', 'with --serve: no admin token (loopback only)')
    .option('--no-sandbox', 'run process runners without the bubblewrap sandbox (as this user; not advised)')
    .action(async (opts: { jobs: number; seed: number; provider: DemoProviderKind; json?: boolean; keepState?: boolean; logLevel: string; serve?: boolean | string; auth: boolean; pollOnly?: boolean; pollInterval: number; dropWebhooks?: number; faults?: string; sandbox: boolean }) => {
      const tty = !opts.json && process.stdout.isTTY;
      const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
      const serve = opts.serve === undefined ? undefined : servePlan(opts.serve, !opts.auth, say, (report) => {
        if (tty) process.stdout.write('\n');
        printReport(report, Boolean(opts.json));
        say('workload done; the dashboard stays up until Ctrl-C');
      });
      let report: DemoReport;
      try {
        report = await runDemo({
          jobs: opts.jobs,
          seed: opts.seed,
          provider: opts.provider,
          keepState: opts.keepState,
          logLevel: opts.logLevel,
          pollOnly: opts.pollOnly,
          pollIntervalSeconds: opts.pollInterval,
          dropWebhooks: opts.dropWebhooks,
          faults: opts.faults,
          sandbox: opts.sandbox ? 'bwrap' : 'none',
          onProgress: tty && !serve ? (line) => process.stdout.write(`\r\x1b[2K${line}`) : undefined,
          serve,
        });
      } catch (err) {
        const hint = isJitpoolError(err, 'JP_SANDBOX_UNAVAILABLE') ? ' (for the demo: --no-sandbox)' : '';
        process.stderr.write(`jitpool demo: ${describeError(err)}${hint}\n`);
        process.exitCode = 2;
        return;
      }
      if (!serve) {
        if (tty) process.stdout.write('\n');
        printReport(report, Boolean(opts.json));
      }
      process.exitCode = report.jobs.lost === 0 && report.jobs.failed === 0 && report.runners.leaked === 0 && report.runners.busyKilled === 0 ? 0 : 1;
    });
}

function demoProvider(value: string): DemoProviderKind {
  if (value === 'process' || value === 'docker' || value === 'external') return value;
  throw new InvalidArgumentError(`--provider must be process, docker or external, got ${JSON.stringify(value)}`);
}

function ratio(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${flag} must be a number between 0 and 1, got ${JSON.stringify(value)}`);
  return n;
}

function faultSpec(value: string): string {
  try {
    parseFaultSpec(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

/** `--serve [port]` turned into the demo's serve options: print where to look, stop on SIGINT/SIGTERM. */
function servePlan(value: boolean | string, noAuth: boolean, say: (line: string) => void, onReport: (report: DemoReport) => void): NonNullable<DemoOptions['serve']> {
  const port = value === true ? 8080 : Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`--serve takes a port number 0-65535, got ${JSON.stringify(value)}`);
  const until = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  return {
    port,
    noAuth,
    until,
    onReport,
    onListening: ({ url, token }) => {
      say(`dashboard  ${token ? `${url}/?token=${token}` : `${url}/`}`);
      say(`API docs   ${url}/docs${token ? `   (admin token: ${token})` : ''}`);
    },
  };
}

function printReport(report: DemoReport, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  console.log(`provider  ${report.provider}${report.sandbox ? ` (sandbox: ${report.sandbox})` : ''}`);
  console.log(`jobs      submitted ${report.jobs.submitted}, completed ${report.jobs.completed} (succeeded ${report.jobs.succeeded}, failed ${report.jobs.failed}), lost ${report.jobs.lost}`);
  console.log(`runners   launched ${report.runners.launched}, leaked ${report.runners.leaked}, ended lost ${report.runners.lost}, killed while busy ${report.runners.busyKilled}`);
  console.log(`queue     p50 ${report.queueWaitMs.p50} ms, p95 ${report.queueWaitMs.p95} ms, max ${report.queueWaitMs.max} ms`);
  console.log(`API       ${report.apiCallsPerJob} REST calls per job (${report.apiCalls.total} in all, ${report.apiCalls.notModified} answered 304), rate limit left at least ${report.rateLimit.remainingMin}`);
}

/** Parses a positive integer option or throws a clear error naming the flag. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}
