import { Option, type Command } from 'commander';
import { checkConfig, configJsonSchema, formatProblem, readConfigFile, type ConfigProblem } from '../config/index.ts';
import { isJitpoolError } from '../core/index.ts';
import { EXIT, reportFailure } from './cli-errors.ts';

/** `-c FILE`, defaulting to $JITPOOL_CONFIG, then `jitpool.yaml`. */
function configOption(): Option {
  return new Option('-c, --config <file>', 'configuration file').env('JITPOOL_CONFIG').default('jitpool.yaml');
}

/** Registers `jitpool config check` and `jitpool config schema`. */
export function registerConfigCommand(program: Command): void {
  const config = program
    .command('config')
    .description('Validate jitpool.yaml or print its JSON Schema.');

  config
    .command('check')
    .description('Validate a configuration file, with JITPOOL_* environment overrides applied, and list every problem.')
    .addOption(configOption())
    .option('--json', 'print {"ok": boolean, "problems": [{path, message, line?, column?, envVar?}]} on stdout')
    .addHelpText(
      'after',
      `
Each problem is printed as FILE:LINE:COL: path: message (the format editors and CI annotate).
A problem caused by an environment override names the variable instead of a line.
Secrets are not read: check them with the daemon's start-up.

Exit status: 0 valid, 1 invalid, 2 file missing or unreadable.

Examples:
  $ jitpool config check -c /etc/jitpool/jitpool.yaml
  $ JITPOOL_API__PORT=9090 jitpool config check --json`,
    )
    .action((opts: { config: string; json?: boolean }) => {
      process.exitCode = runCheck(opts.config, opts.json === true);
    });

  config
    .command('schema')
    .description('Print the JSON Schema of jitpool.yaml (draft 2020-12), for editors and tools.')
    .addHelpText(
      'after',
      `
Example (VS Code / yaml-language-server):
  $ jitpool config schema > jitpool.schema.json
  then start jitpool.yaml with: # yaml-language-server: $schema=./jitpool.schema.json`,
    )
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}

/** Runs `config check`; returns the exit status. */
function runCheck(file: string, asJson: boolean): number {
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (err) {
    if (!isJitpoolError(err)) throw err;
    // The problem list's shape under --json; the one error line (cli-errors.ts) for a person.
    if (asJson) report(true, false, [{ path: '', message: err.message }], file);
    else return reportFailure(err);
    return EXIT.ERROR;
  }
  const result = checkConfig(text, file, process.env);
  if (result.ok) {
    if (asJson) report(true, true, [], file);
    else {
      const pools = result.config.pools.length;
      process.stdout.write(`${file}: ok (${pools} ${pools === 1 ? 'pool' : 'pools'})\n`);
    }
    return 0;
  }
  report(asJson, false, result.problems, file);
  return 1;
}

function report(asJson: boolean, ok: boolean, problems: readonly ConfigProblem[], file: string): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify({ ok, problems }, null, 2)}\n`);
    return;
  }
  const lines = problems.map((problem) => (problem.path === '' && problem.line === undefined ? problem.message : formatProblem(file, problem)));
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  process.stdout.write(`${lines.join('\n')}\n${file}: ${count}\n`);
}
