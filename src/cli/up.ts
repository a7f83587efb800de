import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { createLogger, describeError } from '../core/index.ts';
import { startRuntime } from './runtime.ts';

/** Registers `jitpool up`: the always-on supervisor (the default mode). */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('Run the controller: webhook receiver, poller backstop and reconcile loop, until SIGTERM/SIGINT.')
    .option('-c, --config <file>', 'configuration file', process.env.JITPOOL_CONFIG ?? 'jitpool.yaml')
    .option('--drain', 'on shutdown, scale idle runners down and wait for busy ones to finish (default: leave them running)')
    .option('--shutdown-timeout <seconds>', 'longest a shutdown may take', '30')
    .action(async (opts: { config: string; drain?: boolean; shutdownTimeout: string }) => {
      const config = loadConfig(opts.config);
      const logger = createLogger({ level: config.log.level, pretty: process.stdout.isTTY === true });
      const runtime = await startRuntime({ config, logger });
      const timeoutMs = Math.max(1, Number(opts.shutdownTimeout) || 30) * 1000;
      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ component: 'runtime', signal, drain: Boolean(opts.drain) }, 'shutting down');
        const hardStop = setTimeout(() => {
          logger.error({ component: 'runtime' }, 'shutdown took too long; exiting');
          process.exit(1);
        }, timeoutMs + 5000);
        hardStop.unref();
        try {
          if (opts.drain) await runtime.controller.drain(timeoutMs);
          await runtime.stop(timeoutMs);
          logger.info({ component: 'runtime' }, 'stopped; busy runners keep running and are found again at the next start');
          logger.flush();
          process.exit(0);
        } catch (err) {
          logger.error({ component: 'runtime', err: describeError(err) }, 'shutdown failed');
          process.exit(1);
        }
      };
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
      process.on('SIGINT', () => void shutdown('SIGINT'));
    });
}
