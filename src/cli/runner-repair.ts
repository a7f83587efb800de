import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { JitpoolError } from '../core/index.ts';
import { repairBaseRunner, svcShServiceManager } from '../runner/index.ts';
import { addGitHubOptions, githubFromFlags, parseLabelList, printJson, repoScope, runCommand, stderrLogger, type GitHubFlags } from './github-options.ts';
import { webUrlOf } from './runner-once.ts';

interface RepairFlags extends GitHubFlags {
  runnerHome?: string;
  owner?: string;
  repo?: string;
  labels?: string;
  group?: string;
  name?: string;
  workFolder?: string;
  dryRun?: boolean;
  sudo?: boolean;
}

/** Registers `jitpool runner repair` under the `runner` command. */
export function registerRunnerRepairCommand(runner: Command): void {
  const command = runner
    .command('repair')
    .description('Repair or bootstrap a long-lived base runner: registration, config.sh --replace, systemd service (idempotent).')
    .option('--runner-home <dir>', 'the actions runner directory (holds config.sh, svc.sh, .runner)')
    .option('--owner <owner>', 'repository owner')
    .option('--repo <repo>', 'repository name')
    .option('--labels <a,b>', 'labels to register with (when registering again)')
    .option('--group <name>', 'runner group name (config.sh --runnergroup)')
    .option('--name <name>', 'runner name (default: kept from .runner, else the host name)')
    .option('--work-folder <name>', 'work folder (default: kept from .runner, else _work)')
    .option('--sudo', 'run svc.sh through `sudo -n` (svc.sh install/start need root)')
    .option('--dry-run', 'report findings and the steps that would run; change nothing')
    .option('--json', 'print the report as JSON on stdout');
  addGitHubOptions(command);
  command.addHelpText(
    'after',
    `
Checks the local .runner and GitHub's runner inventory by name. When either is missing or they
disagree, it mints a registration token (passed to config.sh through ACTIONS_RUNNER_INPUT_TOKEN,
never the command line), runs config.sh --unattended --replace keeping the name and work folder,
then installs and starts the service with svc.sh. A healthy runner is left alone; running it
twice is safe. A runner busy with a job is never restarted.

Exit status: 0 healthy or repaired (or, with --dry-run, nothing to do), 1 --dry-run found steps to take, 2 error.

Examples:
  $ GH_PAT=... jitpool runner repair --runner-home /opt/actions-runner --owner acme --repo app \\
      --labels self-hosted,linux,x64 --group Default --dry-run
  $ GH_PAT=... jitpool runner repair --runner-home /opt/actions-runner --owner acme --repo app \\
      --labels self-hosted,linux,x64 --group Default --sudo --json`,
  );
  command.action(async (opts: RepairFlags) => {
    await runCommand(opts.json, async () => {
      if (!opts.runnerHome) throw new JitpoolError('JP_INPUT_INVALID', '--runner-home is required');
      const target = repoScope(opts.owner, opts.repo);
      const labels = parseLabelList(opts.labels ?? '', '--labels');
      const logger = stderrLogger();
      const home = resolve(opts.runnerHome);
      const report = await repairBaseRunner({
        runnerHome: home, target, url: `${webUrlOf(opts.apiUrl)}/${target.owner}/${target.repo}`, labels, group: opts.group,
        name: opts.name, defaultName: hostname().split('.')[0] ?? 'runner', workFolder: opts.workFolder, dryRun: Boolean(opts.dryRun),
        github: githubFromFlags(opts, logger), service: svcShServiceManager(home, opts.sudo ? ['sudo', '-n'] : []),
      });
      if (opts.json) printJson(report);
      else {
        const state = report.steps.length === 0 ? 'healthy, nothing to do' : report.dryRun ? `would run: ${report.steps.join(', ')}` : `ran: ${report.steps.join(', ')}`;
        process.stdout.write(`${report.name} (${home}): ${state}\n${report.findings.map((f) => `  - ${f}\n`).join('')}`);
      }
      return report.dryRun && report.steps.length > 0 ? 1 : 0;
    });
  });
}
