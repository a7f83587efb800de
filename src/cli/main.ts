import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCommands } from './commands.ts';

/** Builds the `jitpool` command line; each subcommand lives in its own file and registers itself. */
export function buildProgram(): Command {
  const program = new Command('jitpool')
    .description('Ephemeral, one-job GitHub Actions runners on compute you own.')
    .version((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version)
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true })
    // Options belong to the command they follow (`guard restore -c FILE` sets restore's -c, not guard's).
    .enablePositionalOptions();
  registerCommands(program);
  return program;
}

if (import.meta.main) {
  await buildProgram().parseAsync(process.argv);
}
