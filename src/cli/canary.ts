import type { Command } from 'commander';
import type { CanaryStatus } from '../guard/index.ts';
import { handled, output, withActingRuntime, withRepoOptions, withRuntime, type RepoCommandInput, type RepoCommandOptions } from './guard-context.ts';
import type { Runtime } from './runtime.ts';

function describe(status: CanaryStatus): string[] {
  return [
    `${status.owner}/${status.repo}: canary stage ${status.stage} (${status.stageName})`,
    `trusted PRs this stage: ${status.used}/${status.budget ?? 'all'}${status.isHolding ? ' — HOLDING until `jitpool canary advance`' : ''}`,
    `stage started ${status.stageStartedAt}`,
  ];
}

/** `jitpool canary advance` on a runtime that holds the store lease (this process's, or the daemon's). */
export async function advanceCanary(runtime: Runtime, input: RepoCommandInput) {
  const { owner, repo, dryRun } = input;
  const check = await runtime.guard.check(owner, repo, { dryRun: true });
  if (check.triggers.length > 0 && !input.force) return { advanced: false, triggers: check.triggers, status: runtime.guard.canary.status(owner, repo) };
  return { advanced: !dryRun, triggers: check.triggers, status: await runtime.guard.advanceCanary(owner, repo, { dryRun }) };
}

/** Registers `jitpool canary status` and `jitpool canary advance`. */
export function registerCanaryCommand(program: Command): void {
  const canary = program.command('canary').description('Canary rollout of trusted routing: stages of 1, 10, 25 trusted PRs, then all, advanced only while no rollback trigger holds.');
  withRepoOptions(canary.command('status').description('Show the stage, its budget and whether routing is held.')).action(handled(async (opts: RepoCommandOptions) => {
    const status = await withRuntime(opts, async (runtime, { owner, repo }) => runtime.guard.canary.status(owner, repo));
    output(opts, status, () => describe(status));
  }));
  withRepoOptions(
    canary
      .command('advance')
      .description('Advance to the next stage and turn routing back on (only when no rollback trigger holds).')
      .option('--dry-run', 'show the current stage, change nothing')
      .option('--force', 'advance even when a rollback trigger holds'),
  ).action(handled(async (opts: RepoCommandOptions & { force?: boolean }) => {
    const result = await withActingRuntime(opts, 'canary-advance', advanceCanary);
    output(opts, result, () => [
      ...(result.triggers.length > 0 && !result.advanced ? result.triggers.map((t) => `not advancing: TRIGGER ${t.code}: ${t.summary}`) : []),
      ...describe(result.status),
    ]);
    process.exitCode = result.advanced || opts.dryRun ? 0 : 2;
  }));
}
