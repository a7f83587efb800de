import type { Command } from 'commander';
import { recover, type RecoverResult } from '../guard/index.ts';
import { handled, withActingRuntime, withRepoOptions, type RepoCommandInput, type RepoCommandOptions } from './guard-context.ts';
import type { Runtime } from './runtime.ts';

/** `jitpool recover` on a runtime that holds the store lease (this process's, or the daemon's). */
export function runRecover(runtime: Runtime, input: RepoCommandInput): Promise<RecoverResult> {
  return recover(
    {
      guard: runtime.guard, controller: runtime.controller, store: runtime.store, github: runtime.github, pools: [...runtime.controller.pools.values()],
      controllerId: runtime.config.controllerId, variableName: runtime.config.routing.variableName, clock: { now: () => Date.now() },
    },
    input.owner,
    input.repo,
    { dryRun: input.dryRun },
  );
}

/** Registers `jitpool recover`. */
export function registerRecoverCommand(program: Command): void {
  withRepoOptions(
    program
      .command('recover')
      .description('Recover: routing off first, reconcile with GitHub, remove ghosts and stuck runners, check health, routing back on only when healthy. Exit 0 when healthy.')
      .option('--dry-run', 'show each step, change nothing')
      .option('--force', 'take the store over from a process that stopped heartbeating (never from a live one)')
      .addHelpText('after', `
While \`jitpool up\` runs on the same store, recovery runs inside it (through its admin API, with
JITPOOL_API_TOKEN): one process acts on a store at a time.`),
  ).action(handled(async (opts: RepoCommandOptions & { force?: boolean }) => {
    const result = await withActingRuntime(opts, 'recover', runRecover, { takeOverStaleLease: opts.force });
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      for (const step of result.steps) console.log(`${step.ok ? 'ok  ' : 'FAIL'} ${step.step.padEnd(11)} ${step.detail}`);
      console.log(`${result.isHealthy ? 'healthy' : `not healthy: ${result.problems.join('; ')}`}${result.via === 'daemon' ? ' (run inside the daemon)' : ''}`);
    }
    process.exitCode = result.isHealthy ? 0 : 1;
  }));
}
