import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fakeRunnerHome } from '../src/runner/runner-test-helpers.ts';
import { startSimulator } from '../src/sim/index.ts';
import { runCli } from './cli-helpers.ts';

describe('jitpool runner repair', () => {
  it('dry run against the simulator exits 1 listing the steps; apply reconfigures and starts the service', async (t) => {
    const sim = await startSimulator();
    const { home, calls, cleanup } = fakeRunnerHome();
    t.after(async () => {
      await sim.close();
      cleanup();
    });
    const args = ['runner', 'repair', '--runner-home', home, '--owner', 'acme', '--repo', 'app', '--labels', 'self-hosted,linux,x64,chem-trusted-pr', '--group', 'Default', '--name', 'base', '--api-url', sim.url, '--json'];
    const env = { GH_PAT: 'ghp_repair_test_token_123' };
    const dry = await runCli([...args, '--dry-run'], env);
    assert.equal(dry.code, 1, dry.stderr);
    const plan = JSON.parse(dry.stdout) as { steps: string[]; github: { present: boolean }; changed: boolean };
    assert.deepEqual(plan.steps, ['mint-registration-token', 'configure', 'install-service', 'start-service']);
    assert.equal(plan.github.present, false);
    assert.equal(existsSync(join(home, '.runner')), false);
    const applied = await runCli(args, env);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.equal((JSON.parse(applied.stdout) as { changed: boolean }).changed, true);
    const log = calls().filter((c) => !c.startsWith('svc.sh status'));
    assert.match(log[0] ?? '', new RegExp(`^config.sh --unattended --replace --url ${sim.url.replace(/[.:/]/g, '\\$&')}/acme/app --name base --labels self-hosted,linux,x64,chem-trusted-pr --work _work --runnergroup Default token=set$`));
    assert.deepEqual(log.slice(1), ['svc.sh install', 'svc.sh start']);
    assert.equal(sim.stats().calls.byEndpoint['POST /repos/{owner}/{repo}/actions/runners/registration-token'], 1);
    assert.doesNotMatch(dry.stdout + applied.stdout + applied.stderr, /ghp_repair/);
  });
});
