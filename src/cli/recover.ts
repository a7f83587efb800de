import type { Command } from 'commander';
import { recover } from '../guard/index.ts';
import { handled, withRepoOptions, withRuntime, type RepoCommandOptions } from './guard-context.ts';

/** Registers `jitpool recover`. */
export function registerRecoverCommand(program: Command): void {
  withRepoOptions(
    program
      .command('recover')
      .description('Recover: routing off first, reconcile with GitHub, remove ghosts and stuck runners, check health, routing back on only when healthy. Exit 0 when healthy.')
      .option('--dry-run', 'show each step, change nothing'),
  ).action(handled(async (opts: RepoCommandOptions) => {
    const result = await withRuntime(opts, (runtime, { owner, repo }) =>
      recover(
        {
          guard: runtime.guard, controller: runtime.controller, store: runtime.store, github: runtime.github, pools: [...runtime.controller.pools.values()],
          controllerId: runtime.config.controllerId, variableName: runtime.config.routing.variableName, clock: { now: () => Date.now() },
        },
        owner,
        repo,
        { dryRun: opts.dryRun, print: opts.json ? undefined : (step) => console.log(`${step.ok ? 'ok  ' : 'FAIL'} ${step.step.padEnd(11)} ${step.detail}`) },
      ),
    );
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else console.log(result.isHealthy ? 'healthy' : `not healthy: ${result.problems.join('; ')}`);
    process.exitCode = result.isHealthy ? 0 : 1;
  }));
}
