import { resolve } from 'node:path';
import type { Command } from 'commander';
import { describeError, isJitpoolError, JitpoolError, isSafeOwner, redact, writeFileAtomic } from '../core/index.ts';
import { addAppOptions, appClientFromFlags, positiveInteger, printJson, runCommand, type AppFlags } from './github-options.ts';

/** Refresh installation tokens at least this often (seed 001: every 50 minutes). */
export const TOKEN_REFRESH_MS = 50 * 60_000;

/** The status file written by `--status-out` (seed 001's token-refresh status); never holds the token. */
export interface TokenRefreshStatus {
  ok: boolean;
  appId: number | null;
  installationId: number | null;
  tokenFile: string | null;
  refreshedAt: string | null;
  expiresAt: string | null;
  /** When the next refresh is due (50 minutes after this one, at the latest 10 minutes before expiry). */
  nextRefreshDueAt: string | null;
  error: { code: string; message: string } | null;
  checkedAt: string;
}

interface TokenFlags extends AppFlags {
  installationId?: number;
  owner?: string;
  repo?: string;
  out?: string;
  statusOut?: string;
}

/** Registers `jitpool app token` under the `app` command. */
export function registerAppTokenCommand(app: Command): void {
  const command = app
    .command('token')
    .description('Mint a short-lived installation access token; write it to a 0600 file (atomically replaced) or print it.')
    .option('--installation-id <id>', 'the installation (or give --owner [--repo] to look it up)', (v) => positiveInteger(v, '--installation-id'))
    .option('--owner <owner>', 'find the installation on this account')
    .option('--repo <repo>', 'find the installation covering this repository of --owner')
    .option('--out <file>', 'write the token here (mode 0600, replaced atomically); without it the token is printed on stdout')
    .option('--status-out <file>', 'write a JSON status (no token): ok, expiresAt, nextRefreshDueAt, error')
    .option('--json', 'print the status JSON on stdout instead of the token (requires --out)');
  addAppOptions(command);
  command.addHelpText(
    'after',
    `
Run it from a timer at least every 50 minutes (tokens last one hour). On failure the token file
is left as it was and the status file records the error, so monitoring can alert.

Exit status: 0 token written, 2 failure.

Examples:
  $ export GH_TOKEN="$(jitpool app token --app-id 123456 --private-key-file app.pem --installation-id 7654321)"
  $ jitpool app token --app-id 123456 --private-key-file app.pem --owner acme \\
      --out /run/jitpool/gh-token --status-out /var/lib/jitpool/token-refresh-status.json`,
  );
  command.action(async (opts: TokenFlags) => {
    await runCommand(opts.json, async () => {
      if (opts.json && !opts.out) throw new JitpoolError('JP_INPUT_INVALID', '--json needs --out (the token is never printed in JSON)');
      const status: TokenRefreshStatus = {
        ok: false, appId: opts.appId ?? null, installationId: opts.installationId ?? null, tokenFile: opts.out ? resolve(opts.out) : null,
        refreshedAt: null, expiresAt: null, nextRefreshDueAt: null, error: null, checkedAt: new Date().toISOString(),
      };
      try {
        const client = appClientFromFlags(opts);
        if (status.installationId === null) {
          if (!opts.owner || !isSafeOwner(opts.owner)) throw new JitpoolError('JP_INPUT_INVALID', 'give --installation-id, or --owner [--repo] to look it up');
          status.installationId = (await client.findInstallation({ owner: opts.owner, repo: opts.repo })).id;
        }
        const token = await client.createInstallationToken(status.installationId);
        if (opts.out) await writeFileAtomic(resolve(opts.out), `${token.token}\n`, 0o600);
        const now = Date.now();
        const expiresMs = Date.parse(token.expiresAt);
        status.ok = true;
        status.refreshedAt = new Date(now).toISOString();
        status.expiresAt = token.expiresAt;
        status.nextRefreshDueAt = new Date(Math.min(now + TOKEN_REFRESH_MS, expiresMs - 10 * 60_000)).toISOString();
        if (opts.statusOut) await writeFileAtomic(resolve(opts.statusOut), `${JSON.stringify(status, null, 2)}\n`, 0o644);
        if (opts.json) printJson(status);
        else if (!opts.out) process.stdout.write(`${token.token}\n`);
        else process.stderr.write(`token written to ${status.tokenFile}; expires ${token.expiresAt}\n`);
        return 0;
      } catch (err) {
        status.error = { code: isJitpoolError(err) ? err.code : 'JP_INTERNAL', message: redact(isJitpoolError(err) ? err.message : describeError(err)) };
        if (opts.statusOut) await writeFileAtomic(resolve(opts.statusOut), `${JSON.stringify(status, null, 2)}\n`, 0o644);
        throw err;
      }
    });
  });
}
