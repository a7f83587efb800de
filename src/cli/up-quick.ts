import { configSchema, type Config } from '../config/index.ts';
import { describeError, JitpoolError, isSafeOwner, isSafeRepo, type Logger } from '../core/index.ts';
import type { GitHubApi, GitHubJob } from '../github/index.ts';
import { selectPool } from '../routing/index.ts';
import type { JobObservation } from '../store/index.ts';
import type { Runtime } from './runtime.ts';
import { DEFAULT_TOKEN_ENVS, parseLabelList } from './github-options.ts';

/**
 * Config-less quick mode of `jitpool up` (seed 000's `ephem_autoscaler.sh`): one pool built from
 * flags, in memory, no YAML. Kept apart from up.ts, which only gains the flags.
 */

/** The flags quick mode reads. */
export interface QuickFlags {
  repo: string;
  labels?: string;
  max?: number;
  cap?: number;
  scaleFromQueue?: boolean;
  poll?: number;
  minIdle?: number;
  apiUrl: string;
  tokenEnv?: string;
  webhookSecretEnv?: string;
  stateDir: string;
  host: string;
  port: number;
  runnerCommand?: string;
  runnerVersion: string;
  runnerSha256?: string;
  runnerUrlTemplate?: string;
  cacheDir?: string;
  controllerId: string;
  logLevel: string;
}

/**
 * Builds the one-pool configuration quick mode runs. `--max N` and `--scale-from-queue --cap N`
 * both bound the pool at N: jitpool always scales from the queue (desired = queued jobs +
 * minIdle, clamped to max), which is what the seed's `--scale-from-queue` asked for.
 */
export function quickConfig(flags: QuickFlags): Config {
  const [owner, repo, ...rest] = flags.repo.split('/');
  if (!owner || !repo || rest.length > 0 || !isSafeOwner(owner) || !isSafeRepo(repo)) {
    throw new JitpoolError('JP_INPUT_INVALID', `--repo: expected OWNER/REPO, got ${JSON.stringify(flags.repo)}`);
  }
  if (flags.max !== undefined && flags.cap !== undefined) throw new JitpoolError('JP_INPUT_INVALID', '--max and --cap both set the upper bound: give one');
  if (flags.cap !== undefined && !flags.scaleFromQueue) throw new JitpoolError('JP_INPUT_INVALID', '--cap goes with --scale-from-queue');
  const labels = parseLabelList(flags.labels ?? 'self-hosted,linux,x64', '--labels');
  const provider = flags.runnerCommand
    ? { kind: 'process' as const, command: parseCommand(flags.runnerCommand) }
    : { kind: 'process' as const, runner: { version: flags.runnerVersion, sha256: requireDigest(flags.runnerSha256), ...(flags.runnerUrlTemplate ? { urlTemplate: flags.runnerUrlTemplate } : {}), ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}) } };
  const webhookEnabled = flags.webhookSecretEnv !== undefined;
  const parsed = configSchema.safeParse({
    controllerId: flags.controllerId,
    github: { apiUrl: flags.apiUrl, auth: { kind: 'pat', token: { env: flags.tokenEnv ? [flags.tokenEnv] : [...DEFAULT_TOKEN_ENVS] } } },
    webhook: { enabled: webhookEnabled, secret: { env: webhookEnabled ? [flags.webhookSecretEnv] : ['JITPOOL_WEBHOOK_SECRET'] } },
    store: { stateDir: flags.stateDir },
    api: { host: flags.host, port: flags.port },
    controller: { reconcileIntervalSeconds: Math.max(1, Math.min(15, flags.poll ?? 15)), githubSyncIntervalSeconds: Math.max(10, flags.poll ?? 60) },
    log: { level: flags.logLevel },
    pools: [{ name: 'quick', scope: { kind: 'repo', owner, repo }, labels, provider, minIdle: flags.minIdle ?? 0, max: flags.cap ?? flags.max ?? 4, idleGraceSeconds: 10 }],
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new JitpoolError('JP_INPUT_INVALID', `quick mode: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function parseCommand(value: string): string[] {
  if (!value.trim().startsWith('[')) return [value];
  try {
    const argv = JSON.parse(value) as unknown;
    if (Array.isArray(argv) && argv.length > 0 && argv.every((a) => typeof a === 'string')) return argv as string[];
  } catch {
    // fall through
  }
  throw new JitpoolError('JP_INPUT_INVALID', '--runner-command: a path, or a JSON array of strings');
}

function requireDigest(sha256: string | undefined): string {
  if (!sha256) throw new JitpoolError('JP_INPUT_INVALID', '--runner-sha256 (or CODEX_RUNNER_SHA256) is required unless --runner-command is given');
  return sha256;
}

/** A REST job as a store observation. */
export function observationOf(job: GitHubJob, owner: string, repo: string): JobObservation {
  const state = job.status === 'completed' ? 'completed' : job.status === 'in_progress' ? 'in_progress' : job.status === 'waiting' ? 'waiting' : 'queued';
  return {
    id: job.id, runId: job.runId, owner, repo, name: job.name.slice(0, 200), labels: job.labels, state, conclusion: job.conclusion,
    runnerName: state === 'queued' || state === 'waiting' ? null : job.runnerName,
    queuedAtMs: Date.parse(job.createdAt) || Date.now(), startedAtMs: job.startedAt ? Date.parse(job.startedAt) : null, completedAtMs: job.completedAt ? Date.parse(job.completedAt) : null,
  };
}

/**
 * Webhook-less demand for quick mode, until the poller backstop in `intake/` is wired in: every
 * `intervalMs`, read the repository's queued and running jobs, record them, re-read jobs the
 * store still thinks open that left both lists (they completed), and kick the controller.
 */
export function startQueueSync(runtime: Runtime, options: { owner: string; repo: string; intervalMs: number; logger: Logger; github?: GitHubApi }): { stop(): Promise<void> } {
  const github = options.github ?? runtime.github;
  const pools = runtime.config.pools.map((pool) => ({ name: pool.name, labels: pool.labels, scope: pool.scope }));
  let running: Promise<void> | null = null;
  const syncOnce = async (): Promise<void> => {
    const seen = new Set<number>();
    let changed = false;
    const observe = (job: GitHubJob) => {
      seen.add(job.id);
      const known = runtime.store.getJob(job.id);
      const pool = known ? known.pool : (selectPool(pools, { owner: options.owner, repo: options.repo, labels: job.labels })?.name ?? null);
      if (!known && pool === null) return;
      if (runtime.store.observeJob(observationOf(job, options.owner, options.repo), pool, 'poll').changed) changed = true;
    };
    for (const status of ['queued', 'in_progress'] as const) for (const job of await github.listWorkflowJobs(options.owner, options.repo, { status })) observe(job);
    for (const open of runtime.store.listOpenJobs()) {
      if (!seen.has(open.id) && open.owner.toLowerCase() === options.owner.toLowerCase() && open.repo.toLowerCase() === options.repo.toLowerCase()) {
        observe(await github.getJob(options.owner, options.repo, open.id));
      }
    }
    if (changed) runtime.controller.kick('poll');
  };
  const tick = () => {
    running ??= syncOnce()
      .catch((err: unknown) => options.logger.warn({ component: 'up.quick', err: describeError(err) }, 'queue sync failed; retrying at the next interval'))
      .finally(() => {
        running = null;
      });
  };
  tick();
  const timer = setInterval(tick, options.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
