import pino from 'pino';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { diagnose, repair } from '../controller/index.ts';
import { createLogger } from '../core/index.ts';
import { Store } from '../store/index.ts';
import { buildPools, githubClientOf, sqlitePathOf } from './runtime.ts';

/** Registers `jitpool doctor` (seed 000's runner doctor). */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'Find ghost registrations (offline runners with this controller\'s label that the store does not know), stale work directories, orphan compute and runners stuck booting. Changes nothing unless told to.',
    )
    .option('-c, --config <file>', 'configuration file', process.env.JITPOOL_CONFIG ?? 'jitpool.yaml')
    .option('--cleanup-offline', 'delete ghost registrations that are offline, idle and older than --min-age-mins')
    .option('--cleanup-dirs', 'remove stale work directories older than --min-age-mins')
    .option('--min-age-mins <n>', 'minimum age before anything is removed', (v) => nonNegativeInt(v, '--min-age-mins'), 60)
    .option('--json', 'print one JSON object')
    .action(async (opts: { config: string; cleanupOffline?: boolean; cleanupDirs?: boolean; minAgeMins: number; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const logger = createLogger({ level: 'warn', destination: pino.destination({ fd: 2 }) });
      const store = Store.open(sqlitePathOf(config));
      try {
        const deps = {
          controllerId: config.controllerId,
          store,
          github: githubClientOf(config, logger, process.env),
          pools: buildPools(config, logger),
          nowMs: Date.now(),
        };
        const report = await diagnose(deps, opts.minAgeMins * 60_000);
        const repaired = opts.cleanupOffline || opts.cleanupDirs
          ? await repair(deps, report, { cleanupOffline: Boolean(opts.cleanupOffline), cleanupDirs: Boolean(opts.cleanupDirs) })
          : null;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...report, repaired })}\n`);
        } else {
          printReport(report, opts.minAgeMins);
          if (repaired) {
            for (const name of repaired.removedRegistrations) console.log(`removed registration ${name}`);
            for (const path of repaired.removedDirs) console.log(`removed ${path}`);
            for (const error of repaired.errors) console.log(`could not repair: ${error}`);
          } else if (report.ghosts.some((g) => g.isRemovable) || report.staleDirs.length > 0) {
            console.log('nothing changed (dry run); use --cleanup-offline and/or --cleanup-dirs to act');
          }
        }
        const problems = report.errors.length + (repaired?.errors.length ?? 0);
        process.exitCode = problems > 0 ? 2 : 0;
      } finally {
        store.close();
      }
    });
}

function printReport(report: Awaited<ReturnType<typeof diagnose>>, minAgeMins: number): void {
  console.log(`ghost registrations: ${report.ghosts.length}`);
  for (const ghost of report.ghosts) {
    const note = ghost.isRemovable ? 'removable' : ghost.busy ? 'busy: kept' : ghost.status === 'online' ? 'online: kept' : `younger than ${minAgeMins} min`;
    console.log(`  ${ghost.name} (${ghost.scope}, ${ghost.status}, seen for ${ghost.ageMinutes} min) — ${note}`);
  }
  console.log(`stale work directories: ${report.staleDirs.length}`);
  for (const dir of report.staleDirs) console.log(`  ${dir.path} (${dir.ageMinutes} min)`);
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
