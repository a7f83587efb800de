import { configSchema, type Config } from '../config/index.ts';
import { JitpoolError, isSafeOwner, isSafeRepo } from '../core/index.ts';
import { DEFAULT_TOKEN_ENVS, parseLabelList } from './github-options.ts';
import { runnerSha256Flag } from './runner-once.ts';

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
    : { kind: 'process' as const, runner: { version: flags.runnerVersion, ...(runnerSha256Flag(flags.runnerSha256) ? { sha256: runnerSha256Flag(flags.runnerSha256) } : {}), ...(flags.runnerUrlTemplate ? { urlTemplate: flags.runnerUrlTemplate } : {}), ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}) } };
  const webhookEnabled = flags.webhookSecretEnv !== undefined;
  const parsed = configSchema.safeParse({
    controllerId: flags.controllerId,
    github: { apiUrl: flags.apiUrl, auth: { kind: 'pat', token: { env: flags.tokenEnv ? [flags.tokenEnv] : [...DEFAULT_TOKEN_ENVS] } } },
    webhook: { enabled: webhookEnabled, secret: { env: webhookEnabled ? [flags.webhookSecretEnv] : ['JITPOOL_WEBHOOK_SECRET'] } },
    store: { stateDir: flags.stateDir },
    api: { host: flags.host, port: flags.port },
    // Without webhooks the poller backstop (intake/) reads the queue every --poll seconds.
    poll: { intervalSeconds: flags.poll ?? 15 },
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
