import pino from 'pino';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { diagnose, repair, type DoctorDeps, type DoctorReport, type RepairResult } from '../controller/index.ts';
import { createLogger } from '../core/index.ts';
import { Store } from '../store/index.ts';
import { runActing } from './acting.ts';
import { runCommand } from './command-context.ts';
import { buildPools, githubClientOf, sqlitePathOf, type Runtime } from './runtime.ts';

/** Registers `jitpool doctor` (seed 000's runner doctor). */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'Find ghost registrations (offline runners with this controller\'s label that the store does not know), stale work directories, orphan compute and runners stuck booting. Changes nothing unless told to.',
    )
    .option('-c, --config <file>', 'configuration file', process.env.JITPOOL_CONFIG ?? 'jitpool.yaml')
    .option('--cleanup-offline', 'delete ghost registrations that are offline, idle and older than --min-age-mins')
    .option('--cleanup-dirs', 'remove stale work directories older than --min-age-mins (only ones jitpool made: a runner name, jitpool’s own record of that runner, owned by the runner user)')
    .option('--dry-run', 'show what --cleanup-offline / --cleanup-dirs would remove, and remove nothing')
    .option('--min-age-mins <n>', 'minimum age before anything is removed', (v) => nonNegativeInt(v, '--min-age-mins'), 60)
    .option('--json', 'print one JSON object')
    .option('--force', 'with a cleanup flag: take the store over from a process that stopped heartbeating (never from a live one)')
    .addHelpText('after', `
With --cleanup-offline or --cleanup-dirs while \`jitpool up\` runs on the same store, the repair
runs inside it (through its admin API, with JITPOOL_API_TOKEN): one process acts on a store at a time.`)
    .action(async (opts: { config: string; cleanupOffline?: boolean; cleanupDirs?: boolean; dryRun?: boolean; minAgeMins: number; json?: boolean; force?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        // --dry-run: what the cleanup flags would remove, from a read-only look.
        const input: DoctorInput = { minAgeMins: opts.minAgeMins, cleanupOffline: Boolean(opts.cleanupOffline) && !opts.dryRun, cleanupDirs: Boolean(opts.cleanupDirs) && !opts.dryRun };
        const { report, repaired } = input.cleanupOffline || input.cleanupDirs
          ? await runActing(opts.config, { name: 'doctor-repair', input, run: (runtime, i) => runDoctor(doctorDeps(runtime), i), force: opts.force })
          : await diagnoseOnly(opts.config, input);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...report, repaired })}\n`);
        } else {
          printReport(report, opts.minAgeMins);
          if (repaired) {
            for (const name of repaired.removedRegistrations) console.log(`removed registration ${name}`);
            for (const path of repaired.removedDirs) console.log(`removed ${path}`);
            for (const error of repaired.errors) console.log(`could not repair: ${error}`);
          } else if (report.ghosts.some((g) => g.isRemovable) || report.staleDirs.length > 0) {
            console.log(`nothing changed (dry run); ${opts.dryRun ? 'drop --dry-run' : 'use --cleanup-offline and/or --cleanup-dirs'} to act`);
          }
        }
        const problems = report.errors.length + (repaired?.errors.length ?? 0);
        return problems > 0 ? 2 : 0;
      });
    });
}

/** What `jitpool doctor` is asked to do. */
export interface DoctorInput {
  minAgeMins: number;
  cleanupOffline: boolean;
  cleanupDirs: boolean;
}

/** The doctor's findings and, when asked, what it repaired. */
export interface DoctorResult {
  report: DoctorReport;
  repaired: RepairResult | null;
}

/** The doctor's view of a runtime's store, GitHub and pools. */
export function doctorDeps(runtime: Runtime): DoctorDeps {
  return { controllerId: runtime.config.controllerId, store: runtime.store, github: runtime.github, pools: [...runtime.controller.pools.values()], nowMs: Date.now() };
}

/** Diagnoses, and repairs what `input` asks for (on a runtime holding the store lease when it repairs). */
export async function runDoctor(deps: DoctorDeps, input: DoctorInput): Promise<DoctorResult> {
  const report = await diagnose(deps, input.minAgeMins * 60_000);
  const repaired = input.cleanupOffline || input.cleanupDirs
    ? await repair(deps, report, { cleanupOffline: input.cleanupOffline, cleanupDirs: input.cleanupDirs, minAgeMs: input.minAgeMins * 60_000 })
    : null;
  return { report, repaired };
}

/** A read-only diagnosis: no lease, nothing changed. */
async function diagnoseOnly(configFile: string, input: DoctorInput): Promise<DoctorResult> {
  const config = loadConfig(configFile);
  const logger = createLogger({ level: 'warn', destination: pino.destination({ fd: 2 }) });
  const store = Store.open(sqlitePathOf(config));
  try {
    return await runDoctor({ controllerId: config.controllerId, store, github: githubClientOf(config, logger, process.env), pools: buildPools(config, logger), nowMs: Date.now() }, input);
  } finally {
    store.close();
  }
}

function printReport(report: Awaited<ReturnType<typeof diagnose>>, minAgeMins: number): void {
  console.log(`ghost registrations: ${report.ghosts.length}`);
  for (const ghost of report.ghosts) {
    const note = ghost.isRemovable ? 'removable' : ghost.busy ? 'busy: kept' : ghost.status === 'online' ? 'online: kept' : `younger than ${minAgeMins} min`;
    console.log(`  ${ghost.name} (${ghost.scope}, ${ghost.status}, seen for ${ghost.ageMinutes} min) — ${note}`);
  }
  console.log(`stale work directories: ${report.staleDirs.length}`);
  for (const dir of report.staleDirs) console.log(`  ${dir.path} (${dir.ageMinutes} min) — removable`);
  console.log(`other directories under the work root: ${report.foreignDirs.length} (never removed)`);
  for (const dir of report.foreignDirs) console.log(`  ${dir.path} — kept: ${dir.reason}`);
  console.log(`orphan compute: ${report.orphanCompute.length}`);
  for (const orphan of report.orphanCompute) console.log(`  ${orphan.computeId} (${orphan.pool}, ${orphan.state}) — reconcile removes it`);
  console.log(`runners stuck booting: ${report.stuckRunners.length}`);
  for (const stuck of report.stuckRunners) console.log(`  ${stuck.name} (${stuck.state} for ${stuck.minutes} min)`);
  for (const error of report.errors) console.log(`error: ${error}`);
}

function nonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a whole number of minutes, got ${JSON.stringify(value)}`);
  return n;
}
