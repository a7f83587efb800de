import type { Command } from 'commander';
import { JitpoolError, isSafeOwner, isSafeRepo } from '../core/index.ts';
import { addAppOptions, appClientFromFlags, printJson, runCommand, type AppFlags } from './github-options.ts';

/** Registers `jitpool app installation-id` under the `app` command. */
export function registerAppInstallationIdCommand(app: Command): void {
  const command = app
    .command('installation-id')
    .description('Print the id of the App installation on a repository or an account (for github.auth.installationId).')
    .option('--owner <owner>', 'organisation or user the App is installed on')
    .option('--repo <repo>', 'a repository of --owner (the installation that covers it)')
    .option('--json', 'print {installationId, account, repositorySelection} on stdout');
  addAppOptions(command);
  command.addHelpText(
    'after',
    `
Exit status: 0 found, 2 not installed there (or the key/App id is wrong).

Example:
  $ jitpool app installation-id --app-id 123456 --private-key-file app.pem --owner acme --repo app
  7654321`,
  );
  command.action(async (opts: AppFlags & { owner?: string; repo?: string }) => {
    await runCommand(opts.json, async () => {
      if (!opts.owner || !isSafeOwner(opts.owner)) throw new JitpoolError('JP_INPUT_INVALID', '--owner: a GitHub organisation or user is required');
      if (opts.repo !== undefined && !isSafeRepo(opts.repo)) throw new JitpoolError('JP_INPUT_INVALID', '--repo: not a valid repository name');
      const installation = await appClientFromFlags(opts).findInstallation({ owner: opts.owner, repo: opts.repo });
      if (opts.json) printJson({ installationId: installation.id, account: installation.account, appId: installation.appId, repositorySelection: installation.repositorySelection });
      else process.stdout.write(`${installation.id}\n`);
      return 0;
    });
  });
}
