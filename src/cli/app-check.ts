import type { Command } from 'commander';
import { addAppOptions, appClientFromFlags, printJson, runCommand, type AppFlags } from './github-options.ts';

/** Registers `jitpool app check` under the `app` command. */
export function registerAppCheckCommand(app: Command): void {
  const command = app
    .command('check')
    .description('Check that the App private key loads and GitHub accepts a JWT signed with it (GET /app).')
    .option('--json', 'print {ok, app: {id, slug, name, owner}} on stdout');
  addAppOptions(command);
  command.addHelpText(
    'after',
    `
Exit status: 0 the key works, 2 it does not (unreadable key, wrong App id, clock skew, revoked key).

Example:
  $ jitpool app check --app-id 123456 --private-key-file ~/.config/jitpool/app.pem
  ok: App 123456 "jitpool-acme" (jitpool-acme) owned by acme`,
  );
  command.action(async (opts: AppFlags) => {
    await runCommand(opts.json, async () => {
      const info = await appClientFromFlags(opts).getApp();
      if (opts.json) printJson({ ok: true, app: info });
      else process.stdout.write(`ok: App ${info.id} "${info.name}" (${info.slug}) owned by ${info.owner ?? 'unknown'}\n`);
      return 0;
    });
  });
}
