import type { Command } from 'commander';
import { JitpoolError } from '../core/index.ts';
import { loadConfig } from '../config/index.ts';
import { computeSloReport, computeUsage, DEFAULT_SLO_THRESHOLDS, routingCorrectness, type UsageReport, type JobSample, type LifecycleSample, type SloReport } from '../guard/index.ts';
import { Store } from '../store/index.ts';
import { configOption, runCommand } from './command-context.ts';
import { sqlitePathOf } from './runtime.ts';

/** The latest `last` finished lifecycles and started jobs from the store. */
export function collectSamples(store: Store, last: number): { lifecycles: LifecycleSample[]; jobs: JobSample[] } {
  const lifecycles = store.listRunners({ states: ['removed'], limit: last }).map((runner) => {
    const transitions = store.listTransitions({ entityId: runner.id });
    return {
      createdAtMs: runner.createdAtMs,
      states: transitions.map((t) => t.toState),
      busyAtMs: transitions.find((t) => t.toState === 'busy')?.atMs ?? null,
    };
  });
  // Jobs a runner took (a job cancelled in the queue never waited for one of ours).
  const jobs = store
    .listJobs({ states: ['in_progress', 'completed'], limit: last * 4 })
    .filter((job) => job.pool !== null && job.runnerName !== null && job.startedAtMs !== null)
    .slice(0, last)
    .map((job) => ({ queuedAtMs: job.queuedAtMs, startedAtMs: job.startedAtMs! }));
  return { lifecycles, jobs };
}

/** The human-readable report. */
export function formatSloReport(report: SloReport, last: number): string {
  const lines = report.criteria.map((c) => {
    const isShare = c.name === 'lifecycleSuccessRate' || c.name === 'routingCorrectness';
    const value = c.value === null ? 'no data' : isShare ? `${(c.value * 100).toFixed(1)} %` : `${c.value} s`;
    const threshold = isShare ? `${(c.threshold * 100).toFixed(0)} %` : `${c.threshold} s`;
    return `${c.isMet ? '✓' : '✗'} ${c.name.padEnd(24)} ${value.padStart(10)}  (${c.comparison} ${threshold}, ${c.samples} samples)`;
  });
  return `${lines.join('\n')}\n${report.isMet ? 'criteria met' : 'criteria MISSED'} over the latest ${last}\n`;
}

/** The cost and utilisation section: runner-minutes, idle share and launches per job. */
export function formatUsage(usage: UsageReport): string {
  const share = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(0)} %`);
  const row = (name: string, f: UsageReport['total']) => `  ${name.padEnd(28)} ${String(f.runners).padStart(6)} ${f.runnerMinutes.toFixed(1).padStart(10)} ${f.busyMinutes.toFixed(1).padStart(10)} ${share(f.idleShare).padStart(6)}`;
  const header = `  ${''.padEnd(28)} ${'runners'.padStart(6)} ${'runner-min'.padStart(10)} ${'busy-min'.padStart(10)} ${'idle'.padStart(6)}`;
  return [
    '',
    `usage of the latest ${usage.runners} runners: ${usage.jobsRun} jobs run, ${usage.launchesPerJob ?? '—'} launches per job`,
    header,
    row('all', usage.total),
    ...Object.entries(usage.byPool).map(([pool, f]) => row(`pool ${pool}`, f)),
    ...Object.entries(usage.byRepository).map(([repository, f]) => row(repository, f)),
    '',
  ].join('\n');
}

/** Registers `jitpool report`. */
export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('Service-level figures from the store, judged against thresholds: runner lifecycle success rate, p95 queue wait, p95 setup latency, routing correctness (100 %).')
    .addOption(configOption())
    .option('--last <n>', 'latest runner lifecycles and jobs to evaluate', (v) => Number(v), 50)
    .option('--min-success-rate <ratio>', 'least lifecycle success rate', (v) => Number(v), DEFAULT_SLO_THRESHOLDS.minLifecycleSuccessRate)
    .option('--max-queue-wait <seconds>', 'most p95 queue wait', (v) => Number(v), DEFAULT_SLO_THRESHOLDS.maxQueueWaitP95Seconds)
    .option('--max-setup-latency <seconds>', 'most p95 setup latency (launch decision → runner busy)', (v) => Number(v), DEFAULT_SLO_THRESHOLDS.maxSetupLatencyP95Seconds)
    .option('--json', 'print the report as one JSON object')
    .addHelpText('after', `
Setup latency is measured from the launch decision to the runner taking its first job.
A criterion without samples is reported as "no data" and not counted as missed.
Usage (over the same latest runners): runner-minutes per pool and per repository of the job each
runner ran, the idle share (minutes not running a job: warm runners, boot, teardown) and the
runners launched per job that ran. Per workflow is not available: the store does not record it.

Exit status: 0 every criterion met, 1 one missed, 2 error.

Example:
  $ jitpool report --last 50 --json`)
    .action(async (opts: { config: string; last: number; minSuccessRate: number; maxQueueWait: number; maxSetupLatency: number; json?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        for (const [flag, value] of [['--last', opts.last], ['--min-success-rate', opts.minSuccessRate], ['--max-queue-wait', opts.maxQueueWait], ['--max-setup-latency', opts.maxSetupLatency]] as const) {
          if (!Number.isFinite(value) || value < 0) throw new JitpoolError('JP_INPUT_INVALID', `${flag} must be a number >= 0, got ${String(value)}`);
        }
        const config = loadConfig(opts.config);
        const store = Store.open(sqlitePathOf(config));
        try {
          const samples = collectSamples(store, Math.max(1, Math.floor(opts.last)));
          const routing = routingCorrectness(store, Math.max(1, Math.floor(opts.last)));
          const report = computeSloReport(samples.lifecycles, samples.jobs, {
            minLifecycleSuccessRate: opts.minSuccessRate, maxQueueWaitP95Seconds: opts.maxQueueWait, maxSetupLatencyP95Seconds: opts.maxSetupLatency,
          }, routing);
          const usage = computeUsage(store, Math.max(1, Math.floor(opts.last)), Date.now());
          process.stdout.write(opts.json ? `${JSON.stringify({ last: opts.last, ...report, routing, usage })}\n` : `${formatSloReport(report, opts.last)}${formatUsage(usage)}`);
          return report.isMet ? 0 : 1;
        } finally {
          store.close();
        }
      });
    });
}
