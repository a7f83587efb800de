import { Option, type Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { createLogger, describeError } from '../core/index.ts';
import { positiveInteger } from './github-options.ts';
import { addRunnerPackageOptions } from './runner-once.ts';
import { adminCommandRunner } from './admin-commands.ts';
import { startRuntime, type Runtime } from './runtime.ts';
import { quickConfig, type QuickFlags } from './up-quick.ts';

/** Registers `jitpool up`: the always-on supervisor (the default mode). */
export function registerUpCommand(program: Command): void {
  const command = program
    .command('up')
    .description('Run the controller: webhook receiver, poller backstop and reconcile loop, until SIGTERM/SIGINT.')
    .option('-c, --config <file>', 'configuration file', process.env.JITPOOL_CONFIG ?? 'jitpool.yaml')
    .option('--drain', 'on shutdown, scale idle runners down and wait for busy ones to finish (default: leave them running)')
    .option('--shutdown-timeout <seconds>', 'longest a shutdown may take', '30')
    // Quick mode (seed 000's autoscaler): one pool from flags, no YAML. See up-quick.ts.
    .option('--repo <owner/repo>', 'quick mode: serve this repository with one pool built from flags (no config file)')
    .option('--labels <a,b>', 'quick mode: runner labels', 'self-hosted,linux,x64')
    .option('--max <n>', 'quick mode: most runners at once', (v) => positiveInteger(v, '--max'))
    .option('--scale-from-queue', 'quick mode: scale with the queue, bounded by --cap (jitpool always scales with the queue; the flag only enables --cap)')
    .option('--cap <n>', 'quick mode: the bound with --scale-from-queue', (v) => positiveInteger(v, '--cap'))
    .option('--min-idle <n>', 'quick mode: idle runners kept warm', (v) => Number.parseInt(v, 10))
    .option('--poll <seconds>', 'quick mode: read the queue from GitHub this often (webhook-less mode)', (v) => positiveInteger(v, '--poll'))
    .option('--webhook-secret-env <VAR>', 'quick mode: also accept webhooks, with the secret in this variable')
    .addOption(new Option('--api-url <url>', 'quick mode: GitHub REST base URL').env('JITPOOL_GITHUB_API_URL').default('https://api.github.com'))
    .option('--token-env <VAR>', 'quick mode: variable holding the token (default JITPOOL_GITHUB_TOKEN, GH_PAT, GH_TOKEN, GITHUB_TOKEN)')
    .option('--state-dir <dir>', 'quick mode: database and runner directories', './.jitpool-quick')
    .option('--host <host>', 'quick mode: API listen address', '127.0.0.1')
    .option('--port <port>', 'quick mode: API port (0 picks one)', (v) => Number.parseInt(v, 10), 8080)
    .option('--runner-command <cmd>', 'quick mode: run this instead of the runner package (a path or a JSON argv array)')
    .option('--controller-id <id>', 'quick mode: controller id', 'quick')
    .option('--log-level <level>', 'quick mode: log level', 'info')
    .addHelpText(
      'after',
      `
Quick mode (no YAML): --repo starts one pool from flags. Without --webhook-secret-env it reads the
queue from GitHub every --poll seconds (default 15). --max N and --scale-from-queue --cap N both
bound the pool at N runners.

Examples:
  $ jitpool up -c /etc/jitpool/jitpool.yaml
  $ GH_PAT=... jitpool up --repo acme/app --labels self-hosted,linux,x64 --max 2 --poll 10
  $ GH_PAT=... jitpool up --repo acme/app --scale-from-queue --cap 4
  $ GH_PAT=... JITPOOL_RUNNER_SHA256=<digest> jitpool up --repo acme/app --runner-version 2.331.0 --max 2

The runner package is verified against the SHA-256 GitHub published for it; jitpool ships the
digests of its pinned version (linux x64, arm64). For another version, --runner-sha256 or
JITPOOL_RUNNER_SHA256 (or CODEX_RUNNER_SHA256) gives it.`,
    );
  addRunnerPackageOptions(command);
  command.action(async (opts: { config: string; drain?: boolean; shutdownTimeout: string } & Partial<QuickFlags>) => {
      const isQuick = opts.repo !== undefined;
      // A bad config or flag is thrown to the one error handler (cli-errors.ts): one line, exit 2.
      const config = isQuick ? quickConfig(opts as QuickFlags) : loadConfig(opts.config);
      const logger = createLogger({ level: config.log.level, pretty: process.stdout.isTTY === true });
      let runtime: Runtime;
      try {
        runtime = await startRuntime({
          config, logger, commands: adminCommandRunner, configFile: isQuick ? undefined : opts.config,
          onLeaseLost: () => {
            logger.error({ component: 'runtime' }, 'another process took over the store; exiting without touching the runners');
            logger.flush();
            process.exit(1);
          },
        });
      } catch (err) {
        // One line an operator can act on (a held lease names its holder, a damaged store names
        // its file and `jitpool store rebuild`), no stack trace; a damaged store exits 78
        // (EX_CONFIG), which the generated systemd unit does not restart on (cli-errors.ts).
        logger.flush();
        throw err;
      }
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
          // One deadline for the whole shutdown: a drain leaves the stop a few seconds of it.
          const startedAt = performance.now();
          if (opts.drain) await runtime.controller.drain(Math.max(1000, timeoutMs - 5000));
          await runtime.stop(Math.max(1000, timeoutMs - (performance.now() - startedAt)));
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
