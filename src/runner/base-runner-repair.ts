import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { JitpoolError, registerSecret } from '../core/index.ts';

const execFileAsync = promisify(execFile);

/** The repository a base runner serves. */
export interface RepoTarget {
  kind: 'repo';
  owner: string;
  repo: string;
}

/** The two GitHub calls repair needs (the GitHub client satisfies it; no import of a higher layer). */
export interface RepairGitHub {
  getRunnerByName(scope: RepoTarget, name: string): Promise<{ id: number; status: 'online' | 'offline'; busy: boolean; labels: string[] } | null>;
  createRegistrationToken(scope: RepoTarget): Promise<{ token: string; expiresAt: string }>;
}

/** The runner's systemd service, as `svc.sh` manages it; injectable so tests record calls. */
export interface ServiceManager {
  /** True once `svc.sh install` ran (it writes `.service` into the runner home). */
  isInstalled(): Promise<boolean>;
  /** True when the service is active (running). */
  isActive(): Promise<boolean>;
  install(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** `svc.sh` in the runner home, optionally through a prefix such as `['sudo', '-n']` (svc.sh needs root). */
export function svcShServiceManager(runnerHome: string, prefix: readonly string[] = []): ServiceManager {
  const run = async (action: string): Promise<{ stdout: string }> => {
    const argv = [...prefix, join(runnerHome, 'svc.sh'), action];
    const command = argv[0]!;
    const args = argv.slice(1);
    try {
      return await execFileAsync(command, args, { cwd: runnerHome, maxBuffer: 1024 * 1024 });
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-2).join(' | ');
      throw new JitpoolError('JP_COMMAND_FAILED', `svc.sh ${action} failed: ${stderr.slice(0, 300)}`, { details: { action } });
    }
  };
  return {
    isInstalled: async () => existsSync(join(runnerHome, '.service')),
    isActive: async () => {
      try {
        return /active \(running\)/.test((await run('status')).stdout);
      } catch {
        return false;
      }
    },
    install: async () => void (await run('install')),
    start: async () => void (await run('start')),
    stop: async () => void (await run('stop')),
  };
}

/** What the local `.runner` file says. */
export interface LocalRegistration {
  state: 'missing' | 'invalid' | 'valid';
  reason: string | null;
  agentId: number | null;
  name: string | null;
  workFolder: string | null;
}

/** Reads `.runner` (JSON, sometimes with a BOM) and `.credentials` from a runner home. */
export async function readLocalRegistration(runnerHome: string, expectedUrl: string): Promise<LocalRegistration> {
  const none = { agentId: null, name: null, workFolder: null };
  let text: string;
  try {
    text = await readFile(join(runnerHome, '.runner'), 'utf8');
  } catch {
    return { state: 'missing', reason: '.runner does not exist', ...none };
  }
  let data: { agentId?: unknown; agentName?: unknown; gitHubUrl?: unknown; workFolder?: unknown };
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, '')) as typeof data;
  } catch {
    return { state: 'invalid', reason: '.runner is not JSON', ...none };
  }
  const name = typeof data.agentName === 'string' && data.agentName !== '' ? data.agentName : null;
  const workFolder = typeof data.workFolder === 'string' && data.workFolder !== '' ? data.workFolder : null;
  const agentId = typeof data.agentId === 'number' ? data.agentId : null;
  const base = { agentId, name, workFolder };
  if (agentId === null || name === null) return { state: 'invalid', reason: '.runner lacks agentId or agentName', ...base };
  if (typeof data.gitHubUrl === 'string' && data.gitHubUrl.replace(/\/+$/, '').toLowerCase() !== expectedUrl.toLowerCase()) {
    return { state: 'invalid', reason: `.runner is registered to ${data.gitHubUrl}`, ...base };
  }
  if (!existsSync(join(runnerHome, '.credentials'))) return { state: 'invalid', reason: '.credentials does not exist', ...base };
  return { state: 'valid', reason: null, ...base };
}

/** Options of {@link repairBaseRunner}. */
export interface RepairOptions {
  runnerHome: string;
  target: RepoTarget;
  /** `https://github.com/<owner>/<repo>` (config.sh `--url`). */
  url: string;
  labels: string[];
  /** Runner group name (config.sh `--runnergroup`). */
  group?: string;
  /** Overrides the name kept from `.runner` (default: kept, else `defaultName`). */
  name?: string;
  defaultName: string;
  /** Overrides the work folder kept from `.runner`. @default kept, else _work */
  workFolder?: string;
  dryRun: boolean;
  github: RepairGitHub;
  service: ServiceManager;
  /** Runs config.sh; injectable. @default `<runnerHome>/config.sh` through execFile */
  runConfig?: (args: string[], env: Record<string, string>) => Promise<void>;
  env?: Record<string, string>;
}

/** One step repair takes (or would take, in a dry run). */
export type RepairStep = 'stop-service' | 'remove-local-registration' | 'mint-registration-token' | 'configure' | 'install-service' | 'start-service';

/** What repair found and did. */
export interface RepairReport {
  ok: boolean;
  dryRun: boolean;
  runnerHome: string;
  name: string;
  workFolder: string;
  local: LocalRegistration;
  github: { present: boolean; id: number | null; status: 'online' | 'offline' | null; busy: boolean };
  service: { installed: boolean; active: boolean };
  /** Why a step is needed, in order. Empty when healthy. */
  findings: string[];
  steps: RepairStep[];
  changed: boolean;
}

/**
 * Repairs (or bootstraps) a long-lived base runner (seed 001 §4.1, §9), idempotently: compare
 * the local `.runner` with GitHub's inventory by name; when either is missing or they disagree,
 * mint a registration token and run `config.sh --unattended --replace` with the same name and
 * work folder; then make sure the systemd service is installed and running. A healthy runner is
 * left alone (no step); a busy one is never restarted.
 */
export async function repairBaseRunner(options: RepairOptions): Promise<RepairReport> {
  if (!existsSync(join(options.runnerHome, 'config.sh'))) {
    throw new JitpoolError('JP_INPUT_INVALID', `--runner-home: ${options.runnerHome} has no config.sh (not an actions runner directory)`);
  }
  const local = await readLocalRegistration(options.runnerHome, options.url);
  const name = options.name ?? local.name ?? options.defaultName;
  const workFolder = options.workFolder ?? local.workFolder ?? '_work';
  const remote = await options.github.getRunnerByName(options.target, name);
  const installed = await options.service.isInstalled();
  const active = installed && (await options.service.isActive());
  const findings: string[] = [];
  const steps: RepairStep[] = [];

  if (local.state !== 'valid') findings.push(`local registration ${local.state}: ${local.reason}`);
  if (!remote) findings.push(`GitHub has no runner named ${name}`);
  else if (local.state === 'valid' && local.agentId !== remote.id) findings.push(`GitHub's runner ${name} is id ${remote.id}, the local one is ${local.agentId}`);
  if (options.name !== undefined && local.name !== null && options.name !== local.name) findings.push(`renaming ${local.name} to ${options.name}`);
  const needsRegistration = findings.length > 0;

  if (needsRegistration) {
    if (remote?.busy) throw new JitpoolError('JP_GITHUB_RUNNER_BUSY', `runner ${name} is running a job; repair it once the job ends`);
    if (active) steps.push('stop-service');
    if (local.state !== 'missing' || existsSync(join(options.runnerHome, '.credentials'))) steps.push('remove-local-registration');
    steps.push('mint-registration-token', 'configure');
    if (!installed) steps.push('install-service');
    steps.push('start-service');
  } else if (!installed) {
    findings.push('the service is not installed');
    steps.push('install-service', 'start-service');
  } else if (!active || remote?.status === 'offline') {
    if (!remote?.busy) {
      findings.push(!active ? 'the service is not running' : 'GitHub sees the runner offline');
      if (active) steps.push('stop-service');
      steps.push('start-service');
    }
  }

  const report: RepairReport = {
    ok: true, dryRun: options.dryRun, runnerHome: options.runnerHome, name, workFolder, local,
    github: { present: remote !== null, id: remote?.id ?? null, status: remote?.status ?? null, busy: remote?.busy ?? false },
    service: { installed, active }, findings, steps, changed: false,
  };
  if (options.dryRun || steps.length === 0) return report;

  let token = '';
  const runConfig = options.runConfig ?? defaultRunConfig(options.runnerHome);
  for (const step of steps) {
    switch (step) {
      case 'stop-service':
        await options.service.stop();
        break;
      case 'remove-local-registration':
        // config.sh refuses to configure over an existing registration; the work folder stays.
        for (const file of ['.runner', '.credentials', '.credentials_rsaparams']) await rm(join(options.runnerHome, file), { force: true });
        break;
      case 'mint-registration-token':
        token = (await options.github.createRegistrationToken(options.target)).token;
        registerSecret(token);
        break;
      case 'configure': {
        const args = ['--unattended', '--replace', '--url', options.url, '--name', name, '--labels', options.labels.join(','), '--work', workFolder];
        if (options.group) args.push('--runnergroup', options.group);
        await runConfig(args, { ...(options.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' }), ACTIONS_RUNNER_INPUT_TOKEN: token });
        break;
      }
      case 'install-service':
        await options.service.install();
        break;
      case 'start-service':
        await options.service.start();
        break;
    }
    report.changed = true;
  }
  return report;
}

function defaultRunConfig(runnerHome: string): (args: string[], env: Record<string, string>) => Promise<void> {
  return async (args, env) => {
    try {
      await execFileAsync(join(runnerHome, 'config.sh'), args, { cwd: runnerHome, env, maxBuffer: 4 * 1024 * 1024 });
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-3).join(' | ');
      throw new JitpoolError('JP_RUNNER_CONFIG', `config.sh failed: ${stderr.slice(0, 300)}`);
    }
  };
}
