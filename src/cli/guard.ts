import type { Command } from 'commander';
import { handled, output, withActingRuntime, withRepoOptions, type RepoCommandOptions } from './guard-context.ts';

/** Registers `jitpool guard` (one check, rolling back when a trigger holds) and `jitpool guard restore`. */
export function registerGuardCommand(program: Command): void {
  const guard = withRepoOptions(
    program
      .command('guard')
      .description('Evaluate the rollback triggers for a repository; when one holds, set the routing variable to false, record an incident and log it. Exit 0 healthy, 2 a trigger holds.')
      .option('--dry-run', 'evaluate and report, change nothing')
      // Options after `restore` belong to `restore`, not to `guard`.
      .enablePositionalOptions(),
  ).action(handled(async (opts: RepoCommandOptions) => {
    const report = await withActingRuntime(opts, 'guard-check', (runtime, input) => runtime.guard.check(input.owner, input.repo, { dryRun: input.dryRun }));
    output(opts, report, () => [
      `${report.owner}/${report.repo}: ${report.variable.name}=${report.variable.value ?? '(unset)'}`,
      `trusted runs ${report.figures.trustedRuns} (boot-failed ${report.figures.bootFailedRuns}, waiting ${report.figures.pendingRuns}), p95 queue wait ${report.figures.p95QueueWaitSeconds} s, mismatches ${report.figures.mismatches}, offline runners ${report.figures.offlineRunners}`,
      ...(report.triggers.length === 0 ? ['no rollback trigger holds'] : report.triggers.map((t) => `TRIGGER ${t.code}: ${t.summary}`)),
      ...(report.canary ? [`canary stage ${report.canary.stage} (${report.canary.stageName}) ${report.canary.used}/${report.canary.budget ?? 'all'}${report.canary.isHolding ? ' HOLDING' : ''}`] : []),
      `action: ${report.action}${report.incidentId ? ` (incident ${report.incidentId})` : ''}`,
    ]);
    process.exitCode = report.triggers.length > 0 ? 2 : 0;
  }));

  withRepoOptions(
    guard
      .command('restore')
      .description('Set the routing variable back to true after an incident (starts a fresh evidence window).')
      .option('--dry-run', 'say what would change, change nothing'),
  ).action(handled(async (opts: RepoCommandOptions) => {
    const result = await withActingRuntime(opts, 'guard-restore', (runtime, input) => runtime.guard.restore(input.owner, input.repo, { dryRun: input.dryRun }));
    output(opts, result, () => [`${result.action}: ${result.variable}=true`]);
  }));
}
