import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startSimulator } from '../src/sim/index.ts';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const TOKEN = 'ghp_cli_guard_test_token_0123456789';
const VARIABLE = 'CI_SELF_HOSTED_TRUSTED_ROUTING';

describe('guard, canary and recover commands against the simulator', () => {
  it('check (dry run and real), restore, canary status/advance, recover --dry-run and apply', async (t) => {
    const sim = await startSimulator();
    t.after(() => sim.close());
    const dir = mkdtempSync(join(tmpdir(), 'jp-guard-cli-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'jitpool.yaml');
    writeFileSync(config, [
      'controllerId: cli',
      `github: { apiUrl: "${sim.url}", auth: { kind: pat, token: { env: [JITPOOL_GITHUB_TOKEN] } } }`,
      'webhook: { enabled: false }',
      `store: { stateDir: "${join(dir, 'state')}" }`,
      'pools:',
      '  - { name: linux, scope: { kind: repo, owner: acme, repo: app }, labels: [self-hosted, linux, x64], provider: { kind: process, command: ["/bin/true"] } }',
      'guard: { enabled: true, repositories: [{ owner: acme, repo: app }], canary: { enabled: true } }',
      'log: { level: warn }',
    ].join('\n'));
    const jitpool = async (...args: string[]) => {
      try {
        const { stdout } = await run(process.execPath, [MAIN, ...args, '-c', config], { env: { ...process.env, JITPOOL_GITHUB_TOKEN: TOKEN }, timeout: 120_000 });
        return { code: 0, stdout };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    sim.setVariable('acme', 'app', VARIABLE, 'true');

    const dry = await jitpool('guard', '--dry-run', '--json');
    assert.equal(dry.code, 0, JSON.stringify(dry));
    const report = JSON.parse(dry.stdout) as { action: string; triggers: unknown[]; variable: { isOn: boolean }; canary: { stage: number } };
    assert.deepEqual([report.action, report.triggers.length, report.variable.isOn, report.canary.stage], ['none', 0, true, 0]);

    const real = await jitpool('guard', '--json');
    assert.equal(real.code, 0, JSON.stringify(real));
    assert.equal((JSON.parse(real.stdout) as { action: string }).action, 'none');
    assert.equal(sim.variableHistory('acme', 'app', VARIABLE).length, 1, 'a healthy check changes nothing');

    const status = JSON.parse((await jitpool('canary', 'status', '--json')).stdout) as { stage: number; budget: number; isHolding: boolean };
    assert.deepEqual([status.stage, status.budget, status.isHolding], [0, 1, false]);
    const advanced = await jitpool('canary', 'advance', '--json');
    assert.equal(advanced.code, 0, JSON.stringify(advanced));
    assert.equal((JSON.parse(advanced.stdout) as { status: { stage: number } }).status.stage, 1);

    // Routing off by hand, then the recovery: the simulator has nothing broken, so it ends healthy and on.
    sim.setVariable('acme', 'app', VARIABLE, 'false');
    const dryRecover = await jitpool('recover', '--dry-run');
    assert.equal(dryRecover.code, 0, JSON.stringify(dryRecover));
    assert.match(dryRecover.stdout, /routing-off\s+would set CI_SELF_HOSTED_TRUSTED_ROUTING=false/);
    assert.equal(sim.variable('acme', 'app', VARIABLE), 'false');
    const recovered = await jitpool('recover', '--json');
    assert.equal(recovered.code, 0, JSON.stringify(recovered));
    assert.equal((JSON.parse(recovered.stdout) as { isHealthy: boolean }).isHealthy, true);
    assert.equal(sim.variable('acme', 'app', VARIABLE), 'true');

    sim.setVariable('acme', 'app', VARIABLE, 'false');
    const restored = await jitpool('guard', 'restore', '--owner', 'acme', '--repo', 'app');
    assert.equal(restored.code, 0, JSON.stringify(restored));
    assert.equal(sim.variable('acme', 'app', VARIABLE), 'true');
    assert.ok(!JSON.stringify(sim.stats()).includes(TOKEN));

    const bad = await jitpool('guard', '--owner', 'acme');
    assert.notEqual(bad.code, 0);
  });
});
