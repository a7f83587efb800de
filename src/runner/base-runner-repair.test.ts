import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJitpoolError } from '../core/index.ts';
import { repairBaseRunner, svcShServiceManager, type RepairGitHub, type RepairOptions } from './base-runner-repair.ts';
import { fakeRunnerHome } from './runner-test-helpers.ts';

/** GitHub's inventory as a map; `configure` through config.sh registers the runner (id 99), like the real service. */
function fakeGitHub(inventory: Map<string, { id: number; status: 'online' | 'offline'; busy: boolean; labels: string[] }>): RepairGitHub & { tokens: number } {
  const fake = {
    tokens: 0,
    getRunnerByName: async (_scope: unknown, name: string) => inventory.get(name) ?? null,
    createRegistrationToken: async () => {
      fake.tokens += 1;
      return { token: 'AAAAREGISTRATIONTOKENFAKE12345', expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
    },
  };
  return fake;
}

function options(home: string, github: RepairGitHub, patch: Partial<RepairOptions> = {}): RepairOptions {
  return {
    runnerHome: home, target: { kind: 'repo', owner: 'acme', repo: 'app' }, url: 'https://github.com/acme/app', labels: ['self-hosted', 'linux'],
    group: 'Default', defaultName: 'base', dryRun: false, github, service: svcShServiceManager(home), ...patch,
  };
}

describe('repairBaseRunner', () => {
  it('dry run: reports what is wrong and the steps, changes nothing', async (t) => {
    const { home, calls, cleanup } = fakeRunnerHome();
    t.after(cleanup);
    const github = fakeGitHub(new Map());
    const report = await repairBaseRunner(options(home, github, { dryRun: true }));
    assert.deepEqual(report.steps, ['mint-registration-token', 'configure', 'install-service', 'start-service']);
    assert.equal(report.changed, false);
    assert.equal(report.local.state, 'missing');
    assert.equal(github.tokens, 0);
    assert.deepEqual(calls().filter((c) => !c.startsWith('svc.sh status')), []);
  });

  it('apply: registers with config.sh --unattended --replace, installs and starts the service; a second run does nothing', async (t) => {
    const { home, calls, cleanup } = fakeRunnerHome();
    t.after(cleanup);
    const inventory = new Map<string, { id: number; status: 'online' | 'offline'; busy: boolean; labels: string[] }>();
    const github = fakeGitHub(inventory);
    const report = await repairBaseRunner(options(home, github));
    assert.equal(report.changed, true);
    const log = calls().filter((c) => !c.startsWith('svc.sh status'));
    assert.deepEqual(log, [
      'config.sh --unattended --replace --url https://github.com/acme/app --name base --labels self-hosted,linux --work _work --runnergroup Default token=set',
      'svc.sh install',
      'svc.sh start',
    ]);
    assert.doesNotMatch(readFileSync(join(home, 'calls.log'), 'utf8'), /AAAAREGISTRATION/);
    // GitHub now knows the runner (config.sh registered it) and it is online.
    inventory.set('base', { id: 99, status: 'online', busy: false, labels: ['self-hosted', 'linux'] });
    const again = await repairBaseRunner(options(home, github));
    assert.deepEqual(again.steps, []);
    assert.equal(again.changed, false);
    assert.equal(again.local.state, 'valid');
    assert.equal(github.tokens, 1);
  });

  it('a registration deleted at GitHub: keeps the name and work folder, removes local config, reconfigures and restarts', async (t) => {
    const { home, calls, cleanup } = fakeRunnerHome();
    t.after(cleanup);
    writeFileSync(join(home, '.runner'), JSON.stringify({ agentId: 5, agentName: 'home-self-host', gitHubUrl: 'https://github.com/acme/app', workFolder: 'wf' }));
    writeFileSync(join(home, '.credentials'), '{}');
    writeFileSync(join(home, '.service'), 'actions.runner.acme-app.home-self-host.service');
    writeFileSync(join(home, '.svc-running'), '');
    const report = await repairBaseRunner(options(home, fakeGitHub(new Map())));
    assert.deepEqual(report.steps, ['stop-service', 'remove-local-registration', 'mint-registration-token', 'configure', 'start-service']);
    assert.match(calls().find((c) => c.startsWith('config.sh')) ?? '', /--name home-self-host .* --work wf /);
    assert.equal(readFileSync(join(home, '_work', 'app', 'keep.txt'), 'utf8'), 'kept');
  });

  it('restarts a stopped service of a healthy registration; never touches a busy runner', async (t) => {
    const { home, cleanup } = fakeRunnerHome();
    t.after(cleanup);
    writeFileSync(join(home, '.runner'), JSON.stringify({ agentId: 7, agentName: 'base', gitHubUrl: 'https://github.com/acme/app' }));
    writeFileSync(join(home, '.credentials'), '{}');
    writeFileSync(join(home, '.service'), 'x');
    const healthy = fakeGitHub(new Map([['base', { id: 7, status: 'offline' as const, busy: false, labels: [] }]]));
    assert.deepEqual((await repairBaseRunner(options(home, healthy))).steps, ['start-service']);
    const busy = fakeGitHub(new Map([['base', { id: 8, status: 'online' as const, busy: true, labels: [] }]]));
    await assert.rejects(repairBaseRunner(options(home, busy)), (err) => isJitpoolError(err, 'JP_GITHUB_RUNNER_BUSY'));
  });

  it('refuses a directory that is not a runner home', async () => {
    await assert.rejects(repairBaseRunner(options(tmpdir(), fakeGitHub(new Map()))), (err) => isJitpoolError(err, 'JP_INPUT_INVALID') && /--runner-home/.test(err.message));
  });
});
