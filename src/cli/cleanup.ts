import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { controllerLabel, describeError, isJitpoolError, JitpoolError } from '../core/index.ts';
import { describeScope, type GitHubScope } from '../github/index.ts';
import type { ComputeInfo, Provider } from '../providers/index.ts';
import { runActing } from './acting.ts';
import { configOption, runCommand } from './command-context.ts';
import type { Runtime } from './runtime.ts';

/** What `cleanup` removes: offline registrations without compute (seed 004's cleanup-github-runners), or everything (cleanup-all-containers). */
export type CleanupMode = 'offline-registrations' | 'all';

/** One thing a cleanup removes. */
export type CleanupItem =
  | { kind: 'registration'; name: string; githubRunnerId: number; scope: GitHubScope; status: string; busy: boolean }
  | { kind: 'compute'; name: string; computeId: string; pool: string }
  | { kind: 'store'; name: string; runnerId: string; state: string };

/** What `cleanup --json` prints. */
export interface CleanupReport {
  mode: CleanupMode;
  dryRun: boolean;
  planned: Array<Omit<CleanupItem, 'scope'> & { scope?: string }>;
  removed: number;
  failed: Array<{ name: string; kind: string; error: string }>;
}

/** Finds what a cleanup would remove; changes nothing. Only ever things carrying this controller's label. */
export async function planCleanup(runtime: Runtime, mode: CleanupMode): Promise<CleanupItem[]> {
  const ourLabel = controllerLabel(runtime.config.controllerId).toLowerCase();
  const compute: ComputeInfo[] = [];
  for (const provider of new Set(runtime.providers.values())) compute.push(...(await provider.list()));
  const computeNames = new Set(compute.map((c) => c.runnerName));
  const items: CleanupItem[] = [];
  const scopes = new Map<string, GitHubScope>();
  for (const pool of runtime.config.pools) scopes.set(describeScope(pool.scope), pool.scope);
  const seen = new Set<number>();
  for (const scope of scopes.values()) {
    for (const runner of await runtime.github.listRunners(scope)) {
      if (seen.has(runner.id) || !runner.labels.some((label) => label.toLowerCase() === ourLabel)) continue;
      seen.add(runner.id);
      // A booting runner is offline too, but it has compute: only registrations without any are stale.
      const isStale = runner.status === 'offline' && !runner.busy && !computeNames.has(runner.name);
      if (mode === 'all' || isStale) items.push({ kind: 'registration', name: runner.name, githubRunnerId: runner.id, scope, status: runner.status, busy: runner.busy });
    }
  }
  if (mode === 'all') {
    for (const info of compute) items.push({ kind: 'compute', name: info.runnerName, computeId: info.computeId, pool: info.pool });
    for (const runner of runtime.store.listLiveRunners()) items.push({ kind: 'store', name: runner.name, runnerId: runner.id, state: runner.state });
  }
  return items;
}

/**
 * Removes the planned items: compute first (so a busy runner's job ends), then registrations,
 * then the store records (failed → removed, logged as a cleanup). Never throws for one item.
 */
export async function executeCleanup(runtime: Runtime, items: readonly CleanupItem[]): Promise<{ removed: number; failed: CleanupReport['failed'] }> {
  const providers = new Map<string, Provider>([...runtime.providers]);
  const failed: CleanupReport['failed'] = [];
  let removed = 0;
  const order = { compute: 0, registration: 1, store: 2 } as const;
  for (const item of [...items].sort((a, b) => order[a.kind] - order[b.kind])) {
    try {
      if (item.kind === 'compute') {
        // The one teardown besides the job timeout that may destroy a busy runner: the operator asked for it.
        runtime.logger.warn({ component: 'cleanup', computeId: item.computeId, pool: item.pool }, 'destroying runner compute on cleanup --all (a busy runner loses its job)');
        await providers.get(item.pool)?.delete(item.computeId);
      }
      else if (item.kind === 'registration') await runtime.github.deleteRunner(item.scope, item.githubRunnerId);
      else {
        const runner = runtime.store.getRunner(item.runnerId);
        if (runner.state !== 'failed' && runner.state !== 'lost') runtime.store.updateRunner(runner.id, { state: 'failed', lastError: 'removed by jitpool cleanup --all' }, 'cli', 'cleanup --all');
        runtime.store.updateRunner(runner.id, { state: 'removed' }, 'cli', 'cleanup --all');
      }
      removed += 1;
    } catch (err) {
      failed.push({ name: item.name, kind: item.kind, error: isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY') ? 'GitHub refused: it is running a job' : describeError(err) });
    }
  }
  return { removed, failed };
}

/** `jitpool cleanup` on a runtime that holds the store lease (this process's, or the daemon's). */
export async function runCleanup(runtime: Runtime, input: { mode: CleanupMode; dryRun: boolean }): Promise<CleanupReport> {
  const items = await planCleanup(runtime, input.mode);
  const planned = items.map((item) => (item.kind === 'registration' ? { ...item, scope: describeScope(item.scope) } : item));
  const result = input.dryRun || items.length === 0 ? { removed: 0, failed: [] } : await executeCleanup(runtime, items);
  return { mode: input.mode, dryRun: input.dryRun, planned, ...result };
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new JitpoolError('JP_INPUT_INVALID', 'refusing to clean up without confirmation: stdin is not a terminal; pass --yes (or --dry-run to look first)');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Registers `jitpool cleanup`. */
export function registerCleanupCommand(program: Command): void {
  program
    .command('cleanup')
    .description('Remove stale GitHub registrations, or (emergency) every runner, compute and registration of this controller.')
    .addOption(configOption())
    .option('--offline-registrations', 'remove registrations GitHub reports offline that have no compute (ghosts)')
    .option('--all', 'EMERGENCY: destroy all compute (busy runners too), delete every registration, mark every runner removed')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print the report as one JSON object')
    .addHelpText('after', `
Only things carrying this controller's label (jitpool-<controllerId>) are touched. While
\`jitpool up\` runs on the same store the cleanup runs inside it (through its admin API); stop it
before --all, or it relaunches warm runners at once.

Exit status: 0 done (or nothing to do), 1 some items could not be removed, 2 error or not confirmed.

Examples:
  $ jitpool cleanup --offline-registrations --dry-run
  $ jitpool cleanup --all --yes --json`)
    .action(async (opts: { config: string; offlineRegistrations?: boolean; all?: boolean; yes?: boolean; dryRun?: boolean; json?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        if (Boolean(opts.offlineRegistrations) === Boolean(opts.all)) throw new JitpoolError('JP_INPUT_INVALID', 'pass exactly one of --offline-registrations and --all');
        const mode: CleanupMode = opts.all ? 'all' : 'offline-registrations';
        const cleanup = (dryRun: boolean) => runActing(opts.config, { name: 'cleanup', input: { mode, dryRun }, run: runCleanup });
        let report = await cleanup(true);
        if (!opts.json) for (const item of report.planned) process.stdout.write(`${opts.dryRun ? 'would remove' : 'remove'} ${item.kind} ${item.name}\n`);
        if (!opts.dryRun && report.planned.length > 0) {
          if (!opts.yes && !(await confirm(`Remove ${report.planned.length} item(s) (${mode})?`))) throw new JitpoolError('JP_INPUT_INVALID', 'not confirmed; nothing removed');
          report = await cleanup(false);
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else {
          for (const failure of report.failed) process.stdout.write(`failed ${failure.kind} ${failure.name}: ${failure.error}\n`);
          const count = report.planned.length;
          process.stdout.write(count === 0 ? 'nothing to clean up\n' : opts.dryRun ? `dry run: ${count} item(s) would be removed\n` : `removed ${report.removed} of ${count}\n`);
        }
        return report.failed.length === 0 ? 0 : 1;
      });
    });
}
