import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { startRuntime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { JitpoolError, median, round, runnerName, shortId, silentLogger } from '../src/core/index.ts';
import { buildTestImage } from '../src/images/index.ts';
import { NspawnProvider, hostAddressForMachines, type ComputeSpec } from '../src/providers/index.ts';
import { nspawnSkipReason, testNspawnOptions } from '../src/providers/nspawn-test-helpers.ts';
import { startSimulator } from '../src/sim/index.ts';

/** What {@link benchNspawn} measured, in milliseconds (medians of interleaved runs). */
export interface BenchNspawnResult {
  /** `provider.create` called → the runner online (inspect polled every 10 ms), host network / private network. */
  launchToOnlineMs: { host: Stat; private: Stat };
  /** Job queued → in progress through the whole controller: cold (`minIdle: 0`, a machine boots per job) and warm (`minIdle: 1`). */
  queueWaitMs: { cold: Stat; warm: Stat };
  /** The test image: a build from nothing and the no-op rebuild of an unchanged recipe. */
  testImage: { buildMs: number; noopMs: number; rootfsBytes: number };
}

interface Stat {
  median: number;
  samples: number[];
}

const ORG = 'bench-org';

/**
 * Boot-to-online and queue wait of the nspawn provider on this host (issue 19's report figures),
 * against the simulator on a host address so private-network machines reach it. Needs root and
 * systemd-nspawn; throws JP_PROVIDER_UNAVAILABLE naming what is missing.
 */
export async function benchNspawn(options: { runs?: number; onProgress?: (line: string) => void } = {}): Promise<BenchNspawnResult> {
  const skip = nspawnSkipReason();
  if (skip) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `benchNspawn: ${skip}`);
  const runs = options.runs ?? 7;
  const say = options.onProgress ?? (() => {});
  const scratch = mkdtempSync(join('/var/tmp', 'jitpool-bench-nspawn-'));
  try {
    let started = performance.now();
    const image = await buildTestImage(join(scratch, 'image'), silentLogger());
    const buildMs = performance.now() - started;
    started = performance.now();
    await buildTestImage(join(scratch, 'image'), silentLogger());
    const noopMs = performance.now() - started;
    say(`test image: build ${round(buildMs)} ms, no-op ${round(noopMs)} ms`);

    const sim = await startSimulator({ host: hostAddressForMachines(), offlineAfterMs: 5000, acquirePollMs: 1000 });
    const octokit = new Octokit({ baseUrl: sim.url, auth: 'ghp_bench', log: { debug() {}, info() {}, warn() {}, error() {} } });
    const launch = { host: [] as number[], private: [] as number[] };
    try {
      const providers = {
        host: new NspawnProvider(testNspawnOptions('bench-nh', join(scratch, 'machines'), image.dir, 'host')),
        private: new NspawnProvider(testNspawnOptions('bench-np', join(scratch, 'machines'), image.dir, 'private')),
      };
      for (let i = -1; i < runs; i++) {
        for (const network of ['host', 'private'] as const) {
          const provider = providers[network];
          const ms = await launchToOnline(provider, await jitSpec(octokit, network === 'host' ? 'bench-nh' : 'bench-np'));
          if (i >= 0) launch[network].push(ms);
        }
        if (i >= 0) say(`launch ${i + 1}/${runs}: host ${round(launch.host.at(-1)!)} ms, private ${round(launch.private.at(-1)!)} ms`);
      }
      const queueWaitMs = { cold: await queueWait(sim.url, sim, image.dir, scratch, 0, runs, say), warm: await queueWait(sim.url, sim, image.dir, scratch, 1, runs, say) };
      return {
        launchToOnlineMs: { host: stat(launch.host), private: stat(launch.private) },
        queueWaitMs,
        testImage: { buildMs: round(buildMs), noopMs: round(noopMs), rootfsBytes: image.manifest.sizes.rootfsBytes },
      };
    } finally {
      await sim.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function launchToOnline(provider: NspawnProvider, spec: ComputeSpec): Promise<number> {
  const started = performance.now();
  try {
    await provider.create(spec);
    for (;;) {
      if ((await provider.inspect(spec.runnerName))?.isOnline) return performance.now() - started;
      if (performance.now() - started > 60_000) throw new JitpoolError('JP_PROVIDER_TIMEOUT', `${spec.runnerName} did not come online in 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await provider.delete(spec.runnerName);
  }
}

/** Queue wait through a whole controller with an nspawn pool: one job at a time, `runs` times. */
async function queueWait(apiUrl: string, sim: Awaited<ReturnType<typeof startSimulator>>, image: string, scratch: string, minIdle: number, runs: number, say: (line: string) => void): Promise<Stat> {
  const stateDir = mkdtempSync(join(scratch, 'state-'));
  const secret = randomBytes(16).toString('hex');
  const labels = ['self-hosted', `bench-${minIdle}-${shortId(3)}`];
  const config = configSchema.parse({
    controllerId: `bq-${shortId(3)}`,
    github: { apiUrl },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0 },
    controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 5 },
    pools: [{
      name: 'bq', scope: { kind: 'org', org: ORG }, labels, minIdle, max: 2, idleGraceSeconds: 3600, bootTimeoutSeconds: 60,
      provider: { kind: 'nspawn', image, workRoot: join(scratch, `qw-${minIdle}`), network: 'private', subnet: { pool: '10.221.0.0/16', prefixLength: 30 }, cpus: 1, memoryMb: 256, pidsLimit: 256, killGraceSeconds: 3 },
    }],
  });
  const runtime = await startRuntime({ config, logger: silentLogger(), env: { JITPOOL_GITHUB_TOKEN: 'ghp_bench', JITPOOL_WEBHOOK_SECRET: secret, JITPOOL_API_TOKEN: 'bench-nspawn-admin-token' } });
  sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });
  const samples: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      // Warm: wait for the idle machine to be online at GitHub; cold: for every machine of the last job to be gone.
      if (minIdle > 0) await sim.waitFor((s) => s.runners().some((r) => r.status === 'online' && r.jobId === null && r.labels.includes(labels[1]!)), 60_000);
      else await sim.waitFor(() => runtime.store.listLiveRunners().length === 0, 60_000);
      const queuedAt = performance.now();
      const job = sim.queueJob({ owner: ORG, repo: 'app', labels, durationMs: 200 });
      await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status !== 'queued', 60_000);
      samples.push(performance.now() - queuedAt);
      await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 60_000);
      say(`queue wait (${minIdle > 0 ? 'warm' : 'cold'}) ${i + 1}/${runs}: ${round(samples.at(-1)!)} ms`);
    }
  } finally {
    await runtime.controller.drain(30_000);
    await runtime.stop(10_000);
  }
  return stat(samples);
}

async function jitSpec(octokit: Octokit, controllerId: string): Promise<ComputeSpec> {
  const id = shortId();
  const name = runnerName('bench', id);
  const labels = ['self-hosted', `bench-${id}`];
  const { data } = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: ORG, name, runner_group_id: 1, labels });
  return { runnerId: id, runnerName: name, pool: 'bench', controllerId, labels, jitConfig: data.encoded_jit_config, context: {} };
}

function stat(samples: number[]): Stat {
  return { median: round(median(samples)), samples: samples.map((v) => round(v)) };
}

if (import.meta.main) {
  const runs = Number(process.argv[2] ?? 7);
  console.log(JSON.stringify(await benchNspawn({ runs, onProgress: (line) => console.error(line) })));
}
