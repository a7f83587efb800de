import { existsSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.ts';
import { applyRecovery, observeForRecovery, planRecovery, type RecoveryPlan } from '../controller/index.ts';
import { JitpoolError, isJitpoolError } from '../core/index.ts';
import { Store } from '../store/index.ts';
import { commandLogger, configOption, runCommand } from './command-context.ts';
import { buildPools, githubClientOf, sqlitePathOf } from './runtime.ts';

/** What `jitpool store rebuild --json` prints. */
export interface RebuildReport extends RecoveryPlan {
  file: string;
  dryRun: boolean;
  /** Where the old database (and its -wal/-shm) went; null on a dry run or when there was none. */
  keptAs: string[];
  /** Runner rows written into the new store. */
  created: number;
}

/** Registers `jitpool store check` and `jitpool store rebuild`. */
export function registerStoreCommand(program: Command): void {
  const store = program.command('store').description('Check the store, or rebuild a damaged one from the providers and GitHub.');

  store
    .command('check')
    .description("Run SQLite's integrity check on the store (read-only).")
    .addOption(configOption())
    .option('--json', 'print {"ok", "file", "problems"}')
    .addHelpText('after', '\nExit status: 0 sound, 1 damaged (run `jitpool store rebuild`), 2 error.')
    .action(async (opts: { config: string; json?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        const file = sqlitePathOf(loadConfig(opts.config));
        const problems = checkStoreFile(file);
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, file, problems })}\n`);
        else process.stdout.write(problems.length === 0 ? `${file}: ok\n` : `${file}: damaged\n${problems.map((p) => `  ${p}`).join('\n')}\nrun: jitpool store rebuild -c ${opts.config}\n`);
        return problems.length === 0 ? 0 : 1;
      });
    });

  store
    .command('rebuild')
    .description('Move the store aside (kept, timestamped) and start a fresh one, re-creating runner rows from the providers\' compute and GitHub\'s registrations.')
    .addOption(configOption())
    .option('--dry-run', 'show what would be re-created; move and write nothing')
    .option('--json', 'print the report as one JSON object')
    .option('--force', 'rebuild even if the daemon\'s API answers or a view could not be read')
    .addHelpText(
      'after',
      `
Stop jitpool first. Queued jobs are not kept: the poller finds them again at the next start.
Pool sizing set with \`jitpool pool scale\` is lost; set it again.

Examples:
  $ jitpool store rebuild -c /etc/jitpool/jitpool.yaml --dry-run
  $ jitpool store rebuild -c /etc/jitpool/jitpool.yaml`,
    )
    .action(async (opts: { config: string; dryRun?: boolean; json?: boolean; force?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        const report = await rebuildStore(loadConfig(opts.config), { dryRun: Boolean(opts.dryRun), force: Boolean(opts.force) });
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatRebuild(report));
        return 0;
      });
    });
}

/** SQLite's findings on a store file ([] when sound); a file that does not open counts as damaged. */
export function checkStoreFile(file: string): string[] {
  if (!existsSync(file)) throw new JitpoolError('JP_STORE_NOT_FOUND', `no store at ${file}`, { details: { file } });
  try {
    const store = Store.open(file, undefined, { verify: false });
    try {
      return store.maintenance.integrityCheck();
    } finally {
      store.close();
    }
  } catch (err) {
    if (isJitpoolError(err, 'JP_STORE_CORRUPT')) return [String(err.details.sqlite ?? err.message)];
    throw err;
  }
}

/**
 * Rebuilds the store a config names: reads compute and registrations (refusing when a view
 * cannot be read, unless forced), moves the old files aside, opens a fresh store and writes the
 * runners found. Throws `JP_STORE_IN_USE` while the daemon's API answers.
 */
export async function rebuildStore(config: Config, options: { dryRun: boolean; force: boolean; nowMs?: number }): Promise<RebuildReport> {
  const file = sqlitePathOf(config);
  if (!options.force && !options.dryRun && (await daemonAnswers(config))) {
    throw new JitpoolError('JP_STORE_IN_USE', `jitpool's API answers on ${config.api.host}:${config.api.port}: stop the daemon before rebuilding its store (or pass --force)`);
  }
  const logger = commandLogger();
  const pools = buildPools(config, logger);
  const observed = await observeForRecovery({ controllerId: config.controllerId, github: githubClientOf(config, logger, process.env), pools });
  const plan = { ...planRecovery(observed), errors: observed.errors };
  if (plan.errors.length > 0 && !options.force) {
    throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `cannot see every runner, so the store is left as it is: ${plan.errors.join('; ')} (fix it, or pass --force)`);
  }
  for (const pool of pools) await pool.provider.close();
  if (options.dryRun) return { ...plan, file, dryRun: true, keptAs: [], created: 0 };
  const keptAs = moveAside(file, options.nowMs ?? Date.now());
  const store = Store.open(file);
  try {
    const created = applyRecovery(store, plan.runners, 'store-rebuild');
    store.recordEvent('controller', config.controllerId, 'store-rebuilt', 'store-rebuild', `${created.length} runners found again; old store kept as ${keptAs[0] ?? 'nothing (there was none)'}`);
    return { ...plan, file, dryRun: false, keptAs, created: created.length };
  } finally {
    store.close();
  }
}

/** Renames the database and its companions to `<file>.damaged-<timestamp>`; returns the new paths. */
function moveAside(file: string, nowMs: number): string[] {
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  const kept: string[] = [];
  for (const suffix of ['', '-wal', '-shm']) {
    if (!existsSync(`${file}${suffix}`)) continue;
    const target = `${file}.damaged-${stamp}${suffix}`;
    renameSync(`${file}${suffix}`, target);
    kept.push(target);
  }
  return kept;
}

async function daemonAnswers(config: Config): Promise<boolean> {
  const host = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host === '::' ? '::1' : config.api.host;
  try {
    const response = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${config.api.port}/healthz`, { signal: AbortSignal.timeout(1500) });
    return response.ok;
  } catch {
    return false;
  }
}

function formatRebuild(report: RebuildReport): string {
  const lines = [report.dryRun ? `dry run: ${report.file} is left as it is` : `rebuilt ${report.file}`];
  if (report.keptAs.length > 0) lines.push(`old store kept as ${report.keptAs.join(', ')}`);
  lines.push(`runners ${report.dryRun ? 'to re-create' : 're-created'}: ${report.dryRun ? report.runners.length : report.created}`);
  for (const runner of report.runners) lines.push(`  ${runner.name} (${runner.pool}) ${runner.state} — ${runner.reason}`);
  if (report.ghosts.length > 0) lines.push(`registrations without compute (the reconcile removes them): ${report.ghosts.map((g) => g.name).join(', ')}`);
  for (const skipped of report.skipped) lines.push(`skipped ${skipped.computeId}: ${skipped.reason}`);
  for (const error of report.errors) lines.push(`could not read: ${error}`);
  if (!report.dryRun) lines.push('queued jobs are found again by the poller at the next start; pool sizing overrides must be set again');
  return `${lines.join('\n')}\n`;
}
