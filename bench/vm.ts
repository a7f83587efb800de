import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { startRuntime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { JitpoolError, median, round, runnerName, shortId, silentLogger } from '../src/core/index.ts';
import { VmProvider, type ComputeSpec } from '../src/providers/index.ts';
import { ensureVmTestImage } from '../src/providers/vm-test-image.ts';
import { startSimulator } from '../src/sim/index.ts';

/** Options of {@link benchVm}. */
export interface BenchVmOptions {
  /** Boots measured at the provider. @default 5 */
  boots?: number;
  /** Jobs measured cold and warm each. @default 3 */
  jobs?: number;
  /** @default 'tcg' */
  accel?: 'kvm' | 'tcg' | 'auto';
  onProgress?: (line: string) => void;
}

/** What {@link benchVm} measured (milliseconds, bytes). */
export interface BenchVmResult {
  accel: string;
  /** `provider.create` called → QEMU up and its QMP answering (the JIT config file deleted). */
  createMs: { median: number; samples: number[] };
  /** `provider.create` called → the runner in the guest printed "Listening for Jobs". */
  bootToOnlineMs: { median: number; samples: number[] };
  /** Job queued → in progress with no machine waiting (minIdle 0): a whole VM boot per job. */
  coldQueueWaitMs: { median: number; samples: number[] };
  /** Job queued → in progress with a booted machine waiting (minIdle 1). */
  warmQueueWaitMs: { median: number; samples: number[] };
  sizes: { diskApparentBytes: number; diskAllocatedBytes: number; kernelBytes: number; initrdBytes: number; overlayAfterJobBytes: number };
}

/** Boot and queue-wait figures of the `vm` provider on the fake-runner test image. */
export async function benchVm(options: BenchVmOptions = {}): Promise<BenchVmResult> {
  const accel = options.accel ?? 'tcg';
  const image = await ensureVmTestImage();
  const workRoot = mkdtempSync('/tmp/jp-vm-bench-');
  const say = options.onProgress ?? (() => {});
  try {
    const boot = await measureBoots(image.dir, workRoot, accel, options.boots ?? 5, say);
    const cold = await measureQueueWait(image.dir, join(workRoot, 'cold'), accel, 0, options.jobs ?? 3, say);
    const warm = await measureQueueWait(image.dir, join(workRoot, 'warm'), accel, 1, options.jobs ?? 3, say);
    const allocated = Number(execFileSync('du', ['-B1', image.disk], { encoding: 'utf8' }).split(/\s+/)[0]);
    const stat = (samples: number[]) => ({ median: round(median(samples)), samples: samples.map((v) => round(v)) });
    return {
      accel,
      createMs: stat(boot.create),
      bootToOnlineMs: stat(boot.online),
      coldQueueWaitMs: stat(cold),
      warmQueueWaitMs: stat(warm),
      sizes: { diskApparentBytes: statSync(image.disk).size, diskAllocatedBytes: allocated, kernelBytes: image.kernelBytes, initrdBytes: statSync(image.initrd).size, overlayAfterJobBytes: boot.overlayBytes },
    };
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }
}

async function measureBoots(image: string, workRoot: string, accel: BenchVmOptions['accel'] & string, boots: number, say: (line: string) => void) {
  const sim = await startSimulator({ advertiseHost: '10.0.2.2', offlineAfterMs: 8000, acquirePollMs: 2000 });
  const octokit = new Octokit({ baseUrl: sim.url, auth: 'ghp_bench', log: { debug() {}, info() {}, warn() {}, error() {} } });
  const controllerId = `vmb-${shortId(3)}`;
  const provider = new VmProvider({ controllerId, image, workRoot, accel, cpus: 1, memoryMb: 512, diskGb: null, killGraceSeconds: 1, logger: silentLogger() });
  const create: number[] = [];
  const online: number[] = [];
  let overlayBytes = 0;
  try {
    for (let i = 0; i < boots; i += 1) {
      const spec = await jitSpec(octokit, controllerId);
      const started = performance.now();
      await provider.create(spec);
      create.push(performance.now() - started);
      for (;;) {
        if ((await provider.inspect(spec.runnerName))?.isOnline) break;
        if (performance.now() - started > 300_000) throw new JitpoolError('JP_PROVIDER_TIMEOUT', `${spec.runnerName} not online after 300 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      online.push(performance.now() - started);
      say(`boot ${i + 1}/${boots}: create ${round(create.at(-1)!)} ms, online ${round(online.at(-1)!)} ms`);
      // One job on the last one, to see what a job's writes cost in the overlay.
      if (i === boots - 1) {
        sim.queueJob({ owner: 'bench-org', repo: 'app', labels: spec.labels, durationMs: 500 });
        await sim.waitFor((s) => s.jobs().every((job) => job.status === 'completed'), 120_000);
        overlayBytes = Number(execFileSync('du', ['-B1', join(workRoot, spec.runnerName, 'overlay.qcow2')], { encoding: 'utf8' }).split(/\s+/)[0]);
      }
      await provider.delete(spec.runnerName);
    }
  } finally {
    await provider.close();
    await sim.close();
  }
  return { create, online, overlayBytes };
}

/** `jitpool up`'s runtime with one vm pool; each job is queued once the pool is at rest (warm: an idle runner online). */
async function measureQueueWait(image: string, workRoot: string, accel: string, minIdle: number, jobs: number, say: (line: string) => void): Promise<number[]> {
  const sim = await startSimulator({ advertiseHost: '10.0.2.2', offlineAfterMs: 8000, acquirePollMs: 2000 });
  const stateDir = mkdtempSync('/tmp/jp-vm-bench-state-');
  const secret = randomBytes(16).toString('hex');
  const labels = ['self-hosted', 'linux', 'vm'];
  const config = configSchema.parse({
    controllerId: `vmq-${shortId(3)}`,
    github: { apiUrl: sim.url },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0 },
    controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 5 },
    pools: [{
      name: 'vm', scope: { kind: 'org', org: 'bench-org' }, labels, minIdle, max: 2, idleGraceSeconds: 3600, bootTimeoutSeconds: 300,
      provider: { kind: 'vm', image, accel, cpus: 1, memoryMb: 512, killGraceSeconds: 1, workRoot },
    }],
  });
  const runtime = await startRuntime({ config, logger: silentLogger(), env: { JITPOOL_GITHUB_TOKEN: 'ghp_vm_bench', JITPOOL_WEBHOOK_SECRET: secret, JITPOOL_API_TOKEN: 'vm-bench-admin-token' } });
  sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });
  const waits: number[] = [];
  try {
    for (let i = 0; i < jobs; i += 1) {
      // At rest: cold — no runner alive at all; warm — one idle runner online.
      await sim.waitFor((s) => (minIdle === 0 ? runtime.store.listLiveRunners().length === 0 : s.runners().some((r) => r.status === 'online' && r.jobId === null)), 300_000);
      const queuedAt = performance.now();
      const job = sim.queueJob({ owner: 'bench-org', repo: 'app', labels, durationMs: 500 });
      await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status !== 'queued', 300_000);
      waits.push(performance.now() - queuedAt);
      say(`${minIdle === 0 ? 'cold' : 'warm'} job ${i + 1}/${jobs}: queue wait ${round(waits.at(-1)!)} ms`);
      await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 300_000);
    }
  } finally {
    await runtime.controller.drain(60_000).catch(() => 0);
    await runtime.stop(10_000);
    await sim.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
  return waits;
}

async function jitSpec(octokit: Octokit, controllerId: string): Promise<ComputeSpec> {
  const id = shortId();
  const name = runnerName('bench', id);
  const labels = ['self-hosted', `bench-${id}`];
  const { data } = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'bench-org', name, runner_group_id: 1, labels });
  return { runnerId: id, runnerName: name, pool: 'bench', controllerId, labels, jitConfig: data.encoded_jit_config, context: {} };
}

if (import.meta.main) {
  const accel = (process.argv[2] ?? 'tcg') as 'kvm' | 'tcg' | 'auto';
  const result = await benchVm({ accel, boots: Number(process.argv[3] ?? 5), jobs: Number(process.argv[4] ?? 3), onProgress: (line) => console.error(line) });
  console.log(JSON.stringify(result));
}
