import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { reportFailure } from './cli-errors.ts';
import { registerCommands } from './commands.ts';

/** Builds the `jitpool` command line; each subcommand lives in its own file and registers itself. */
export function buildProgram(): Command {
  const program = new Command('jitpool')
    .description('Ephemeral, one-job GitHub Actions runners on compute you own.')
    .version((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version)
    .configureHelp({ sortSubcommands: true })
    // Options belong to the command they follow (`guard restore -c FILE` sets restore's -c, not guard's).
    .enablePositionalOptions();
  registerCommands(program);
  return program;
}

/** `jitpool pool scale`: the command's path as typed, for "see `jitpool pool scale --help`". */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Runs the command line with the one error handler: usage errors, errors that escape an action
 * and errors the commands report themselves all print as `jitpool: CODE: message — fix`
 * (src/cli/cli-errors.ts). Returns the exit status.
 */
export async function runMain(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  let current = '';
  const visit = (command: Command): void => {
    // Commander would print `error: …` plus the whole help; the handler below prints one line instead.
    command.exitOverride().configureOutput({ outputError: () => { current = commandPath(command); } });
    if (command !== program) command.option('--debug', 'on an error, also print its stack trace');
    command.commands.forEach(visit);
  };
  visit(program);
  program.hook('preAction', (_program, action) => { current = commandPath(action); });
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0);
  } catch (err) {
    // --help, --version and a group shown without its subcommand: commander already printed them.
    if (err instanceof CommanderError && (err.code.startsWith('commander.help') || err.code === 'commander.version' || err.code === 'commander.executeSubCommandAsync')) return err.exitCode;
    return reportFailure(err, { commandName: current || undefined });
  }
}

if (import.meta.main) {
  const fail = (err: unknown) => {
    process.exitCode = reportFailure(err);
    process.exit();
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  const status = await runMain(process.argv);
  process.exitCode = status;
  // A command that failed may leave handles open (a half-started runtime): its error is printed, so end now.
  if (status !== 0 && status !== 1) process.exit(status);
}
