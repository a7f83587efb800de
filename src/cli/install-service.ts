import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { JitpoolError } from '../core/index.ts';
import { configOption, runCommand } from './command-context.ts';

/** Options of {@link renderUnits}. */
export interface ServiceUnitOptions {
  /** Absolute path of the config file. */
  configFile: string;
  /** The command that runs jitpool, e.g. [node, /opt/jitpool/bin/jitpool.js]. */
  command: readonly string[];
  /** Run as this user (unset: root, or the user manager's user). */
  user?: string;
  /** Optional environment file holding JITPOOL_* secrets (mode 0600). @default /etc/jitpool/jitpool.env */
  environmentFile: string;
  /** Also render the timer fallback (`jitpool reconcile --once`). */
  withTimer: boolean;
  /** Seconds between timer runs. @default 60 */
  intervalSeconds: number;
}

/** One systemd unit file. */
export interface ServiceUnit {
  name: string;
  content: string;
}

/** The default command: this Node binary running this checkout's `bin/jitpool.js`. */
export function defaultCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../../bin/jitpool.js', import.meta.url))];
}

/** Quotes one ExecStart word the way systemd parses it. */
function quoteWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `"${word.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * systemd units for the always-on supervisor (`jitpool up`, seed 001 §9.2's recommended mode)
 * and, optionally, the timer fallback running `jitpool reconcile --once`. Pure.
 */
export function renderUnits(options: ServiceUnitOptions): ServiceUnit[] {
  const exec = (...args: string[]) => [...options.command, ...args].map(quoteWord).join(' ');
  const user = options.user ? `User=${options.user}\n` : '';
  const hardening = `NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
`;
  const units: ServiceUnit[] = [
    {
      name: 'jitpool.service',
      content: `[Unit]
Description=jitpool supervisor: ephemeral one-job GitHub Actions runners
Documentation=https://github.com/actions/runner
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
${user}EnvironmentFile=-${options.environmentFile}
ExecStart=${exec('up', '-c', options.configFile)}
# SIGTERM stops the loop; busy runners keep running and are found again at the next start.
# KillMode=process: on stop, restart or a crash, systemd signals only jitpool itself, never the
# runners in this unit's cgroup (the default, control-group, would kill every running job).
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=always
RestartSec=5
# 78: the store is damaged; restarting cannot help (run \`jitpool store rebuild\`).
RestartPreventExitStatus=78
${hardening}
[Install]
WantedBy=multi-user.target
`,
    },
  ];
  if (options.withTimer) {
    units.push(
      {
        name: 'jitpool-reconcile.service',
        content: `[Unit]
Description=jitpool reconcile pass (timer fallback to jitpool.service; enable one of the two)
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
${user}EnvironmentFile=-${options.environmentFile}
ExecStart=${exec('reconcile', '--once', '-c', options.configFile)}
TimeoutStartSec=300
${hardening}`,
      },
      {
        name: 'jitpool-reconcile.timer',
        content: `[Unit]
Description=Run a jitpool reconcile pass every ${options.intervalSeconds} s

[Timer]
OnBootSec=30s
OnUnitActiveSec=${options.intervalSeconds}s
AccuracySec=1s
Unit=jitpool-reconcile.service

[Install]
WantedBy=timers.target
`,
      },
    );
  }
  return units;
}

/** Registers `jitpool install-service`. */
export function registerInstallServiceCommand(program: Command): void {
  program
    .command('install-service')
    .description('Write systemd units for the supervisor (`jitpool up`) and, with --timer, the timer fallback (`jitpool reconcile --once`).')
    .addOption(configOption())
    .option('--unit-dir <dir>', 'where to write the units', '/etc/systemd/system')
    .option('--user <name>', 'run as this user')
    .option('--env-file <file>', 'environment file with JITPOOL_* secrets (mode 0600)', '/etc/jitpool/jitpool.env')
    .option('--timer', 'also write jitpool-reconcile.service + .timer (enable instead of jitpool.service, not with it)')
    .option('--interval <seconds>', 'seconds between timer runs', (v) => Number(v), 60)
    .option('--dry-run', 'print the units, write nothing')
    .option('--json', 'print {"units": [{name, path, content}], "dryRun"} on stdout')
    .addHelpText('after', `
Nothing is enabled or started: the command prints the systemctl lines to run.

Examples:
  $ sudo jitpool install-service -c /etc/jitpool/jitpool.yaml --user jitpool
  $ jitpool install-service --timer --interval 30 --dry-run`)
    .action(async (opts: { config: string; unitDir: string; user?: string; envFile: string; timer?: boolean; interval: number; dryRun?: boolean; json?: boolean }) => {
      await runCommand(Boolean(opts.json), async () => {
        if (!Number.isInteger(opts.interval) || opts.interval < 5) throw new JitpoolError('JP_INPUT_INVALID', '--interval must be a whole number of seconds >= 5');
        if (opts.user !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(opts.user)) throw new JitpoolError('JP_INPUT_INVALID', `--user ${JSON.stringify(opts.user)} is not a valid user name`);
        const units = renderUnits({
          configFile: resolve(opts.config),
          command: defaultCommand(),
          user: opts.user,
          environmentFile: resolve(opts.envFile),
          withTimer: Boolean(opts.timer),
          intervalSeconds: opts.interval,
        });
        const unitDir = resolve(opts.unitDir);
        const placed = units.map((unit) => ({ ...unit, path: join(unitDir, unit.name) }));
        if (!opts.dryRun) {
          mkdirSync(unitDir, { recursive: true });
          for (const unit of placed) writeFileSync(unit.path, unit.content, { mode: 0o644 });
        }
        if (opts.json) process.stdout.write(`${JSON.stringify({ dryRun: Boolean(opts.dryRun), units: placed })}\n`);
        else if (opts.dryRun) for (const unit of placed) process.stdout.write(`# ${unit.path}\n${unit.content}\n`);
        else {
          for (const unit of placed) process.stdout.write(`wrote ${unit.path}\n`);
          const enable = opts.timer ? 'jitpool-reconcile.timer' : 'jitpool.service';
          process.stdout.write(`next: systemctl daemon-reload && systemctl enable --now ${enable}\n`);
        }
        return 0;
      });
    });
}
