import { spawn } from 'node:child_process';
import { Octokit } from '@octokit/rest';
import { JitpoolError, median, round, runnerName, shortId } from '../src/core/index.ts';
import { DockerProvider, type ComputeSpec } from '../src/providers/index.ts';
import { RUNNER_ONLINE_MARKER } from '../src/runner/index.ts';
import { testDockerOptions } from '../src/providers/docker-test-helpers.ts';
import { FAKE_RUNNER_IMAGE, ensureFakeRunnerImage, probeDocker, startSimulator, type Simulator } from '../src/sim/index.ts';

/** Options of {@link benchDocker}. */
export interface BenchDockerOptions {
  /** Measurements of each kind (interleaved). @default 5 */
  runs?: number;
  /** Image to run. @default FAKE_RUNNER_IMAGE (built if missing) */
  image?: string;
  /** Receives one line per measurement. */
  onProgress?: (line: string) => void;
}

/** What {@link benchDocker} measured, in milliseconds. */
export interface BenchDockerResult {
  /** From the launch decision (`provider.create` called) to the provider reporting the runner online. */
  launchToOnlineMs: { median: number; samples: number[] };
  /** From spawning `docker run --rm` of the same image to the runner's "Listening for Jobs" line. */
  bareDockerRunMs: { median: number; samples: number[] };
  /** launchToOnline median / bare docker run median: what jitpool's per-runner network, limits and bookkeeping cost. */
  ratio: number;
}

/**
 * Launch latency of the Docker provider next to a bare `docker run --rm` of the same image, both
 * measured in the same run against the simulator (which listens on the bridge gateway so the
 * containers reach it). Needs a Docker engine; throws JP_PROVIDER_UNAVAILABLE without one.
 */
export async function benchDocker(options: BenchDockerOptions = {}): Promise<BenchDockerResult> {
  const runs = options.runs ?? 5;
  const probe = await probeDocker();
  if (!probe.isReachable) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `benchDocker: ${probe.reason}`);
  const image = options.image ?? (await ensureFakeRunnerImage());
  const sim = await startSimulator({ host: probe.bridgeGateway, offlineAfterMs: 5000, acquirePollMs: 2000 });
  const octokit = new Octokit({ baseUrl: sim.url, auth: 'ghp_bench', log: { debug() {}, info() {}, warn() {}, error() {} } });
  const controllerId = `bench-${shortId(3)}`;
  const provider = new DockerProvider(
    testDockerOptions(controllerId, { image, env: {}, network: { subnetPool: '10.216.0.0/16', prefixLength: 28 }, killGraceSeconds: 2 }),
  );
  const launch: number[] = [];
  const bare: number[] = [];
  try {
    // One unmeasured round of each warms the engine's caches (image layers, network driver).
    for (let i = -1; i < runs; i += 1) {
      const viaProvider = await measureProvider(provider, await jitSpec(octokit, controllerId));
      const viaDocker = await measureBareRun(image, (await jitSpec(octokit, controllerId)).jitConfig);
      if (i < 0) continue;
      launch.push(viaProvider);
      bare.push(viaDocker);
      options.onProgress?.(`run ${i + 1}/${runs}: provider ${round(viaProvider)} ms, docker run ${round(viaDocker)} ms`);
    }
  } finally {
    await cleanupRunners(sim);
    await provider.close();
    await sim.close();
  }
  const launchMedian = round(median(launch));
  const bareMedian = round(median(bare));
  return {
    launchToOnlineMs: { median: launchMedian, samples: launch.map((v) => round(v)) },
    bareDockerRunMs: { median: bareMedian, samples: bare.map((v) => round(v)) },
    ratio: round(bareMedian === 0 ? 0 : launchMedian / bareMedian, 2),
  };
}

async function jitSpec(octokit: Octokit, controllerId: string): Promise<ComputeSpec> {
  const id = shortId();
  const name = runnerName('bench', id);
  const labels = ['self-hosted', `bench-${id}`];
  const { data } = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'bench-org', name, runner_group_id: 1, labels });
  const context = { runner_name: name, pool: 'bench', scope: 'bench-org', repo_owner: 'bench-org', repo_name: '', timestamp: '0', hostname: 'bench', controller_id: controllerId };
  return { runnerId: id, runnerName: name, pool: 'bench', controllerId, labels, jitConfig: data.encoded_jit_config, context };
}

async function measureProvider(provider: DockerProvider, spec: ComputeSpec): Promise<number> {
  let resolveOnline!: () => void;
  const online = new Promise<void>((resolve) => (resolveOnline = resolve));
  const unsubscribe = provider.onChange((info) => info.computeId === spec.runnerName && info.isOnline && resolveOnline());
  const started = performance.now();
  try {
    await provider.create(spec);
    await withTimeout(online, 60_000, 'runner online');
    return performance.now() - started;
  } finally {
    unsubscribe();
    await provider.delete(spec.runnerName);
  }
}

/** `docker run --rm` with the JIT config passed by name (-e NAME) so it stays out of argv. */
async function measureBareRun(image: string, jitConfig: string): Promise<number> {
  const name = `jitpool-bench-bare-${shortId()}`;
  const started = performance.now();
  const child = spawn('docker', ['run', '--rm', '--name', name, '-e', 'ACTIONS_RUNNER_INPUT_JITCONFIG', image], {
    env: { ...process.env, ACTIONS_RUNNER_INPUT_JITCONFIG: jitConfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          if (out.includes(RUNNER_ONLINE_MARKER)) resolve();
        });
        child.once('exit', (code) => reject(new Error(`docker run exited with ${code} before the runner was online`)));
      }),
      60_000,
      'bare docker run online',
    );
    return performance.now() - started;
  } finally {
    await new Promise<void>((resolve) => spawn('docker', ['rm', '-f', name], { stdio: 'ignore' }).once('exit', () => resolve()));
    child.kill();
  }
}

async function cleanupRunners(sim: Simulator): Promise<void> {
  // Registrations of deleted runners go offline in the simulator on their own; nothing else is left.
  await sim.waitFor((s) => s.runners().every((r) => r.status === 'offline' || r.jobId === null), 1000).catch(() => {});
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_resolve, reject) => {
      timer = setTimeout(() => reject(new JitpoolError('JP_PROVIDER_TIMEOUT', `timed out waiting for ${what}`)), ms);
    }),
  ]);
}

if (import.meta.main) {
  const runs = Number(process.argv[2] ?? 5);
  const result = await benchDocker({ runs, onProgress: (line) => console.error(line) });
  console.log(JSON.stringify({ image: FAKE_RUNNER_IMAGE, ...result }));
}
