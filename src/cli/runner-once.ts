import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Option, type Command } from 'commander';
import { JitpoolError, registerSecret, shortId, type Logger } from '../core/index.ts';
import type { GitHubApi } from '../github/index.ts';
import {
  createRunnerRoot, DEFAULT_RUNNER_VERSION, defaultRunnerCacheDir, ensureRunnerPackage, runListener, type RunnerExitMeaning, type RunnerPackageSpec,
} from '../runner/index.ts';
import { DEFAULT_FALLBACK_LABELS, minimalLabelSet } from '../routing/index.ts';
import { addGitHubOptions, githubFromFlags, parseLabelList, positiveInteger, printJson, repoScope, runCommand, stderrLogger, type GitHubFlags } from './github-options.ts';

const execFileAsync = promisify(execFile);

/** Options of {@link runOnce}. */
export interface RunOnceOptions {
  owner: string;
  repo: string;
  /** Explicit labels; or `autoLabels` from the queued jobs of `branch`. */
  labels?: string[];
  autoLabels?: boolean;
  branch?: string;
  fallbackLabels?: string[];
  package: RunnerPackageSpec;
  /** The runner's work folder name inside its root (seed 000's `--work-dir`). @default _work */
  workFolder?: string;
  /** @default jitpool-once */
  namePrefix?: string;
  runnerGroupId?: number;
  /** Allow the runner to update itself (config.sh path only). @default false */
  allowUpdate?: boolean;
  /** `jit` (default) or `registration-token` (config.sh --ephemeral). */
  mode?: 'jit' | 'registration-token';
  /** A registration token given by the operator (seed 000's CODEX_RUNNER_TOKEN); minted through REST when absent. */
  registrationToken?: string;
  /** Where the runner root goes. @default <cacheDir>/../roots/<name> */
  rootDir?: string;
  keepRoot?: boolean;
  /** GitHub's web URL for config.sh `--url` (derived from the API URL). */
  webUrl: string;
  /** Environment given to the runner. @default PATH, LANG, HOME */
  env?: Record<string, string>;
  /** Where the runner's output goes. @default 'inherit' */
  stdio?: 'inherit' | 'ignore' | 'stderr';
  signal?: AbortSignal;
  logger: Logger;
}

/** What `runner once` reports (and prints under `--json`). */
export interface RunOnceReport {
  ok: boolean;
  mode: 'jit' | 'registration-token';
  runnerName: string;
  runnerId: number | null;
  labels: string[];
  labelSource: 'flags' | 'queue' | 'fallback';
  version: string;
  root: string;
  exitCode: number | null;
  exit: RunnerExitMeaning;
  /** True when jitpool removed a registration the runner left behind (it never took a job). */
  deregistered: boolean;
}

/** The github.com URL that matches an API URL (api.github.com → github.com, GHES /api/v3 → host). */
export function webUrlOf(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (url.hostname === 'api.github.com') return 'https://github.com';
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/api\/v3\/?$/, '').replace(/\/+$/, '')}`;
}

/**
 * One ephemeral runner in the foreground for one job (seed 000's `ephem_runner.sh`): labels
 * from flags or from the branch's queued jobs, the pinned package verified and cached, a
 * hard-linked root, a JIT config (or a registration token and `config.sh --ephemeral`), then
 * `bin/Runner.Listener run` with its exit code interpreted. A registration the runner leaves
 * behind (interrupted before it took a job) is deleted; the root is removed.
 */
export async function runOnce(github: GitHubApi, options: RunOnceOptions): Promise<RunOnceReport> {
  const scope = repoScope(options.owner, options.repo);
  let labels = options.labels;
  let labelSource: RunOnceReport['labelSource'] = 'flags';
  if (options.autoLabels) {
    const jobs = await github.listWorkflowJobs(scope.owner, scope.repo, { status: 'queued', branch: options.branch });
    const minimal = minimalLabelSet(jobs, options.fallbackLabels ?? DEFAULT_FALLBACK_LABELS);
    labels = minimal.labels;
    labelSource = minimal.source;
  }
  if (!labels || labels.length === 0) throw new JitpoolError('JP_INPUT_INVALID', 'give --labels or --auto-labels');
  const mode = options.mode ?? 'jit';
  const pkg = await ensureRunnerPackage(options.package, { logger: options.logger });
  const name = `${options.namePrefix ?? 'jitpool-once'}-${shortId()}`;
  const root = options.rootDir ?? join(dirname(options.package.cacheDir ?? defaultRunnerCacheDir()), 'roots', name);
  await createRunnerRoot(pkg.dir, root);
  const workFolder = options.workFolder ?? '_work';
  const env = options.env ?? { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: process.env.LANG ?? 'C.UTF-8', HOME: process.env.HOME ?? root };
  const stdio = options.stdio === 'stderr' ? (['ignore', 2, 2] as const) : (options.stdio ?? 'inherit');
  let runnerId: number | null = null;
  try {
    let jitConfig: string | undefined;
    if (mode === 'jit') {
      const jit = await github.generateJitConfig(scope, { name, runnerGroupId: options.runnerGroupId ?? 1, labels, workFolder });
      runnerId = jit.runnerId;
      jitConfig = jit.encodedJitConfig;
    } else {
      const token = options.registrationToken ?? (await github.createRegistrationToken(scope)).token;
      registerSecret(token);
      await configureEphemeral(root, { url: `${options.webUrl}/${scope.owner}/${scope.repo}`, token, name, labels, workFolder, allowUpdate: options.allowUpdate ?? false, env });
    }
    options.logger.info({ component: 'runner.once', runnerName: name, labels, mode }, 'starting the runner');
    const result = await runListener({ root, runnerName: name, jitConfig, env, allowUpdate: options.allowUpdate ?? false, stdio: stdio as never, signal: options.signal });
    const deregistered = await removeLeftover(github, scope, name, options.logger);
    return {
      ok: result.meaning.kind === 'done', mode, runnerName: name, runnerId, labels, labelSource, version: pkg.version, root,
      exitCode: result.exitCode, exit: result.meaning, deregistered,
    };
  } catch (err) {
    await removeLeftover(github, scope, name, options.logger).catch(() => false);
    throw err;
  } finally {
    if (!options.keepRoot) await rm(root, { recursive: true, force: true });
  }
}

/** `config.sh --unattended --ephemeral`, the token through `ACTIONS_RUNNER_INPUT_TOKEN` (never argv). */
async function configureEphemeral(root: string, o: { url: string; token: string; name: string; labels: string[]; workFolder: string; allowUpdate: boolean; env: Record<string, string> }): Promise<void> {
  const args = ['--unattended', '--ephemeral', '--url', o.url, '--name', o.name, '--labels', o.labels.join(','), '--work', o.workFolder, '--replace'];
  if (!o.allowUpdate) args.push('--disableupdate');
  try {
    await execFileAsync(join(root, 'config.sh'), args, { cwd: root, env: { ...o.env, ACTIONS_RUNNER_INPUT_TOKEN: o.token }, maxBuffer: 4 * 1024 * 1024 });
  } catch (err) {
    const output = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new JitpoolError('JP_RUNNER_CONFIG', `config.sh failed (exit ${(err as { code?: unknown }).code ?? '?'}): ${output.slice(0, 300)}`);
  }
}

/** Deletes the registration named `name` if it is still there (a runner that never took its job). */
async function removeLeftover(github: GitHubApi, scope: { kind: 'repo'; owner: string; repo: string }, name: string, logger: Logger): Promise<boolean> {
  const runner = await github.getRunnerByName(scope, name);
  if (!runner) return false;
  const outcome = await github.deleteRunner(scope, runner.id);
  logger.info({ component: 'runner.once', runnerName: name, outcome }, 'removed the registration the runner left behind');
  return outcome === 'deleted';
}

/** The runner package flags shared by `runner once` and quick mode. */
export function addRunnerPackageOptions(command: Command): Command {
  return command
    .option('--runner-version <x.y.z>', `actions runner version (GitHub refuses < 2.329.0)`, DEFAULT_RUNNER_VERSION)
    .addOption(new Option('--runner-sha256 <hex>', `SHA-256 of the runner archive (default: the published digest, shipped for ${DEFAULT_RUNNER_VERSION}; CODEX_RUNNER_SHA256 also works)`).env('JITPOOL_RUNNER_SHA256'))
    .addOption(new Option('--runner-url-template <url>', 'download URL with {version} {os} {arch} (mirrors)').env('JITPOOL_RUNNER_URL_TEMPLATE'))
    .addOption(new Option('--cache-dir <dir>', 'runner package cache').env('JITPOOL_RUNNER_CACHE_DIR'));
}

/** `--runner-sha256`, else JITPOOL_RUNNER_SHA256 (commander reads it), else the seed's name CODEX_RUNNER_SHA256; undefined means the published digest. */
export function runnerSha256Flag(value: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return value || env.CODEX_RUNNER_SHA256 || undefined;
}

/** The package spec from {@link addRunnerPackageOptions}' flags. */
export function packageSpecFromFlags(opts: { runnerVersion: string; runnerSha256?: string; runnerUrlTemplate?: string; cacheDir?: string }): RunnerPackageSpec {
  return { version: opts.runnerVersion, sha256: runnerSha256Flag(opts.runnerSha256), urlTemplate: opts.runnerUrlTemplate, cacheDir: opts.cacheDir };
}

interface OnceFlags extends GitHubFlags {
  owner?: string; repo?: string; branch?: string; labels?: string; autoLabels?: boolean; fallbackLabels: string;
  runnerVersion: string; runnerSha256?: string; runnerUrlTemplate?: string; cacheDir?: string;
  workDir: string; namePrefix: string; disableUpdate: boolean; runnerGroupId: number;
  registrationToken?: boolean; registrationTokenEnv: string; keepRoot?: boolean;
}

/** Registers `jitpool runner once` under the `runner` command. */
export function registerRunnerOnceCommand(runner: Command): void {
  const command = runner
    .command('once')
    .description('Run one ephemeral runner in the foreground for one job, then exit with the job done and the registration gone.')
    .option('--owner <owner>', 'repository owner')
    .option('--repo <repo>', 'repository name')
    .option('--branch <branch>', 'branch whose queued jobs --auto-labels reads')
    .option('--labels <a,b>', 'runner labels, comma-separated')
    .option('--auto-labels', 'derive labels from the queued jobs of --branch (minimal covering set)')
    .option('--fallback-labels <a,b>', 'labels used by --auto-labels when nothing is queued', DEFAULT_FALLBACK_LABELS.join(','))
    .option('--work-dir <name>', "the runner's work folder inside its root", '_work')
    .option('--name-prefix <prefix>', 'runner name prefix (a random suffix is added)', 'jitpool-once')
    .option('--no-disable-update', 'let the runner update itself (registration-token path; JIT runners follow GitHub)')
    .option('--runner-group-id <id>', 'runner group (JIT path)', (v) => positiveInteger(v, '--runner-group-id'), 1)
    .option('--registration-token', 'register with a registration token and config.sh --ephemeral instead of a JIT config')
    .option('--registration-token-env <VAR>', 'variable holding a registration token (minted through REST when unset)', 'CODEX_RUNNER_TOKEN')
    .option('--keep-root', "keep the runner's root directory after it exits (debugging)")
    .option('--json', 'print the report as JSON on stdout (runner output goes to stderr)');
  addRunnerPackageOptions(command);
  addGitHubOptions(command);
  command.addHelpText(
    'after',
    `
The runner package is downloaded once per version, verified against --runner-sha256
(CODEX_RUNNER_SHA256) and cached; each run gets a hard-linked root of it. The JIT config and any
token reach the runner through its environment, never its command line.

Exit status: 0 the runner ran and exited normally, 1 it exited with another code, 2 error.

Examples:
  $ GH_PAT=... jitpool runner once --owner acme --repo app --labels self-hosted,linux,x64
  $ GH_PAT=... jitpool runner once --owner acme --repo app --auto-labels --branch main --json
  $ CODEX_RUNNER_TOKEN=... jitpool runner once --owner acme --repo app --labels linux --registration-token`,
  );
  command.action(async (opts: OnceFlags) => {
    await runCommand(opts.json, async () => {
      if (Boolean(opts.labels) === Boolean(opts.autoLabels)) throw new JitpoolError('JP_INPUT_INVALID', 'give exactly one of --labels or --auto-labels');
      const logger = stderrLogger(opts.json ? 'warn' : 'info');
      const github = githubFromFlags(opts, logger);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const given = opts.registrationToken ? process.env[opts.registrationTokenEnv]?.trim() || undefined : undefined;
        const report = await runOnce(github, {
          owner: opts.owner ?? '', repo: opts.repo ?? '', branch: opts.branch,
          labels: opts.labels ? parseLabelList(opts.labels) : undefined, autoLabels: opts.autoLabels,
          fallbackLabels: parseLabelList(opts.fallbackLabels, '--fallback-labels'),
          package: packageSpecFromFlags(opts), workFolder: opts.workDir, namePrefix: opts.namePrefix,
          runnerGroupId: opts.runnerGroupId, allowUpdate: !opts.disableUpdate,
          mode: opts.registrationToken ? 'registration-token' : 'jit', registrationToken: given,
          keepRoot: opts.keepRoot, webUrl: webUrlOf(opts.apiUrl), stdio: opts.json ? 'stderr' : 'inherit', signal: stop.signal, logger,
        });
        if (opts.json) printJson(report);
        else process.stderr.write(`runner ${report.runnerName} exited ${report.exitCode ?? 'by signal'}: ${report.exit.description}\n`);
        return report.ok ? 0 : 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  });
}
