import type { Command } from 'commander';
import { DEFAULT_FALLBACK_LABELS, minimalLabelSet } from '../routing/index.ts';
import { addGitHubOptions, githubFromFlags, parseLabelList, printJson, repoScope, runCommand, stderrLogger, type GitHubFlags } from './github-options.ts';

interface PreflightFlags extends GitHubFlags {
  owner?: string;
  repo?: string;
  branch?: string;
  fallback: string;
}

/** Registers `jitpool labels preflight` under the `labels` command. */
export function registerLabelsPreflightCommand(labels: Command): void {
  const command = labels
    .command('preflight')
    .description('Print the minimal label set a runner needs to take every queued job of a branch (check labels before starting a runner).')
    .option('--owner <owner>', 'repository owner')
    .option('--repo <repo>', 'repository name')
    .option('--branch <branch>', 'only jobs of runs on this branch (default: every branch)')
    .option('--fallback <a,b>', 'labels printed when nothing is queued', DEFAULT_FALLBACK_LABELS.join(','))
    .option('--json', 'print {labels, source, queuedJobs, labelSets} on stdout');
  addGitHubOptions(command);
  command.addHelpText(
    'after',
    `
A runner takes a job when its labels include all of the job's runs-on labels, so the minimal set
covering every queued job is the union of their label sets. The distinct sets are listed too:
when they conflict (x64 and arm64), run one runner per set instead.

Prints the labels comma-separated (ready for --labels). Exit status: 0, or 2 on error.

Examples:
  $ GH_PAT=... jitpool labels preflight --owner acme --repo app --branch main
  self-hosted,linux,x64
  $ jitpool runner once --owner acme --repo app --labels "$(jitpool labels preflight --owner acme --repo app --branch main)"`,
  );
  command.action(async (opts: PreflightFlags) => {
    await runCommand(opts.json, async () => {
      const scope = repoScope(opts.owner, opts.repo);
      const fallback = parseLabelList(opts.fallback, '--fallback');
      const github = githubFromFlags(opts, stderrLogger());
      const jobs = await github.listWorkflowJobs(scope.owner, scope.repo, { status: 'queued', branch: opts.branch });
      const result = minimalLabelSet(jobs, fallback);
      if (opts.json) printJson({ branch: opts.branch ?? null, ...result });
      else {
        process.stdout.write(`${result.labels.join(',')}\n`);
        if (result.source === 'fallback') process.stderr.write('no queued jobs: printed the fallback labels\n');
        else if (result.labelSets.length > 1) process.stderr.write(`${result.queuedJobs} queued jobs in ${result.labelSets.length} label sets: ${result.labelSets.map((s) => `[${s.labels.join(',')}]×${s.jobs}`).join(' ')}\n`);
      }
      return 0;
    });
  });
}
