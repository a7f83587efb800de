import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { InvalidArgumentError, type Command } from 'commander';
import { configSchema, type Config } from '../config/index.ts';
import { JitpoolError, createLogger, describeError, isJitpoolError, percentile, round, shortId, silentLogger } from '../core/index.ts';
import { buildTestImage } from '../images/index.ts';
import { FAKE_RUNNER_IMAGE, ensureFakeRunnerImage, generateWorkload, parseFaultSpec, probeDocker, startSimulator, type FaultCounts, type FaultSpec, type SimJob } from '../sim/index.ts';
import type { ApiCallStats } from '../github/index.ts';
import { hostAddressForMachines, type SandboxKind } from '../providers/index.ts';
// The fake runner as a VM image (a stand-in of the image pipeline's test recipe).
import { ensureVmTestImage } from '../providers/vm-test-image.ts';
import { startRuntime } from './runtime.ts';
import { externalDemoProvider, writeExternalDemoConfig } from './demo-external.ts';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  jobs: number;
  seed: number;
  /** Receives a one-line progress summary a few times a second (TTY output), and once more when the workload is done. */
  onProgress?: (line: string) => void;
  /**
   * Runs before every log line (stderr): the CLI clears its live progress line there, so a
   * warning starts on a line of its own instead of being appended to the progress.
   */
  beforeLog?: () => void;
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
  /** The accelerator of `--provider vm` (software emulation works everywhere, KVM needs /dev/kvm). @default 'tcg' */
  vmAccel?: 'kvm' | 'tcg' | 'auto';
  /** No webhooks at all: the poller alone finds the jobs (seed 004's design). */
  pollOnly?: boolean;
  /** `scale-set`: every pool is a runner scale set; GitHub assigns the jobs, no webhook and no poller. @default 'webhook' */
  intake?: DemoIntake;
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
export type DemoProviderKind = 'process' | 'docker' | 'nspawn' | 'vm' | 'external';

/** How the demo's pools learn about jobs. */
export type DemoIntake = 'webhook' | 'scale-set';

/** The demo's report; `--json` prints exactly this object. */
export interface DemoReport {
  provider: DemoProviderKind;
  /** How the pools learned about jobs. */
  intake: DemoIntake;
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
  /** Calls to the Actions service and its message broker (scale-set mode; 0 otherwise), as the simulator counted them. */
  actionsServiceCallsPerJob: number;
  actionsServiceCalls: { total: number; byEndpoint: Record<string, number> };
  /** Runners launched per submitted job (1 is one runner per job; more means extra runners). */
  launchesPerJob: number;
  rateLimit: { remainingMin: number };
  /** The workload's seed: the same seed, the same workload. */
  seed: number;
  /** From the first job submitted to the last one done (or the timeout). */
  durationMs: number;
  /** What the simulator injected (`--faults`, `--drop-webhooks`): dropped/duplicated/reordered/delayed deliveries, 5xx, 429, runners that never booted or died. */
  faults: FaultCounts;
  /** Webhook deliveries the simulator sent and that failed at jitpool's end (`isEnabled` false with `--poll-only`). */
  webhooks: { sent: number; failed: number; isEnabled: boolean };
  /** The state directory, kept with `--keep-state` (SQLite store, runner directories). */
  stateDir?: string;
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
  /** @default 'webhook' */
  intake?: DemoIntake;
  /** The image directory nspawn machines boot from (`provider: 'nspawn'`). */
  nspawnImage?: string;
  /** The `vm` provider's image directory and accelerator (`--provider vm`). */
  vm?: { image: string; accel: 'kvm' | 'tcg' | 'auto' };
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
      : options.provider === 'nspawn'
        ? {
            kind: 'nspawn' as const,
            image: options.nspawnImage ?? join(stateDir, 'image'),
            network: 'private' as const,
            subnet: { pool: '10.220.0.0/16', prefixLength: 30 },
            cpus: 1,
            memoryMb: 256,
            pidsLimit: 256,
            killGraceSeconds: 5,
          }
        : options.provider === 'vm'
          ? { kind: 'vm' as const, image: options.vm!.image, accel: options.vm!.accel, cpus: 1, memoryMb: 512, killGraceSeconds: 2, workRoot: join(stateDir, 'vm') }
          : options.provider === 'external'
            ? externalDemoProvider(stateDir)
            : { kind: 'process' as const, command: [process.execPath, FAKE_RUNNER], killGraceSeconds: 5, sandbox: options.sandbox ?? 'bwrap' };
  const isScaleSet = options.intake === 'scale-set';
  // In scale-set mode GitHub assigns jobs to the pools' sets: no webhook endpoint, no poller.
  const intake = { mode: options.intake ?? 'webhook' };
  // Every VM is a whole machine (512 MiB, seconds of boot under software emulation): fewer at once.
  const max = (n: number) => (options.provider === 'vm' ? Math.min(n, 2) : n);
  const bootTimeoutSeconds = options.provider === 'vm' ? 180 : 60;
  return configSchema.parse({
    controllerId: options.controllerId ?? 'demo',
    github: { apiUrl, auth: { kind: 'pat', token: { env: ['JITPOOL_GITHUB_TOKEN'] } }, writeConcurrency: 8 },
    webhook: { enabled: !options.pollOnly && !isScaleSet, secret: { env: ['JITPOOL_WEBHOOK_SECRET'] } },
    // The backstop polls at the production default (60 s) unless the demo loses webhooks on purpose.
    poll: { enabled: !isScaleSet, intervalSeconds: options.pollIntervalSeconds ?? 10, backstopIntervalSeconds: options.backstopIntervalSeconds ?? 60 },
    store: { stateDir },
    api: { host: '127.0.0.1', port: options.apiPort ?? 0 },
    controller: { reconcileIntervalSeconds: 2, githubSyncIntervalSeconds: 10, concurrency: 16 },
    pools: [
      { name: 'linux', scope: { kind: 'org', org: ORG }, labels: ['self-hosted', 'linux', 'x64'], provider, minIdle: 1, max: max(10), idleGraceSeconds: 2, bootTimeoutSeconds, intake },
      { name: 'gpu', scope: { kind: 'org', org: ORG }, labels: ['self-hosted', 'linux', 'x64', 'gpu'], provider, max: max(4), idleGraceSeconds: 2, bootTimeoutSeconds, intake },
      { name: 'arm', scope: { kind: 'org', org: ORG }, labels: ['self-hosted', 'linux', 'arm64'], provider, max: max(6), idleGraceSeconds: 2, bootTimeoutSeconds, intake },
    ],
  });
}

/**
 * Where the simulator must listen for the runners to reach it: loopback for processes; for Docker
 * the default bridge's gateway, the host's address as every container sees it (the image is
 * built first if it is missing). A unique controller id keeps concurrent demos on one engine apart.
 */
async function prepareProvider(kind: DemoProviderKind, accel: 'kvm' | 'tcg' | 'auto'): Promise<{ simHost: string; advertiseHost?: string; controllerId: string; nspawnImage?: string; vm?: DemoConfigOptions['vm'] }> {
  if (kind === 'process' || kind === 'external') return { simHost: '127.0.0.1', controllerId: 'demo' };
  if (kind === 'nspawn') {
    // The test image (the fake runner, no debootstrap), built once and kept; machines on private networks reach the simulator at a host address.
    const nspawnImage = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'jitpool', 'images', 'demo-test');
    if (process.getuid?.() !== 0) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'jitpool demo --provider nspawn needs root (systemd-nspawn, overlay mounts, cgroups)');
    await buildTestImage(nspawnImage, silentLogger());
    return { simHost: hostAddressForMachines(), controllerId: `demo-${shortId(3)}`, nspawnImage };
  }
  if (kind === 'vm') {
    // A guest on QEMU's user-mode network reaches the host's loopback at 10.0.2.2.
    const image = await ensureVmTestImage().catch((err: unknown) => {
      throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `jitpool demo --provider vm: could not build the fake-runner VM image (${describeError(err)}); needs qemu-system-x86 qemu-utils busybox-static cpio lz4 e2fsprogs`, { cause: err });
    });
    return { simHost: '127.0.0.1', advertiseHost: '10.0.2.2', controllerId: `demo-${shortId(3)}`, vm: { image: image.dir, accel } };
  }
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
  const { simHost, advertiseHost, controllerId, nspawnImage, vm } = await prepareProvider(providerKind, options.vmAccel ?? 'tcg');
  const stateDir = mkdtempSync(join(tmpdir(), 'jitpool-demo-'));
  const beforeLog = options.beforeLog;
  const stderrLine = beforeLog
    ? new Writable({ write: (chunk: Buffer | string, _encoding, done) => { beforeLog(); process.stderr.write(chunk, () => done()); } })
    : undefined;
  const logger = createLogger({
    level: options.logLevel ?? 'warn',
    pretty: process.stderr.isTTY === true,
    prettyFd: 2,
    prettyDestination: stderrLine,
    destination: stderrLine ?? pino.destination({ fd: 2, sync: false }),
  });
  if (providerKind === 'external') writeExternalDemoConfig(stateDir, [process.execPath, FAKE_RUNNER, 'run']);
  const sim = await startSimulator({ host: simHost, advertiseHost, offlineAfterMs: 5000, seed: options.seed, faults: demoFaults(options) });
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
        intake: options.intake,
        nspawnImage,
        vm,
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
  if (!options.pollOnly && options.intake !== 'scale-set') sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });
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
  const showProgress = () => {
    const jobs = sim.jobs();
    const count = (status: SimJob['status']) => jobs.filter((j) => j.status === status).length;
    const alive = runtime.store.listLiveRunners().length;
    options.onProgress?.(`${((performance.now() - started) / 1000).toFixed(1)}s  submitted ${jobs.length}/${workload.length}  queued ${count('queued')}  running ${count('in_progress')}  done ${count('completed')}  runners alive ${alive}`);
  };
  const progress = setInterval(showProgress, 250);
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
  // The last line shows the end state (a tick 250 ms earlier may have missed the last job).
  showProgress();
  const durationMs = Math.round(performance.now() - started);
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
  const report: DemoReport = {
    provider: providerKind, intake: options.intake ?? 'webhook', sandbox: providerKind === 'process' ? (options.sandbox ?? 'bwrap') : null, controllerId,
    seed: options.seed, durationMs,
    ...summarize(jobs, waits, apiCalls, runners, simStats.rateLimit.remainingMin),
    actionsServiceCallsPerJob: round(jobs.length === 0 ? 0 : simStats.actionsService.total / jobs.length, 2),
    actionsServiceCalls: simStats.actionsService,
    launchesPerJob: round(jobs.length === 0 ? 0 : launched / jobs.length, 2),
    faults: { ...simStats.faults },
    webhooks: { sent: simStats.webhooks.sent, failed: simStats.webhooks.failed, isEnabled: !options.pollOnly },
    ...(options.keepState ? { stateDir } : {}),
  };
  if (serve) {
    serve.onReport?.(report);
    await serve.until;
  }
  await runtime.stop(10_000);
  await sim.close();
  if (!options.keepState) rmSync(stateDir, { recursive: true, force: true });
  return report;
}

function summarize(jobs: SimJob[], waits: Map<number, number>, apiCalls: ApiCallStats, runners: DemoReport['runners'], remainingMin: number): Pick<DemoReport, 'jobs' | 'runners' | 'queueWaitMs' | 'apiCallsPerJob' | 'apiCalls' | 'rateLimit'> {
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
    .option('--provider <kind>', 'where runners run: process, docker (needs a Docker engine; builds the local test image if missing), nspawn (root + systemd-nspawn; builds the nspawn test image) vm (QEMU; builds the fake-runner VM image if missing) or external (the example garm-protocol script, examples/external/)', demoProvider, 'process')
    .option('--accel <kind>', 'with --provider vm: tcg (software emulation, works everywhere), kvm or auto', demoAccel, 'tcg')
    .option('--json', 'print exactly one JSON object (the report) on stdout')
    .option('--keep-state', 'keep the temporary state directory')
    .option('--log-level <level>', 'controller log level (logs go to stderr)', 'warn')
    .option('--poll-only', 'switch webhooks off: the poller alone finds queued jobs')
    .option('--intake <mode>', 'how pools learn about jobs: webhook (webhooks + poller backstop) or scale-set (runner scale sets: GitHub assigns jobs, no webhooks)', demoIntake, 'webhook')
    .option('--poll-interval <seconds>', 'poll interval in poll-only mode', (v) => positiveInt(v, '--poll-interval'), 10)
    .option('--drop-webhooks <ratio>', 'drop this share (0-1) of webhook deliveries; the poller must find those jobs', (v) => ratio(v, '--drop-webhooks'))
    .option('--faults <spec>', 'inject simulator faults, e.g. 5xx=0.1,429burst=1,latency=200ms,drop=0.3,dup=0.1,reorder=0.2 (see docs/simulator.md)', (v) => faultSpec(v))
    .option('--serve [port]', 'keep the API and live dashboard up (loopback, default port 8080) during the workload and afterwards, until Ctrl-C')
    .option('--no-auth', 'with --serve: no admin token (loopback only)')
    .option('--no-sandbox', 'run process runners without the bubblewrap sandbox (as this user; not advised)')
    .action(async (opts: { jobs: number; seed: number; provider: DemoProviderKind; intake: DemoIntake; accel: 'kvm' | 'tcg' | 'auto'; json?: boolean; keepState?: boolean; logLevel: string; serve?: boolean | string; auth: boolean; pollOnly?: boolean; pollInterval: number; dropWebhooks?: number; faults?: string; sandbox: boolean }, command: Command) => {
      const tty = !opts.json && process.stdout.isTTY;
      const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
      const serve = opts.serve === undefined ? undefined : servePlan(opts.serve, !opts.auth, say, (report) => {
        if (tty) process.stdout.write('\n');
        printReport(report, Boolean(opts.json));
        say('workload done; the dashboard stays up until Ctrl-C');
      });
      let report: DemoReport;
      try {
        // VMs boot for seconds each: the default workload is smaller on them, and gets longer to finish.
        const isVmDefault = opts.provider === 'vm' && command.getOptionValueSource('jobs') === 'default';
        report = await runDemo({
          jobs: isVmDefault ? 12 : opts.jobs,
          vmAccel: opts.accel,
          timeoutMs: opts.provider === 'vm' ? 900_000 : undefined,
          seed: opts.seed,
          provider: opts.provider,
          keepState: opts.keepState,
          logLevel: opts.logLevel,
          pollOnly: opts.pollOnly,
          intake: opts.intake,
          pollIntervalSeconds: opts.pollInterval,
          dropWebhooks: opts.dropWebhooks,
          faults: opts.faults,
          sandbox: opts.sandbox ? 'bwrap' : 'none',
          onProgress: tty && !serve ? (line) => process.stdout.write(`\r\x1b[2K${line}`) : undefined,
          // A log line (stderr, same terminal) first clears the progress line; the next tick redraws it.
          beforeLog: tty && !serve ? () => process.stdout.write('\r\x1b[2K') : undefined,
          serve,
        });
      } catch (err) {
        if (isJitpoolError(err, 'JP_SANDBOX_UNAVAILABLE')) {
          throw new JitpoolError(err.code, err.message, { cause: err, fix: 'for the demo: `jitpool demo --no-sandbox`' });
        }
        throw err;
      }
      if (!serve) {
        if (tty) process.stdout.write('\n');
        printReport(report, Boolean(opts.json));
      }
      process.exitCode = report.jobs.lost === 0 && report.jobs.failed === 0 && report.runners.leaked === 0 && report.runners.busyKilled === 0 ? 0 : 1;
    });
}

function demoIntake(value: string): DemoIntake {
  if (value === 'webhook' || value === 'scale-set') return value;
  throw new InvalidArgumentError(`--intake must be webhook or scale-set, got ${JSON.stringify(value)}`);
}

function demoProvider(value: string): DemoProviderKind {
  if (value === 'process' || value === 'docker' || value === 'nspawn' || value === 'vm' || value === 'external') return value;
  throw new InvalidArgumentError(`--provider must be process, docker, nspawn, vm or external, got ${JSON.stringify(value)}`);
}

function demoAccel(value: string): 'kvm' | 'tcg' | 'auto' {
  if (value === 'kvm' || value === 'tcg' || value === 'auto') return value;
  throw new InvalidArgumentError(`--accel must be kvm, tcg or auto, got ${JSON.stringify(value)}`);
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
  console.log(`provider  ${report.provider}${report.sandbox ? ` (sandbox: ${report.sandbox})` : ''}, intake ${report.intake}`);
  console.log(`workload  seed ${report.seed}, ${(report.durationMs / 1000).toFixed(1)} s from the first job submitted to the last one done`);
  console.log(`jobs      submitted ${report.jobs.submitted}, completed ${report.jobs.completed} (succeeded ${report.jobs.succeeded}, failed ${report.jobs.failed}), lost ${report.jobs.lost}`);
  console.log(`runners   launched ${report.runners.launched} (${report.launchesPerJob} per job), leaked ${report.runners.leaked}, ended lost ${report.runners.lost}, killed while busy ${report.runners.busyKilled}`);
  console.log(`queue     p50 ${report.queueWaitMs.p50} ms, p95 ${report.queueWaitMs.p95} ms, max ${report.queueWaitMs.max} ms`);
  console.log(`API       ${report.apiCallsPerJob} REST calls per job (${report.apiCalls.total} in all, ${report.apiCalls.notModified} answered 304), rate limit left at least ${report.rateLimit.remainingMin}`);
  if (report.intake === 'scale-set') console.log(`Actions   ${report.actionsServiceCallsPerJob} Actions-service calls per job (${report.actionsServiceCalls.total} in all: sessions, long polls, deletes, acquires, JIT configs)`);
  console.log(`webhooks  ${report.webhooks.isEnabled ? `${report.webhooks.sent} delivered, ${report.webhooks.failed} refused or failed` : 'off (--poll-only): the poller found every job'}`);
  const f = report.faults;
  const injected = [[f.dropped, 'deliveries dropped'], [f.duplicated, 'duplicated'], [f.reordered, 'reordered'], [f.delayed, 'delayed'], [f.errors, 'API 5xx'], [f.throttled, 'API 429'], [f.noBoot, 'runners that never booted'], [f.died, 'runners killed mid-job']] as const;
  const listed = injected.filter(([count]) => count > 0).map(([count, what]) => `${count} ${what}`);
  console.log(`faults    ${listed.length > 0 ? `${listed.join(', ')} (injected by --faults / --drop-webhooks)` : 'none injected'}`);
  if (report.stateDir) console.log(`state     kept in ${report.stateDir} (SQLite store: ${report.stateDir}/jitpool.sqlite; remove it when done)`);
}

/** Parses a positive integer option or throws a clear error naming the flag. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}
