import { readFileSync } from 'node:fs';
import pino from 'pino';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { createLogger, JitpoolError, assertSafeLabels, isSafeOwner, isSafeRepo, registerSecret, type Logger } from '../core/index.ts';
import { reportFailure } from './cli-errors.ts';
import { appInstallationToken, assertPrivateKey, createAppClient, createGitHubClient, staticToken, type GitHubApi, type GitHubAppClient, type GitHubScope, type TokenProvider } from '../github/index.ts';

/** Token variables tried in order when `--token-env` is not given (seed 000 exposes the PAT as GH_PAT). */
export const DEFAULT_TOKEN_ENVS = ['JITPOOL_GITHUB_TOKEN', 'GH_PAT', 'GH_TOKEN', 'GITHUB_TOKEN'] as const;

/** The auth flags every GitHub-facing one-shot command shares. */
export interface GitHubFlags {
  apiUrl: string;
  tokenEnv?: string;
  appId?: number;
  installationId?: number;
  privateKeyFile?: string;
  json?: boolean;
}

/** Adds `--api-url`, `--token-env` and the App flags, with help text. */
export function addGitHubOptions(command: Command): Command {
  return command
    .addOption(new Option('--api-url <url>', 'GitHub REST base URL (GHES: https://HOST/api/v3)').env('JITPOOL_GITHUB_API_URL').default('https://api.github.com'))
    .option('--token-env <VAR>', `environment variable holding a PAT or installation token (default: first set of ${DEFAULT_TOKEN_ENVS.join(', ')})`)
    .option('--app-id <id>', 'authenticate as a GitHub App installation instead of a token', (v) => positiveInteger(v, '--app-id'))
    .option('--installation-id <id>', 'the App installation (with --app-id)', (v) => positiveInteger(v, '--installation-id'))
    .option('--private-key-file <file>', 'the App private key, PEM (with --app-id)');
}

/** Parses a positive integer flag or throws a commander error naming it. */
export function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses `a,b,c` into safe labels (trimmed, de-duplicated case-insensitively); names the flag on error. */
export function parseLabelList(value: string, flag = '--labels'): string[] {
  const seen = new Set<string>();
  const labels = value.split(',').map((l) => l.trim()).filter((l) => l !== '' && !seen.has(l.toLowerCase()) && seen.add(l.toLowerCase()));
  if (labels.length === 0) throw new JitpoolError('JP_INPUT_INVALID', `${flag}: give at least one label`);
  assertSafeLabels(labels, flag);
  return labels;
}

/** Validates `--owner` / `--repo` and returns the scope. */
export function repoScope(owner: string | undefined, repo: string | undefined): GitHubScope & { kind: 'repo' } {
  if (!owner || !isSafeOwner(owner)) throw new JitpoolError('JP_INPUT_INVALID', `--owner: not a valid GitHub owner (${JSON.stringify(owner ?? '')})`);
  if (!repo || !isSafeRepo(repo)) throw new JitpoolError('JP_INPUT_INVALID', `--repo: not a valid repository name (${JSON.stringify(repo ?? '')})`);
  return { kind: 'repo', owner, repo };
}

/** Reads the token named by `--token-env`, or the first default variable set. */
export function tokenFromEnv(tokenEnv: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const names = tokenEnv ? [tokenEnv] : [...DEFAULT_TOKEN_ENVS];
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) {
      registerSecret(value);
      return value;
    }
  }
  throw new JitpoolError('JP_SECRET_MISSING', `no GitHub token: set ${names.join(' or ')}${tokenEnv ? '' : ' (or pass --token-env VAR, or the App flags)'}`);
}

/** Reads and checks an App private key file; the key is registered for redaction. */
export function readAppKey(file: string | undefined, flag = '--private-key-file'): string {
  if (!file) throw new JitpoolError('JP_INPUT_INVALID', `${flag} is required`);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new JitpoolError('JP_INPUT_INVALID', `${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  registerSecret(pem);
  assertPrivateKey(pem, flag);
  return pem;
}

/** The token provider the flags describe: an App installation when `--app-id` is given, else a token from the environment. */
export function tokenProviderFromFlags(flags: GitHubFlags, env: NodeJS.ProcessEnv = process.env): TokenProvider {
  if (flags.appId !== undefined) {
    if (flags.installationId === undefined) throw new JitpoolError('JP_INPUT_INVALID', '--installation-id is required with --app-id (jitpool app installation-id finds it)');
    return appInstallationToken({ appId: flags.appId, installationId: flags.installationId, privateKey: readAppKey(flags.privateKeyFile), baseUrl: flags.apiUrl });
  }
  return staticToken(tokenFromEnv(flags.tokenEnv, env));
}

/** The GitHub client for a one-shot command. */
export function githubFromFlags(flags: GitHubFlags, logger: Logger, env: NodeJS.ProcessEnv = process.env): GitHubApi {
  return createGitHubClient({ baseUrl: flags.apiUrl, tokens: tokenProviderFromFlags(flags, env), logger, retries: 2 });
}

/** A logger on stderr (stdout is kept for results and `--json`). */
export function stderrLogger(level = 'warn'): Logger {
  return createLogger({ level, destination: pino.destination({ fd: 2, sync: true }) });
}

/** Prints one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Runs a command body, turning a thrown error into the one error line (exit status 2 for an
 * error, 1 is kept for "found problems") and `{ ok: false, error: { code, message } }` under `--json`.
 */
export async function runCommand(asJson: boolean | undefined, body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    process.exitCode = reportFailure(err, { json: Boolean(asJson) });
  }
}

/** The App flags of the `app` commands. */
export interface AppFlags {
  apiUrl: string;
  appId?: number;
  privateKeyFile?: string;
  json?: boolean;
}

/** Adds `--app-id`, `--private-key-file` and `--api-url` (with environment fallbacks). */
export function addAppOptions(command: Command): Command {
  return command
    .addOption(new Option('--app-id <id>', 'the GitHub App id').env('JITPOOL_APP_ID').argParser((v) => positiveInteger(v, '--app-id')))
    .addOption(new Option('--private-key-file <file>', 'the App private key (PEM; keep it outside repositories, mode 0600)').env('JITPOOL_APP_PRIVATE_KEY_FILE'))
    .addOption(new Option('--api-url <url>', 'GitHub REST base URL (GHES: https://HOST/api/v3)').env('JITPOOL_GITHUB_API_URL').default('https://api.github.com'));
}

/** The App client the flags describe. */
export function appClientFromFlags(flags: AppFlags): GitHubAppClient {
  if (flags.appId === undefined) throw new JitpoolError('JP_INPUT_INVALID', '--app-id is required');
  return createAppClient({ baseUrl: flags.apiUrl, appId: flags.appId, privateKey: readAppKey(flags.privateKeyFile) });
}
