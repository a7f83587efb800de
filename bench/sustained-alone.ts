import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { median, round } from '../src/core/index.ts';
import { startSimulator } from '../src/sim/index.ts';
import { startRunnerHost } from './runner-host.ts';

/** Clock ticks per second of /proc/PID/stat's utime and stime (100 on Linux). */
const CLOCK_TICKS = 100;

/** One sample of the controller process. */
interface Sample {
  atS: number;
  rssMb: number;
  busy: number;
}

/**
 * Sustained load with the controller measured alone: the controller (`bench/controller-alone.ts`)
 * runs in its own process; the simulator and the runners (in-process fake runners on a runner
 * host) run here. Its RSS and CPU are read from /proc every 2 s. Starts at steady state
 * (`concurrent` jobs already queued), then jobs arrive at `jobsPerHour`.
 *
 * Growth is the median RSS of the last third of the samples minus that of the middle third, per
 * minute: flat (about 0) once the workload is steady.
 */
export async function benchSustainedAlone(options: { jobsPerHour: number; concurrent: number; seconds: number }) {
  const sim = await startSimulator({ offlineAfterMs: 5000 });
  const host = await startRunnerHost();
  const secret = randomBytes(16).toString('hex');
  const child = spawn(process.execPath, [new URL('./controller-alone.ts', import.meta.url).pathname], {
    env: {
      ...process.env,
      JP_BENCH_SIM_URL: sim.url, JP_BENCH_RUNNER_HOST_URL: host.url, JP_BENCH_MAX: String(options.concurrent + 50),
      JP_BENCH_TOKEN: `ghp_${randomBytes(12).toString('hex')}`, JP_BENCH_SECRET: secret, JP_BENCH_API_TOKEN: randomBytes(16).toString('hex'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the controller process exited with code ${code} before it listened`)));
    });
    const { url } = JSON.parse(first) as { url: string };
    sim.setWebhookTarget({ url: `${url}/webhook`, secret });

    const perSecond = options.jobsPerHour / 3600;
    const durationMs = Math.round((options.concurrent / perSecond) * 1000);
    const job = (ms: number) => sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: ms });
    const startMs = performance.now();
    const startCpu = cpuTicks(child.pid!);
    const samples: Sample[] = [];
    const sample = setInterval(() => {
      samples.push({ atS: round((performance.now() - startMs) / 1000, 1), rssMb: rssMb(child.pid!), busy: sim.jobs().filter((j) => j.status === 'in_progress').length });
    }, 2000);
    for (let i = 0; i < options.concurrent; i += 1) job(Math.round(Math.random() * durationMs));
    const arrivals = Math.floor(perSecond * options.seconds);
    for (let i = 0; i < arrivals; i += 1) {
      const wait = startMs + (i / perSecond) * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      job(durationMs);
    }
    const remaining = startMs + options.seconds * 1000 - performance.now();
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
    clearInterval(sample);
    const wallS = (performance.now() - startMs) / 1000;
    const cpuShare = ((cpuTicks(child.pid!) - startCpu) / CLOCK_TICKS / wallS) * 100;
    const third = Math.max(1, Math.floor(samples.length / 3));
    const middle = samples.slice(third, 2 * third).map((s) => s.rssMb);
    const last = samples.slice(2 * third).map((s) => s.rssMb);
    const minutesApart = samples.length > 2 ? (median(samples.slice(2 * third).map((s) => s.atS)) - median(samples.slice(third, 2 * third).map((s) => s.atS))) / 60 : 0;
    const jobs = sim.jobs();
    return {
      jobsPerHour: options.jobsPerHour,
      concurrentTarget: options.concurrent,
      seconds: options.seconds,
      maxBusySeen: Math.max(0, ...samples.map((s) => s.busy)),
      jobsStarted: jobs.filter((j) => j.status !== 'queued').length,
      jobsQueuedAtEnd: jobs.filter((j) => j.status === 'queued').length,
      controller: {
        rssMb: { peak: round(Math.max(0, ...samples.map((s) => s.rssMb))), median: round(median(samples.map((s) => s.rssMb))) },
        growthMbPerMin: minutesApart > 0 ? round((median(last) - median(middle)) / minutesApart, 2) : null,
        cpuSharePercent: round(cpuShare),
      },
      samples,
      note: 'controller alone in its own process; simulator and runners in the benchmark process',
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
    await host.close();
    await sim.close();
  }
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return line ? round(Number(line.replace(/\D+/g, '')) / 1024, 1) : 0;
}

function cpuTicks(pid: number): number {
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
