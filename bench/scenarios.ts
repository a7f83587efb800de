import { startHarness, until } from '../test/helpers/harness.ts';
import { runDemo } from '../src/cli/demo.ts';
import { Controller, type PoolRuntime } from '../src/controller/index.ts';
import { percentile, round, silentLogger, systemClock, median } from '../src/core/index.ts';
import type { GitHubApi } from '../src/github/index.ts';
import { MemoryProvider } from '../src/providers/index.ts';
import { Store } from '../src/store/index.ts';

/** Latency summary in milliseconds. */
export interface Latency {
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  samples: number;
}

function summarize(values: number[]): Latency {
  return { p50Ms: round(percentile(values, 50)), p95Ms: round(percentile(values, 95)), maxMs: round(Math.max(0, ...values)), samples: values.length };
}

/**
 * Controller overhead: from a `queued` webhook recorded to the provider's create call, on an
 * instant in-memory provider. The k-th create is paired with the k-th queued job (runners are
 * not bound to jobs, so order is the only pairing there is).
 */
export async function benchOverhead(options: { burst: number; steadyPerSecond: number; steadySeconds: number }): Promise<{ burst: Latency; steady: Latency }> {
  const run = async (schedule: (queue: () => void) => Promise<void>, jobs: number): Promise<Latency> => {
    const h = await startHarness({ runFakeRunners: false, pool: { max: jobs + 10, bootTimeoutSeconds: 600 }, config: { github: { writeConcurrency: 16 }, controller: { concurrency: 32, reconcileIntervalSeconds: 5, githubSyncIntervalSeconds: 600 } } });
    const queuedAt: number[] = [];
    const off = h.runtime.store.onTransition((transition) => {
      if (transition.entity === 'job' && transition.toState === 'queued' && transition.fromState === null) queuedAt.push(performance.now());
    });
    try {
      await schedule(() => h.sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 1000 }));
      await until(() => h.provider.created.length >= jobs, `${jobs} creates`, 120_000);
      const creates = h.provider.created.map((c) => c.atMs);
      return summarize(creates.slice(0, queuedAt.length).map((at, i) => at - queuedAt[i]!));
    } finally {
      off();
      await h.close();
    }
  };
  const burst = await run(async (queue) => {
    for (let i = 0; i < options.burst; i += 1) queue();
  }, options.burst);
  const steadyJobs = options.steadyPerSecond * options.steadySeconds;
  const steady = await run(async (queue) => {
    const intervalMs = 1000 / options.steadyPerSecond;
    const start = performance.now();
    for (let i = 0; i < steadyJobs; i += 1) {
      const wait = start + i * intervalMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      queue();
    }
  }, steadyJobs);
  return { burst, steady };
}

/** Queue wait and API calls per job on the demo workload (process provider, fake runners). */
export async function benchQueueWait(options: { jobs: number; pollJobs: number }) {
  const webhook = await runDemo({ jobs: options.jobs, seed: 21, logLevel: 'error' });
  const dropped30 = await runDemo({ jobs: options.jobs, seed: 21, logLevel: 'error', dropWebhooks: 0.3 });
  const poll10s = await runDemo({ jobs: options.pollJobs, seed: 21, logLevel: 'error', pollOnly: true, pollIntervalSeconds: 10 });
  return { webhook, dropped30, poll10s };
}

/** Runners launched per job beyond one (0.09 = 9 % extra launches), from a demo report. */
export function extraLaunchesPerJob(report: { jobs: { submitted: number }; runners: { launched: number } }): number {
  return report.jobs.submitted === 0 ? 0 : round(Math.max(0, report.runners.launched / report.jobs.submitted - 1), 3);
}

/**
 * Cold versus warm start on the same small burst: cold has minIdle 0, warm keeps minIdle idle
 * runners (≥ the burst) so a job starts on a runner that is already listening.
 */
export async function benchColdWarm(burst: number): Promise<{ cold: Latency; warm: Latency }> {
  const measure = async (minIdle: number): Promise<Latency> => {
    const h = await startHarness({ pool: { minIdle, max: burst + minIdle + 2, idleGraceSeconds: 60 } });
    try {
      if (minIdle > 0) await until(() => h.runtime.store.listLiveRunners().filter((r) => r.state === 'idle').length >= minIdle, 'warm pool', 60_000);
      const queuedAt = new Map<number, number>();
      const startedAt = new Map<number, number>();
      // A warm runner takes the job inside queueJob(), before its id is known here: record both sides.
      const onJob = (job: { id: number; status: string }) => {
        if (job.status === 'in_progress' && !startedAt.has(job.id)) startedAt.set(job.id, performance.now());
      };
      h.sim.on('job', onJob);
      for (let i = 0; i < burst; i += 1) {
        const before = performance.now();
        queuedAt.set(h.sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 300 }).id, before);
      }
      await until(() => startedAt.size >= burst, 'all jobs started', 60_000);
      h.sim.off('job', onJob as never);
      return summarize([...queuedAt].map(([id, at]) => startedAt.get(id)! - at));
    } finally {
      await h.close();
    }
  };
  return { cold: await measure(0), warm: await measure(burst) };
}

/** Counted (non-304) API calls per hour while nothing happens, webhook mode with the poller backstop. */
export async function benchIdle(seconds: number): Promise<{ countedCallsPerHour: number; totalCallsPerHour: number; seconds: number }> {
  const h = await startHarness({ config: { poll: { backstopIntervalSeconds: 1, repos: ['acme/app'] }, controller: { githubSyncIntervalSeconds: 1, reconcileIntervalSeconds: 1 } } });
  try {
    await new Promise((resolve) => setTimeout(resolve, 3000)); // first reads fill the ETag caches
    const before = h.runtime.github.stats();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const after = h.runtime.github.stats();
    const total = after.total - before.total;
    const counted = total - (after.notModified - before.notModified);
    return { countedCallsPerHour: round((counted * 3600) / seconds), totalCallsPerHour: round((total * 3600) / seconds), seconds };
  } finally {
    await h.close();
  }
}

/** Reconcile time (pure plan + store and provider reads) and RSS with `size` runners tracked. */
export async function benchScale(sizes: readonly number[]): Promise<Array<{ runners: number; reconcileMs: number; rssMb: number }>> {
  const out: Array<{ runners: number; reconcileMs: number; rssMb: number }> = [];
  for (const size of sizes) {
    const store = Store.open(':memory:');
    const provider = new MemoryProvider('scale');
    const pool: PoolRuntime = {
      name: 'big', labels: ['self-hosted'], scope: { kind: 'org', org: 'acme' }, runnerGroupId: 1, minIdle: 0, max: size * 2,
      bootTimeoutMs: 3_600_000, jobTimeoutMs: 7_200_000, idleGraceMs: 3_600_000, provider,
    };
    for (let i = 0; i < size; i += 1) {
      const id = `r${i}`;
      store.insertRunner({ id, name: `jp-big-${id}`, pool: 'big', labels: ['self-hosted'] }, 'bench');
      store.updateRunner(id, { state: 'provisioning', githubRunnerId: i + 1, computeId: `jp-big-${id}` }, 'bench');
      store.updateRunner(id, { state: i % 2 === 0 ? 'idle' : 'busy' }, 'bench');
      await provider.create({ runnerId: id, runnerName: `jp-big-${id}`, pool: 'big', controllerId: 'scale', labels: [], jitConfig: 'x', context: {} });
      provider.setOnline(`jp-big-${id}`);
      if (i % 3 === 0) store.observeJob({ id: i + 1, runId: i + 1, owner: 'acme', repo: 'app', name: 'j', labels: ['self-hosted'], state: 'in_progress', conclusion: null, runnerName: `jp-big-${id}`, queuedAtMs: 1, startedAtMs: 2, completedAtMs: null }, 'big', 'bench');
    }
    const controller = new Controller({ controllerId: 'scale', store, github: {} as GitHubApi, pools: [pool], logger: silentLogger(), clock: systemClock });
    const times: number[] = [];
    for (let i = 0; i < 7; i += 1) times.push((await controller.reconcileOnce({ dryRun: true })).durationMs);
    (globalThis as { gc?: () => void }).gc?.();
    out.push({ runners: size, reconcileMs: round(median(times), 2), rssMb: round(process.memoryUsage().rss / 1024 / 1024) });
    store.close();
  }
  return out;
}

/**
 * A sustained load on the instant provider with runners that behave like real ones (in-process):
 * `jobsPerHour` arriving evenly, each lasting long enough for `concurrent` to be busy at once.
 */
export async function benchSustained(options: { jobsPerHour: number; concurrent: number; seconds: number }) {
  const perSecond = options.jobsPerHour / 3600;
  const durationMs = Math.round((options.concurrent / perSecond) * 1000);
  const h = await startHarness({ pool: { max: options.concurrent + 50, idleGraceSeconds: 5 }, config: { github: { writeConcurrency: 16 }, controller: { concurrency: 32 } } });
  try {
    // Start at steady state: `concurrent` jobs already running, then the arrival rate.
    const startCpu = process.cpuUsage();
    const startMs = performance.now();
    for (let i = 0; i < options.concurrent; i += 1) h.sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: Math.round(Math.random() * durationMs) });
    let peakRss = 0;
    let maxBusy = 0;
    const sample = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      maxBusy = Math.max(maxBusy, h.sim.jobs().filter((j) => j.status === 'in_progress').length);
    }, 1000);
    const arrivals = Math.floor(perSecond * options.seconds);
    for (let i = 0; i < arrivals; i += 1) {
      const wait = startMs + (i / perSecond) * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      h.sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs });
    }
    const remaining = startMs + options.seconds * 1000 - performance.now();
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
    clearInterval(sample);
    const cpu = process.cpuUsage(startCpu);
    const wallMs = performance.now() - startMs;
    const jobs = h.sim.jobs();
    return {
      jobsPerHour: options.jobsPerHour,
      concurrentTarget: options.concurrent,
      maxBusySeen: maxBusy,
      seconds: options.seconds,
      jobsStarted: jobs.filter((j) => j.status !== 'queued').length,
      jobsQueuedAtEnd: jobs.filter((j) => j.status === 'queued').length,
      cpuSharePercent: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100),
      rssMb: round(peakRss / 1024 / 1024),
      note: 'one process: controller + simulator + in-process fake runners',
    };
  } finally {
    await h.close();
  }
}
