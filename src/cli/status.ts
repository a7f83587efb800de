import type { Command } from 'commander';
import { compareViews, type ViewComparison } from '../controller/index.ts';
import { controllerLabel } from '../core/index.ts';
import { bootToOnline } from '../api/index.ts';
import { describeScope, type GitHubRunner } from '../github/index.ts';
import type { ComputeInfo } from '../providers/index.ts';
import { configOption, openCommandRuntime, runCommand } from './command-context.ts';
import type { Runtime } from './runtime.ts';

/** What `jitpool status --json` prints. */
export interface StatusReport extends ViewComparison {
  strict: boolean;
  controllerId: string;
  /** Open jobs no pool can serve (newest first, at most 20), with the reason; never demand, not counted as a mismatch. */
  unservableJobs: Array<{ id: number; repo: string; name: string; pool: string | null; state: string; reason: string }>;
  /** Per pool: launch decision → runner online over its latest 50 launches that came online (ms). */
  pools: Array<{ name: string; bootToOnline: { p50Ms: number | null; p95Ms: number | null; samples: number } }>;
}

/** Reads the store, the providers and GitHub (our registrations only) and compares them. */
export async function collectStatus(runtime: Runtime, options: { strict: boolean }): Promise<StatusReport> {
  const ourLabel = controllerLabel(runtime.config.controllerId).toLowerCase();
  const compute = new Map<string, ComputeInfo>();
  for (const provider of new Set(runtime.providers.values())) for (const info of await provider.list()) compute.set(info.computeId, info);
  const scopes = new Map<string, Runtime['config']['pools'][number]['scope']>();
  for (const pool of runtime.config.pools) scopes.set(describeScope(pool.scope), pool.scope);
  const registrations = new Map<number, GitHubRunner>();
  for (const scope of scopes.values()) {
    for (const runner of await runtime.github.listRunners(scope)) {
      if (runner.labels.some((label) => label.toLowerCase() === ourLabel)) registrations.set(runner.id, runner);
    }
  }
  const comparison = compareViews({
    runners: runtime.store.listLiveRunners(),
    compute: [...compute.values()],
    registrations: [...registrations.values()],
    strict: options.strict,
  });
  const unservableJobs = runtime.store.listUnservableJobs(20).map((job) => ({
    id: job.id, repo: `${job.owner}/${job.repo}`, name: job.name, pool: job.pool, state: job.state, reason: job.unservableReason ?? '',
  }));
  const pools = runtime.config.pools.map((pool) => ({ name: pool.name, bootToOnline: bootToOnline(runtime.store.bootToOnlineMs(pool.name)) }));
  return { ...comparison, strict: options.strict, controllerId: runtime.config.controllerId, unservableJobs, pools };
}

/** The exit status of a status report: 0 only when the three views agree. */
export function statusExitCode(report: StatusReport): number {
  return report.isAgreed ? 0 : 1;
}

/** The human-readable table. */
export function formatStatus(report: StatusReport): string {
  const header = ['', 'RUNNER', 'POOL', 'STORE', 'COMPUTE', 'GITHUB', 'PROBLEMS'];
  const rows = report.rows.map((row) => [
    row.problems.length > 0 ? '✗' : row.isSettling ? '~' : '✓',
    row.name,
    row.pool ?? '-',
    row.store ?? '-',
    row.compute ?? '-',
    row.github ? `${row.github.status}${row.github.busy ? ',busy' : ''}` : '-',
    row.problems.join('; '),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
  const lines = [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  const verdict = report.isAgreed
    ? `store, provider and GitHub agree (${report.rows.length} runners${report.offline > 0 ? `, ${report.offline} offline at GitHub` : ''})`
    : `${report.mismatches} of ${report.rows.length} runners disagree`;
  const unservable = report.unservableJobs.length === 0
    ? ''
    : `\njobs no pool can serve (never demand; the last ${report.unservableJobs.length}):\n${report.unservableJobs.map((job) => `  ${job.id} ${job.repo} "${job.name}" — ${job.reason}`).join('\n')}\n`;
  const boots = (report.pools ?? []).filter((pool) => pool.bootToOnline.samples > 0)
    .map((pool) => `pool ${pool.name}: boot to online p50 ${pool.bootToOnline.p50Ms} ms, p95 ${pool.bootToOnline.p95Ms} ms (last ${pool.bootToOnline.samples} launches)`);
  return `${lines.join('\n')}\n${verdict}\n${boots.length > 0 ? `${boots.join('\n')}\n` : ''}${unservable}`;
}

/** Registers `jitpool status`. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('Compare the store, the provider and GitHub side by side, mismatches marked.')
    .addOption(configOption())
    .option('--strict', 'also fail when GitHub reports a runner offline that the store has online')
    .option('--json', 'print the comparison as one JSON object')
    .addHelpText('after', `
Marks: ✓ agree, ~ mid-launch or mid-cleanup (not counted), ✗ mismatch.

Exit status: 0 the views agree, 1 they disagree, 2 error (GitHub or a provider unreachable, bad config).

Examples:
  $ jitpool status -c /etc/jitpool/jitpool.yaml
  $ jitpool status --strict --json | jq '.rows[] | select(.problems | length > 0)'`)
    .action(async (opts: { config: string; strict?: boolean; json?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        const runtime = await openCommandRuntime(opts.config);
        try {
          const report = await collectStatus(runtime, { strict: Boolean(opts.strict) });
          process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatStatus(report));
          return statusExitCode(report);
        } finally {
          await runtime.stop(10_000);
        }
      });
    });
}
