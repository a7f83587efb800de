import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Config } from '../config/index.ts';
import { resolvePoolScale } from '../controller/index.ts';
import { JitpoolError, systemClock } from '../core/index.ts';
import type { Store } from '../store/index.ts';
import { runActingOnStore } from './acting.ts';
import { configOption, nonNegativeInt, runCommand } from './command-context.ts';

/** What `jitpool pool scale --json` prints (and `--status-out` writes). */
export interface PoolScaleStatus {
  pool: string;
  dryRun: boolean;
  configured: { minIdle: number; max: number };
  previous: { minIdle: number; max: number; target: number } | null;
  min: number;
  max: number;
  target: number;
  requestedTarget: number;
  isClamped: boolean;
  /** The running controller applies the sizing at its next reconcile. */
  appliesAt: 'next reconcile' | 'never (dry run)';
}

/** What `--inventory-out` writes: the pool's runners as the store knows them. */
export interface PoolInventory {
  pool: string;
  generatedAtMs: number;
  runners: Array<{ id: string; name: string; state: string; jobId: number | null; ageSeconds: number }>;
  counts: Record<string, number>;
}

/** Options of {@link scalePool}. */
export interface ScalePoolOptions {
  pool: string;
  min?: number;
  max?: number;
  target?: number;
  dryRun: boolean;
}

/**
 * Resolves and (unless `dryRun`) persists a pool's sizing in the store, where the running
 * controller reads it at every reconcile. Throws `JP_POOL_NOT_FOUND` or `JP_INPUT_INVALID`.
 */
export function scalePool(config: Config, store: Store, options: ScalePoolOptions): PoolScaleStatus {
  const pool = config.pools.find((p) => p.name === options.pool);
  if (!pool) {
    throw new JitpoolError('JP_POOL_NOT_FOUND', `no pool named ${options.pool}; pools: ${config.pools.map((p) => p.name).join(', ')}`, { details: { pool: options.pool } });
  }
  const override = store.listPoolOverrides().find((o) => o.pool === pool.name) ?? null;
  const base = override ? { minIdle: override.minIdle, max: override.max } : { minIdle: pool.minIdle, max: pool.max };
  const scale = resolvePoolScale(base, { min: options.min, max: options.max, target: options.target });
  if (!options.dryRun) store.setPoolOverride({ pool: pool.name, minIdle: scale.minIdle, max: scale.max, target: scale.target, actor: 'cli' });
  return {
    pool: pool.name,
    dryRun: options.dryRun,
    configured: { minIdle: pool.minIdle, max: pool.max },
    previous: override ? { minIdle: override.minIdle, max: override.max, target: override.target } : null,
    min: scale.minIdle,
    max: scale.max,
    target: scale.target,
    requestedTarget: scale.requestedTarget,
    isClamped: scale.isClamped,
    appliesAt: options.dryRun ? 'never (dry run)' : 'next reconcile',
  };
}

/** `jitpool pool scale` on a store whose lease this process holds (its own, or the daemon's): the sizing and the pool's inventory. */
export function scalePoolCommand(scope: { config: Config; store: Store }, input: ScalePoolOptions): PoolScaleStatus & { inventory: PoolInventory } {
  const status = scalePool(scope.config, scope.store, input);
  return { ...status, inventory: poolInventory(scope.store, status.pool) };
}

/** The pool's runners as the store knows them (live ones). */
export function poolInventory(store: Store, pool: string, nowMs = systemClock.now()): PoolInventory {
  const runners = store.listLiveRunners(pool);
  const counts: Record<string, number> = {};
  for (const runner of runners) counts[runner.state] = (counts[runner.state] ?? 0) + 1;
  return {
    pool,
    generatedAtMs: nowMs,
    runners: runners.map((r) => ({ id: r.id, name: r.name, state: r.state, jobId: r.jobId, ageSeconds: Math.max(0, Math.floor((nowMs - r.createdAtMs) / 1000)) })),
    counts,
  };
}

/** Registers `jitpool pool scale`. */
export function registerPoolCommand(program: Command): void {
  const pool = program.command('pool').description('Steer pools while jitpool runs.');
  pool
    .command('scale')
    .description('Set a pool\'s min, max and target (clamped to [min, max]); the running controller applies it at its next reconcile.')
    .argument('<pool>', 'pool name')
    .addOption(configOption())
    .option('--min <n>', 'warm floor: target never goes below it (default: current)', nonNegativeInt('--min'))
    .option('--max <n>', 'most runners alive at once (default: current)', nonNegativeInt('--max'))
    .option('--target <n>', 'warm runners to keep now, clamped to [min, max] (default: min)', nonNegativeInt('--target'))
    .option('--inventory-out <file>', "write the pool's runners as JSON")
    .option('--status-out <file>', 'write the resulting sizing as JSON (the --json object)')
    .option('--dry-run', 'resolve and print, persist nothing')
    .option('--json', 'print the resulting sizing as one JSON object')
    .addHelpText('after', `
The sizing is kept in the store (table pool_overrides) and survives restarts; the pool's
configured minIdle/max apply again only after a new \`pool scale\`.

Exit status: 0 applied, 2 error (unknown pool, min > max, bad number).

Examples (keep at least 1 runner, allow up to 4, scale to 4 now):
  $ jitpool pool scale app-linux --min 1 --max 4 --target 4
  $ jitpool pool scale app-linux --min 1 --max 4 --target 4 \\
      --inventory-out /tmp/runner-pool-inventory.json --status-out /tmp/runner-pool-status.json`)
    .action(async (name: string, opts: { config: string; min?: number; max?: number; target?: number; inventoryOut?: string; statusOut?: string; dryRun?: boolean; json?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        const input: ScalePoolOptions = { pool: name, min: opts.min, max: opts.max, target: opts.target, dryRun: Boolean(opts.dryRun) };
        const { inventory, via, ...status } = await runActingOnStore(opts.config, { name: 'pool-scale', input, run: scalePoolCommand });
        if (opts.statusOut) writeFileSync(opts.statusOut, `${JSON.stringify(status, null, 2)}\n`);
        if (opts.inventoryOut) writeFileSync(opts.inventoryOut, `${JSON.stringify(inventory, null, 2)}\n`);
        if (opts.json) process.stdout.write(`${JSON.stringify(status)}\n`);
        else {
          const clamped = status.isClamped ? ` (requested ${status.requestedTarget}, clamped to [${status.min}, ${status.max}])` : '';
          const applied = status.dryRun ? 'dry run: nothing saved' : via === 'daemon' ? 'the running daemon applies it at its next reconcile' : 'applied at the next reconcile';
          process.stdout.write(`${status.pool}: min ${status.min}, max ${status.max}, target ${status.target}${clamped}; ${applied}\n`);
        }
        return 0;
      });
    });
}
