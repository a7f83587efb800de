import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { median, round } from '../src/core/index.ts';
import { FAKE_RUNNER_SCRIPT, generateWorkload, mulberry32, startSimulator } from '../src/sim/index.ts';

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  kills: number;
  jobs: number;
  seed?: number;
  /** Pool max (the simulator's record must never show more registrations alive). @default 6 */
  max?: number;
  /** Where the controller's logs go (kept for inspection). */
  logFile?: string;
}

/** The chaos report (`npm run chaos -- --json` prints it). */
export interface ChaosReport {
  kills: number;
  jobs: { submitted: number; completed: number; lost: number };
  leaked: { compute: number; registrations: number };
  maxConcurrent: { seen: number; limit: number };
  busyRunnersKilled: number;
  recoveryMs: { median: number; samples: number };
}

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/**
 * Runs a workload while the controller process is killed with SIGKILL at random moments and
 * restarted. Runner processes outlive the controller (as they would on a real host) and webhooks
 * sent while it is down are lost for good, so every job must be found again by the restarted
 * controller's reconcile and poller.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const random = mulberry32(options.seed ?? 42);
  const max = options.max ?? 6;
  const stateDir = mkdtempSync(join(tmpdir(), 'jitpool-chaos-'));
  const port = await freePort();
  const secret = randomBytes(16).toString('hex');
  const token = `ghp_${randomBytes(16).toString('hex')}`;
  const sim = await startSimulator({ offlineAfterMs: 4000 });
  sim.setWebhookTarget({ url: `http://127.0.0.1:${port}/webhook`, secret });
  sim.setWorkflowFile('chaos', 'app', '.github/workflows/ci.yml', 'jobs:\n  a:\n    runs-on: [self-hosted, linux]\n');
  const configFile = join(stateDir, 'jitpool.yaml');
  writeFileSync(
    configFile,
    [
      'controllerId: chaos',
      `github: { apiUrl: "${sim.url}", auth: { kind: pat, token: { env: [CHAOS_TOKEN] } } }`,
      'webhook: { secret: { env: [CHAOS_SECRET] } }',
      'poll: { backstopIntervalSeconds: 2 }',
      `store: { stateDir: "${stateDir}" }`,
      `api: { host: 127.0.0.1, port: ${port}, auth: { token: { env: [CHAOS_API_TOKEN] } } }`,
      'controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 3, ghostMinAgeSeconds: 5 }',
      'log: { level: info }',
      'pools:',
      `  - { name: chaos, scope: { kind: org, org: chaos }, labels: [self-hosted, linux], max: ${max}, idleGraceSeconds: 1, bootTimeoutSeconds: 30,`,
      `      provider: { kind: process, command: ["${process.execPath}", "${FAKE_RUNNER_SCRIPT}"], killGraceSeconds: 3 } }`,
    ].join('\n'),
  );
  const logFd = openSync(options.logFile ?? join(stateDir, 'controller.log'), 'a');

  // The simulator's record: registrations alive at once, and busy runners that vanished.
  let alive = 0;
  let maxSeen = 0;
  const registrations: Array<{ atMs: number }> = [];
  sim.on('runner', (_runner, change) => {
    if (change === 'registered') {
      alive += 1;
      maxSeen = Math.max(maxSeen, alive);
      registrations.push({ atMs: performance.now() });
    } else if (change === 'deleted') alive -= 1;
  });

  let child: ChildProcess | null = null;
  const start = () => {
    child = spawn(process.execPath, [MAIN, 'up', '-c', configFile], {
      env: { PATH: process.env.PATH ?? '', CHAOS_TOKEN: token, CHAOS_SECRET: secret, CHAOS_API_TOKEN: randomBytes(16).toString('hex') },
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
    await sim.waitFor((s) => s.jobs().length === workload.length && s.jobs().every((j) => j.status === 'completed'), 240_000);
  } catch {
    // Reported below as lost jobs.
  }
  for (const timer of timers) clearTimeout(timer);
  // Let the controller clean up what the last jobs left (runner exits, ghosts past their minimum age).
  const workRoot = join(stateDir, 'work');
  const computeLeft = () => {
    try {
      return readdirSync(workRoot).length;
    } catch {
      return 0;
    }
  };
  const deadline = performance.now() + 60_000;
  while ((computeLeft() > 0 || sim.runners().length > 0) && performance.now() < deadline) await sleep(250);
  const exited = new Promise((resolve) => (child as ChildProcess | null)?.once('exit', resolve));
  (child as ChildProcess | null)?.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  closeSync(logFd);

  const jobs = sim.jobs();
  const completed = jobs.filter((j) => j.status === 'completed').length;
  // A fake runner reports success; a failed job means its runner died mid-job (killed while busy).
  const busyRunnersKilled = jobs.filter((j) => j.conclusion === 'failure').length;
  const recovery = restarts
    .map((at) => registrations.find((r) => r.atMs >= at)?.atMs)
    .map((first, i) => (first === undefined ? null : first - restarts[i]!))
    .filter((ms): ms is number => ms !== null && ms < 15_000);
  const report: ChaosReport = {
    kills: options.kills,
    jobs: { submitted: jobs.length, completed, lost: jobs.length - completed },
    leaked: { compute: computeLeft(), registrations: sim.runners().length },
    maxConcurrent: { seen: maxSeen, limit: max },
    busyRunnersKilled,
    recoveryMs: { median: round(median(recovery)), samples: recovery.length },
  };
  await sim.close();
  if (!options.logFile) rmSync(stateDir, { recursive: true, force: true });
  return report;
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
  const report = await runChaos({ kills: flag('--kills', 20), jobs: flag('--jobs', 200), seed: flag('--seed', 42) });
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(report)}\n`);
  else console.log(report);
  process.exitCode = report.jobs.lost === 0 && report.leaked.compute === 0 && report.leaked.registrations === 0 && report.maxConcurrent.seen <= report.maxConcurrent.limit && report.busyRunnersKilled === 0 ? 0 : 1;
}
