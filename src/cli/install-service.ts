import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.ts';
import { JitpoolError } from '../core/index.ts';
import { configOption, runCommand } from './command-context.ts';

/** Options of {@link renderUnits}. */
export interface ServiceUnitOptions {
  /** Absolute path of the config file. */
  configFile: string;
  /** The command that runs jitpool, e.g. [node, /opt/jitpool/bin/jitpool.js]. */
  command: readonly string[];
  /** Run as this user (unset: root, or the user manager's user). Not with `scope: 'user'`. */
  user?: string;
  /** `system` (in /etc/systemd/system, started at boot) or `user` (a user unit, `systemctl --user`). @default system */
  scope?: 'system' | 'user';
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
  const isUserUnit = options.scope === 'user';
  const user = options.user && !isUserUnit ? `User=${options.user}\n` : '';
  // A user manager cannot set up PrivateTmp/ProtectSystem without privileges it lacks; keep the part it can.
  const hardening = isUserUnit ? 'NoNewPrivileges=yes\n' : `NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
`;
  const wantedBy = isUserUnit ? 'default.target' : 'multi-user.target';
  const network = isUserUnit ? '' : 'After=network-online.target\nWants=network-online.target\n';
  const units: ServiceUnit[] = [
    {
      name: 'jitpool.service',
      content: `[Unit]
Description=jitpool supervisor: ephemeral one-job GitHub Actions runners
Documentation=https://github.com/actions/runner
${network}
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
WantedBy=${wantedBy}
`,
    },
  ];
  if (options.withTimer) {
    units.push(
      {
        name: 'jitpool-reconcile.service',
        content: `[Unit]
Description=jitpool reconcile pass (timer fallback to jitpool.service; enable one of the two)
${network}
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

/** Flags of `jitpool install-service`. */
interface InstallServiceFlags {
  config: string;
  unitDir?: string;
  runAs?: string;
  user?: boolean;
  envFile?: string;
  timer?: boolean;
  interval: number;
  write?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** Where user units live: $XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user. */
function userUnitDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'systemd', 'user');
}

/** Registers `jitpool install-service`. */
export function registerInstallServiceCommand(program: Command): void {
  program
    .command('install-service')
    .description('Print (or, with --write, install) systemd units for the supervisor (`jitpool up`) and, with --timer, the timer fallback (`jitpool reconcile --once`).')
    .addOption(configOption())
    .option('--write', 'write the units into --unit-dir (without it, they are printed and nothing is written)')
    .option('--user', 'a user unit (systemctl --user, in ~/.config/systemd/user) instead of a system unit')
    .option('--run-as <name>', 'system unit: run jitpool as this user (User=); without it, a system unit runs as root')
    .option('--unit-dir <dir>', 'where --write puts the units (default: /etc/systemd/system, or ~/.config/systemd/user with --user)')
    .option('--env-file <file>', 'environment file with JITPOOL_* secrets, mode 0600 (default: /etc/jitpool/jitpool.env, or ~/.config/jitpool/jitpool.env with --user)')
    .option('--timer', 'also write jitpool-reconcile.service + .timer (enable instead of jitpool.service, not with it)')
    .option('--interval <seconds>', 'seconds between timer runs', (v) => Number(v), 60)
    .option('--dry-run', 'print the units, write nothing (the default; kept for scripts)')
    .option('--json', 'print {"units": [{name, path, content}], "dryRun", "scope"} on stdout')
    .addHelpText('after', `
The config file is checked first (as \`jitpool config check\` does): a unit pointing at a missing
or invalid config is never written. Nothing is enabled or started: the command prints the
systemctl lines to run.

Examples:
  $ jitpool install-service -c /etc/jitpool/jitpool.yaml --run-as jitpool          # print
  $ sudo jitpool install-service -c /etc/jitpool/jitpool.yaml --run-as jitpool --write
  $ jitpool install-service -c ~/jitpool/jitpool.yaml --user --write                 # no root needed
  $ jitpool install-service -c jitpool.yaml --timer --interval 30`)
    .action(async (opts: InstallServiceFlags) => {
      await runCommand(Boolean(opts.json), async () => installService(opts));
    });
}

function installService(opts: InstallServiceFlags): number {
  if (!Number.isInteger(opts.interval) || opts.interval < 5) throw new JitpoolError('JP_INPUT_INVALID', '--interval must be a whole number of seconds >= 5');
  if (opts.runAs !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(opts.runAs)) throw new JitpoolError('JP_INPUT_INVALID', `--run-as ${JSON.stringify(opts.runAs)} is not a valid user name`);
  if (opts.runAs !== undefined && opts.user) throw new JitpoolError('JP_INPUT_INVALID', '--run-as goes with a system unit; a --user unit runs as the user who installs it', { fix: 'drop one of --user and --run-as' });
  if (opts.write && opts.dryRun) throw new JitpoolError('JP_INPUT_INVALID', '--write and --dry-run contradict each other', { fix: 'drop one of them' });
  // The unit must point at a config that exists and is valid: otherwise the service crash-loops at boot.
  const configFile = resolve(opts.config);
  const config = loadConfig(configFile);
  const scope = opts.user ? 'user' : 'system';
  const envFile = resolve(opts.envFile ?? (opts.user ? join(homedir(), '.config', 'jitpool', 'jitpool.env') : '/etc/jitpool/jitpool.env'));
  const units = renderUnits({ configFile, command: defaultCommand(), user: opts.runAs, scope, environmentFile: envFile, withTimer: Boolean(opts.timer), intervalSeconds: opts.interval });
  const unitDir = resolve(opts.unitDir ?? (opts.user ? userUnitDir() : '/etc/systemd/system'));
  const placed = units.map((unit) => ({ ...unit, path: join(unitDir, unit.name) }));
  const notes: string[] = [];
  if (scope === 'system' && opts.runAs === undefined) notes.push('note: the unit runs jitpool as root; --run-as USER runs it as an unprivileged user');
  if (!existsSync(envFile)) notes.push(`note: ${envFile} does not exist yet; put the secrets jitpool reads there (${secretVariables(config).join(', ')}), mode 0600`);
  if (opts.write) {
    mkdirSync(unitDir, { recursive: true });
    for (const unit of placed) writeFileSync(unit.path, unit.content, { mode: 0o644 });
  }
  const systemctl = scope === 'user' ? 'systemctl --user' : 'systemctl';
  const enable = opts.timer ? 'jitpool-reconcile.timer' : 'jitpool.service';
  const next = [`${systemctl} daemon-reload && ${systemctl} enable --now ${enable}`, ...(scope === 'user' ? ['loginctl enable-linger "$USER"   # keep it running after you log out'] : [])];
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ dryRun: !opts.write, scope, units: placed, notes, next })}\n`);
    return 0;
  }
  if (opts.write) {
    for (const unit of placed) process.stdout.write(`wrote ${unit.path}\n`);
    for (const line of next) process.stdout.write(`next: ${line}\n`);
  } else {
    for (const unit of placed) process.stdout.write(`# ${unit.path}\n${unit.content}\n`);
    process.stderr.write(`nothing written; to install: the same command with --write${scope === 'system' && process.getuid?.() !== 0 ? ' (as root)' : ''}, then ${next[0]}\n`);
  }
  for (const note of notes) process.stderr.write(`${note}\n`);
  return 0;
}

/** The environment variables the config reads its secrets from (for the env-file note). */
function secretVariables(config: Config): string[] {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const env = record.env;
      // A secret source is `{ env: [VAR, …], file? }`: the first variable is the one to set.
      if (Array.isArray(env) && typeof env[0] === 'string' && env.every((name) => typeof name === 'string')) names.add(env[0]);
      for (const child of Object.values(record)) visit(child);
    }
  };
  visit(config);
  return [...names].sort();
}
