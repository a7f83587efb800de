import type { Command } from 'commander';
import type { Action, ReconcileResult } from '../controller/index.ts';
import { runActing } from './acting.ts';
import { configOption, runCommand } from './command-context.ts';
import type { Runtime } from './runtime.ts';

/** What `jitpool reconcile --once --json` prints. */
export interface ReconcileOnceReport {
  dryRun: boolean;
  syncedWithGitHub: boolean;
  durationMs: number;
  actions: Action[];
  counts: Record<string, number>;
}

/**
 * One reconcile (seed 001's timer mode): observe the store, the providers and GitHub, plan, and
 * (unless `dryRun`) act and wait for the actions to settle.
 */
export async function reconcileOnce(runtime: Runtime, options: { dryRun: boolean; settleTimeoutMs?: number }): Promise<ReconcileOnceReport> {
  // With the daemon running this pass is one more beside its own loop, with the same in-flight set.
  const result: ReconcileResult = await runtime.controller.reconcileOnce({ syncGitHub: true, dryRun: options.dryRun });
  if (!options.dryRun) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([runtime.controller.settle(), new Promise((resolve) => (timer = setTimeout(resolve, options.settleTimeoutMs ?? 120_000)))]);
    clearTimeout(timer);
  }
  const counts: Record<string, number> = {};
  for (const action of result.actions) counts[action.kind] = (counts[action.kind] ?? 0) + 1;
  return { dryRun: options.dryRun, syncedWithGitHub: result.syncedWithGitHub, durationMs: Math.round(result.durationMs), actions: result.actions, counts };
}

/** Registers `jitpool reconcile --once`. */
export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description('Reconcile once and exit: the timer fallback to the always-on supervisor (`jitpool up`).')
    .addOption(configOption())
    .requiredOption('--once', 'one pass, then exit (the only mode; `jitpool up` is the loop)')
    .option('--dry-run', 'plan and print the actions, change nothing')
    .option('--json', 'print the report as one JSON object')
    .option('--force', 'take the store over from a process that stopped heartbeating (never from a live one)')
    .addHelpText('after', `
While \`jitpool up\` runs on the same store, the pass runs inside it (through its admin API,
with JITPOOL_API_TOKEN): one process acts on a store at a time.

Runners launched by a pass keep running after it exits only with providers whose compute
outlives the process (docker, external, kubernetes); the process provider's runners are its
children, so prefer \`jitpool up\` with it.

Exit status: 0 done, 1 GitHub could not be read (no registration repair), 2 error.

Examples:
  $ jitpool reconcile --once -c /etc/jitpool/jitpool.yaml
  $ jitpool reconcile --once --dry-run --json`)
    .action(async (opts: { config: string; dryRun?: boolean; json?: boolean; force?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        const report = await runActing(opts.config, { name: 'reconcile', input: { dryRun: Boolean(opts.dryRun) }, run: reconcileOnce, force: opts.force });
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else {
          const summary = Object.entries(report.counts).map(([kind, n]) => `${kind} ${n}`).join(', ') || 'nothing to do';
          const where = report.via === 'daemon' ? ', inside the running daemon' : '';
          process.stdout.write(`${report.dryRun ? 'would do' : 'did'}: ${summary} (${report.durationMs} ms${report.syncedWithGitHub ? '' : ', GitHub not read'}${where})\n`);
          for (const action of report.actions) process.stdout.write(`  ${describeAction(action)}\n`);
        }
        return report.syncedWithGitHub ? 0 : 1;
      });
    });
}

function describeAction(action: Action): string {
  switch (action.kind) {
    case 'launch':
      return `launch into ${action.pool}: ${action.reason}`;
    case 'removeOrphanCompute':
      return `remove orphan compute ${action.computeId} (${action.pool})`;
    case 'removeGhost':
      return `remove ghost registration ${action.name} (${action.pool})`;
    case 'refreshJob':
      return `re-read job ${action.jobId} (${action.owner}/${action.repo})`;
    case 'markOnline':
      return `mark ${action.runnerId} online`;
    case 'adoptCompute':
      return `adopt running compute ${action.computeId} (${action.pool}): ${action.reason}`;
    case 'teardown':
      return `tear down ${action.runnerId} (${action.outcome}${action.force ? ', forced' : ''}): ${action.reason}`;
    case 'markBusy':
      return `mark ${action.runnerId} busy: ${action.reason}`;
    case 'adopt':
      return `adopt ${action.runnerId}: ${action.reason}`;
  }
}
