import { median, round } from '../src/core/index.ts';
import { runDemo, type DemoIntake, type DemoReport } from '../src/cli/demo.ts';

/** Per mode: medians over the runs of one invocation. */
export interface IntakeFigures {
  runs: number;
  restCallsPerJob: number;
  actionsServiceCallsPerJob: number;
  queueWaitP50Ms: number;
  queueWaitP95Ms: number;
  launchesPerJob: number;
  /** Every run of this mode lost no job, failed none, leaked nothing and killed no busy runner. */
  isClean: boolean;
}

/** The comparison `bench/scale-set-vs-webhook.ts` prints. */
export interface IntakeComparison {
  jobs: number;
  webhook: IntakeFigures;
  scaleSet: IntakeFigures;
}

function figures(reports: readonly DemoReport[]): IntakeFigures {
  return {
    runs: reports.length,
    restCallsPerJob: round(median(reports.map((r) => r.apiCallsPerJob)), 2),
    actionsServiceCallsPerJob: round(median(reports.map((r) => r.actionsServiceCallsPerJob)), 2),
    queueWaitP50Ms: round(median(reports.map((r) => r.queueWaitMs.p50))),
    queueWaitP95Ms: round(median(reports.map((r) => r.queueWaitMs.p95))),
    launchesPerJob: round(median(reports.map((r) => r.launchesPerJob)), 2),
    isClean: reports.every((r) => r.jobs.lost === 0 && r.jobs.failed === 0 && r.runners.leaked === 0 && r.runners.busyKilled === 0),
  };
}

/**
 * The demo workload in webhook mode and in scale-set mode, alternating (so machine noise hits both
 * alike), `runs` times each with the same seed; medians per mode.
 */
export async function compareIntakes(options: { runs: number; jobs: number; seed: number; sandbox?: 'bwrap' | 'none' }): Promise<IntakeComparison> {
  const reports: Record<DemoIntake, DemoReport[]> = { webhook: [], 'scale-set': [] };
  for (let run = 0; run < options.runs; run += 1) {
    for (const intake of run % 2 === 0 ? (['webhook', 'scale-set'] as const) : (['scale-set', 'webhook'] as const)) {
      reports[intake].push(await runDemo({ jobs: options.jobs, seed: options.seed, intake, sandbox: options.sandbox, logLevel: 'error' }));
    }
  }
  return { jobs: options.jobs, webhook: figures(reports.webhook), scaleSet: figures(reports['scale-set']) };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const index = args.indexOf(name);
    const value = index >= 0 ? Number(args[index + 1]) : fallback;
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
    return value;
  };
  const result = await compareIntakes({ runs: flag('--runs', 3), jobs: flag('--jobs', 200), seed: flag('--seed', 1), sandbox: args.includes('--no-sandbox') ? 'none' : 'bwrap' });
  console.log(JSON.stringify(result, null, 2));
  process.exitCode = result.webhook.isClean && result.scaleSet.isClean ? 0 : 1;
}
