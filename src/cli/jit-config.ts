import { resolve } from 'node:path';
import type { Command } from 'commander';
import { JitpoolError, isSafeOwner, isSafeRepo, isSafeRunnerName, shortId, writeFileAtomic } from '../core/index.ts';
import { describeScope, type GitHubScope } from '../github/index.ts';
import { addGitHubOptions, githubFromFlags, parseLabelList, positiveInteger, printJson, runCommand, stderrLogger, type GitHubFlags } from './github-options.ts';

interface JitFlags extends GitHubFlags {
  scope: string;
  owner?: string;
  repo?: string;
  runnerGroupId: number;
  labels?: string;
  namePrefix: string;
  workFolder: string;
  out?: string;
  dryRun?: boolean;
}

/** The scope the flags name; throws `JP_INPUT_INVALID` naming the flag. */
export function scopeFromFlags(scope: string, owner: string | undefined, repo: string | undefined): GitHubScope {
  if (!owner || !isSafeOwner(owner)) throw new JitpoolError('JP_INPUT_INVALID', '--owner: a valid GitHub owner is required');
  if (scope === 'org') return { kind: 'org', org: owner };
  if (scope !== 'repo') throw new JitpoolError('JP_INPUT_INVALID', `--scope: expected repo or org, got ${JSON.stringify(scope)}`);
  if (!repo || !isSafeRepo(repo)) throw new JitpoolError('JP_INPUT_INVALID', '--repo: required with --scope repo');
  return { kind: 'repo', owner, repo };
}

/** Registers `jitpool jit-config`. */
export function registerJitConfigCommand(program: Command): void {
  const command = program
    .command('jit-config')
    .description('Register a just-in-time (JIT) runner with GitHub and write its one-time configuration to a 0600 file, for a runner you start yourself.')
    .option('--scope <scope>', 'repo or org', 'repo')
    .option('--owner <owner>', 'repository owner or organisation')
    .option('--repo <repo>', 'repository (with --scope repo)')
    .option('--runner-group-id <id>', 'runner group id (1 is Default)', (v) => positiveInteger(v, '--runner-group-id'), 1)
    .option('--labels <a,b>', 'runner labels, comma-separated')
    .option('--name-prefix <prefix>', 'runner name prefix (a random suffix is added)', 'jitpool-jit')
    .option('--work-folder <name>', "the runner's work folder", '_work')
    .option('--out <file>', 'where to write {runner, encoded_jit_config} (mode 0600, replaced atomically)')
    .option('--dry-run', 'print the request that would be made; register nothing')
    .option('--json', 'print {ok, runnerId, runnerName, out} on stdout (never the config)');
  addGitHubOptions(command);
  command.addHelpText(
    'after',
    `
The file holds GitHub's answer: {"runner": {"id", "name", ...}, "encoded_jit_config": "..."}.
Give the encoded config to the runner through ACTIONS_RUNNER_INPUT_JITCONFIG (not argv) and
launch bin/Runner.Listener run. The config is a credential: it is never printed.
An unused JIT registration stays listed (offline) until deleted.

Exit status: 0 written, 2 error.

Example:
  $ GH_TOKEN="$(jitpool app token ...)" jitpool jit-config --scope repo --owner acme --repo app \\
      --runner-group-id 1 --labels self-hosted,linux,x64 --name-prefix ci-jit --token-env GH_TOKEN --out /tmp/jit-config.json`,
  );
  command.action(async (opts: JitFlags) => {
    await runCommand(opts.json, async () => {
      const scope = scopeFromFlags(opts.scope, opts.owner, opts.repo);
      const labels = parseLabelList(opts.labels ?? '', '--labels');
      const name = `${opts.namePrefix}-${shortId()}`;
      if (!isSafeRunnerName(name)) throw new JitpoolError('JP_INPUT_INVALID', '--name-prefix: letters, digits, . _ - only (runner names are at most 64 characters)');
      if (!opts.out && !opts.dryRun) throw new JitpoolError('JP_INPUT_INVALID', '--out is required (the JIT config is a credential and is never printed)');
      const request = { name, runnerGroupId: opts.runnerGroupId, labels, workFolder: opts.workFolder };
      if (opts.dryRun) {
        if (opts.json) printJson({ ok: true, dryRun: true, scope, request });
        else process.stdout.write(`would register ${name} in ${describeScope(scope)} with labels ${labels.join(',')} (group ${opts.runnerGroupId})\n`);
        return 0;
      }
      const out = resolve(opts.out!);
      const jit = await githubFromFlags(opts, stderrLogger()).generateJitConfig(scope, request);
      await writeFileAtomic(out, `${JSON.stringify({ runner: { id: jit.runnerId, name: jit.runnerName, labels }, encoded_jit_config: jit.encodedJitConfig })}\n`, 0o600);
      if (opts.json) printJson({ ok: true, runnerId: jit.runnerId, runnerName: jit.runnerName, labels, out });
      else process.stdout.write(`registered ${jit.runnerName} (id ${jit.runnerId}); config written to ${out}\n`);
      return 0;
    });
  });
}
