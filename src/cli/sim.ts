import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { JitpoolError, isSafeOwner, isSafeRepo, percentile, round } from '../core/index.ts';
import { generateWorkload, parseFaultSpec, startSimulator, type FaultCounts, type SimJob, type Simulator } from '../sim/index.ts';
import { FAKE_RUNNER, positiveInt } from './demo.ts';
import { parseLabelList } from './github-options.ts';

/**
 * `jitpool sim`: the GitHub simulator as a command of its own, so an operator can rehearse a real
 * `jitpool.yaml` (its providers included) against a fake GitHub before the real one, and size
 * pools by replaying the same seeded workload with another `max` or `minIdle` (docs/simulator.md).
 */

/** The flags of `jitpool sim`. */
interface SimFlags {
  host: string;
  port: number;
  org: string[];
  repo: string[];
  token?: string;
  webhookUrl?: string;
  webhookSecret?: string;
  jobs?: number;
  seed: number;
  labels: string[];
  spanSeconds: number;
  jobSeconds: string;
  faults?: string;
  report?: boolean;
  exitWhenDone?: boolean;
  timeoutSeconds: number;
}

/** What `--report` prints when the workload is done: the demo's report fields that the simulator alone can see. */
export interface SimReport {
  seed: number;
  durationMs: number;
  jobs: { submitted: number; completed: number; lost: number; succeeded: number; failed: number };
  /** `launched`: registrations GitHub saw; `busyKilled`: runners deleted or vanished while busy (must be 0). */
  runners: { launched: number; maxConcurrent: number; busyKilled: number };
  queueWaitMs: { p50: number; p95: number; max: number };
  apiCallsPerJob: number;
  apiCalls: { total: number; notModified: number; byEndpoint: Record<string, number> };
  rateLimit: { remainingMin: number };
  faults: FaultCounts;
  webhooks: { sent: number; failed: number };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Registers `jitpool sim`. */
export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('Serve the GitHub simulator (REST API, signed workflow_job webhooks, a fake runner) to rehearse a jitpool.yaml before pointing it at GitHub.')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'listen port (0 picks one)', (v) => port(v), 8090)
    .option('--org <org>', 'an organisation jobs are queued in (repeatable)', collect, [] as string[])
    .option('--repo <owner/repo>', 'a repository jobs are queued in (repeatable; default acme/app)', collect, [] as string[])
    .option('--token <token>', 'the token the simulator accepts (default: a random one, printed)')
    .option('--webhook-url <url>', "deliver workflow_job webhooks here (jitpool's http://HOST:PORT/webhook)")
    .addOption(new Option('--webhook-secret <secret>', 'sign deliveries with this secret (default: a random one, printed)').env('JITPOOL_WEBHOOK_SECRET'))
    .option('--jobs <n>', 'queue a seeded workload of N jobs', (v) => positiveInt(v, '--jobs'))
    .option('--seed <n>', 'workload and fault seed (same seed, same workload)', (v) => positiveInt(v, '--seed'), 1)
    .option('--labels <a,b>', "a job's runs-on labels (repeat for several label sets)", collect, [] as string[])
    .option('--span-seconds <n>', 'spread the jobs over this many seconds', (v) => positiveInt(v, '--span-seconds'), 30)
    .option('--job-seconds <min-max>', 'how long a job runs on the fake runner', '1-10')
    .option('--faults <spec>', 'inject faults, e.g. 5xx=0.1,429burst=1,latency=200ms,drop=0.3 (docs/simulator.md)')
    .option('--report', 'when the workload is done, print its report (one JSON line)')
    .option('--exit-when-done', 'with --jobs: stop once the workload is done (after --report)')
    .option('--timeout-seconds <n>', 'give up waiting for the workload after this long', (v) => positiveInt(v, '--timeout-seconds'), 1800)
    .addHelpText('after', `
Prints one JSON line once it listens: {"apiUrl", "token", "webhookSecret", "runnerCommand"}.
Point a jitpool.yaml at it: github.apiUrl = apiUrl, the token in JITPOOL_GITHUB_TOKEN, the secret
in JITPOOL_WEBHOOK_SECRET, and pools whose provider runs runnerCommand (the fake runner, which
obeys the real runner's contract) instead of the actions runner. See docs/simulator.md.

Examples:
  $ jitpool sim --port 8090 --org acme --webhook-url http://127.0.0.1:8080/webhook
  $ jitpool sim --repo acme/app --jobs 200 --seed 7 --labels self-hosted,linux --report --exit-when-done`)
    .action(async (opts: SimFlags) => {
      await serveSim(opts);
    });
}

async function serveSim(opts: SimFlags): Promise<void> {
  const repos = repositoriesOf(opts);
  const labelSets = (opts.labels.length > 0 ? opts.labels : ['self-hosted,linux']).map((value) => parseLabelList(value, '--labels'));
  const [minJobMs, maxJobMs] = jobDurations(opts.jobSeconds);
  const token = opts.token ?? `ghs_sim_${randomBytes(16).toString('hex')}`;
  const webhookSecret = opts.webhookSecret ?? randomBytes(24).toString('hex');
  const faults = opts.faults === undefined ? {} : faultsOf(opts.faults);
  const sim = await startSimulator({ host: opts.host, port: opts.port, tokens: [token], seed: opts.seed, faults, ...(opts.webhookUrl ? { webhook: { url: opts.webhookUrl, secret: webhookSecret } } : {}) });
  // A workflow asking for the label sets, so jitpool's repository discovery finds every repository.
  const workflow = `name: ci\non: [push]\njobs:\n${labelSets.map((labels, i) => `  job${i}:\n    runs-on: [${labels.join(', ')}]\n    steps:\n      - run: make test`).join('\n')}\n`;
  for (const { owner, repo } of repos) sim.setWorkflowFile(owner, repo, '.github/workflows/ci.yml', workflow);
  process.stdout.write(`${JSON.stringify({ apiUrl: sim.url, token, webhookSecret, runnerCommand: [process.execPath, FAKE_RUNNER], repositories: repos.map((r) => `${r.owner}/${r.repo}`) })}\n`);

  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  if (opts.jobs !== undefined) {
    const report = await runWorkload(sim, { jobs: opts.jobs, seed: opts.seed, repos, labelSets, spanMs: opts.spanSeconds * 1000, minJobMs, maxJobMs, timeoutMs: opts.timeoutSeconds * 1000 }, stopped);
    if (report && opts.report) process.stdout.write(`${JSON.stringify(report)}\n`);
    if (report && report.jobs.lost > 0) process.exitCode = 1;
    if (opts.exitWhenDone || !report) {
      await sim.close();
      return;
    }
  }
  await stopped;
  await sim.close();
}

/** Queues the seeded workload and waits for every job to complete (or the timeout, or a signal). */
async function runWorkload(
  sim: Simulator,
  plan: { jobs: number; seed: number; repos: Array<{ owner: string; repo: string }>; labelSets: string[][]; spanMs: number; minJobMs: number; maxJobMs: number; timeoutMs: number },
  stopped: Promise<void>,
): Promise<SimReport | null> {
  const workload = generateWorkload({
    jobs: plan.jobs, seed: plan.seed, owner: '', repos: plan.repos.map((r) => `${r.owner}/${r.repo}`), labelSets: plan.labelSets,
    spanMs: plan.spanMs, minDurationMs: plan.minJobMs, maxDurationMs: plan.maxJobMs,
  });
  const queuedAt = new Map<number, number>();
  const waits = new Map<number, number>();
  const registrations = new Set<string>();
  const onJob = (job: SimJob) => {
    const start = queuedAt.get(job.id);
    if (start !== undefined && job.status !== 'queued' && !waits.has(job.id)) waits.set(job.id, performance.now() - start);
  };
  const onRunner = (runner: { name: string }) => registrations.add(runner.name);
  sim.on('job', onJob);
  sim.on('runner', onRunner);
  const started = performance.now();
  const timers = workload.map((item) =>
    setTimeout(() => {
      const [owner = '', repo = ''] = item.repo.split('/');
      const job = sim.queueJob({ owner, repo, labels: item.labels, durationMs: item.durationMs, name: item.name });
      queuedAt.set(job.id, performance.now());
    }, item.atMs),
  );
  let isStopped = false;
  const done = sim.waitFor((s) => s.jobs().length === workload.length && s.jobs().every((j) => j.status === 'completed'), plan.timeoutMs).then(() => true, () => false);
  const finished = await Promise.race([done, stopped.then(() => { isStopped = true; return false; })]);
  for (const timer of timers) clearTimeout(timer);
  sim.off('job', onJob as never);
  sim.off('runner', onRunner as never);
  if (isStopped) return null;
  if (!finished) process.stderr.write(`jitpool: JP_SLO_MISSED: the workload did not finish within the timeout — is jitpool running against ${sim.url}?\n`);
  return simReport(sim, { seed: plan.seed, durationMs: Math.round(performance.now() - started), waits, launched: registrations.size });
}

/** The report of the workload from the simulator's view. */
export function simReport(sim: Simulator, run: { seed: number; durationMs: number; waits: ReadonlyMap<number, number>; launched: number }): SimReport {
  const jobs = sim.jobs();
  const stats = sim.stats();
  const completed = jobs.filter((j) => j.status === 'completed').length;
  const waitValues = [...run.waits.values()];
  return {
    seed: run.seed,
    durationMs: run.durationMs,
    jobs: { submitted: jobs.length, completed, lost: jobs.length - completed, succeeded: jobs.filter((j) => j.conclusion === 'success').length, failed: jobs.filter((j) => j.conclusion === 'failure').length },
    runners: { launched: run.launched, maxConcurrent: stats.maxConcurrentRunners.overall, busyKilled: stats.busyRunnersDeleted + stats.busyRunnersKilled },
    queueWaitMs: { p50: round(percentile(waitValues, 50)), p95: round(percentile(waitValues, 95)), max: round(Math.max(0, ...waitValues)) },
    apiCallsPerJob: round(jobs.length === 0 ? 0 : stats.calls.total / jobs.length, 2),
    apiCalls: { total: stats.calls.total, notModified: stats.calls.notModified, byEndpoint: stats.calls.byEndpoint },
    rateLimit: stats.rateLimit,
    faults: { ...stats.faults },
    webhooks: stats.webhooks,
  };
}

function repositoriesOf(opts: SimFlags): Array<{ owner: string; repo: string }> {
  const repos = opts.repo.map((value) => {
    const [owner = '', repo = '', ...rest] = value.split('/');
    if (rest.length > 0 || !isSafeOwner(owner) || !isSafeRepo(repo)) throw new JitpoolError('JP_INPUT_INVALID', `--repo: expected OWNER/REPO, got ${JSON.stringify(value)}`);
    return { owner, repo };
  });
  for (const org of opts.org) {
    if (!isSafeOwner(org)) throw new JitpoolError('JP_INPUT_INVALID', `--org: not a valid organisation name: ${JSON.stringify(org)}`);
    // An organisation without a --repo of its own gets one repository, `ci`, for its jobs.
    if (!repos.some((r) => r.owner.toLowerCase() === org.toLowerCase())) repos.push({ owner: org, repo: 'ci' });
  }
  return repos.length > 0 ? repos : [{ owner: 'acme', repo: 'app' }];
}

function jobDurations(value: string): [number, number] {
  const match = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(value);
  const [min, max] = match ? [Number(match[1]) * 1000, Number(match[2]) * 1000] : [NaN, NaN];
  if (!(min > 0) || !(max >= min)) throw new JitpoolError('JP_INPUT_INVALID', `--job-seconds: expected MIN-MAX seconds (e.g. 1-10), got ${JSON.stringify(value)}`);
  return [min, max];
}

function faultsOf(spec: string): ReturnType<typeof parseFaultSpec> {
  try {
    return parseFaultSpec(spec);
  } catch (err) {
    throw new JitpoolError('JP_INPUT_INVALID', `--faults: ${(err as Error).message}`);
  }
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port takes a port number 0-65535, got ${JSON.stringify(value)}`);
  return n;
}
