import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Octokit } from '@octokit/rest';
import { startSimulator } from '../src/sim/index.ts';

const run = promisify(execFile);
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;
const TOKEN = 'ghp_doctor_test_token_123';

describe('jitpool doctor', { timeout: 60_000 }, () => {
  it('reports ghosts and stale directories, changes nothing by default, and cleans up when told', async (t) => {
    const sim = await startSimulator();
    const dir = mkdtempSync(join(tmpdir(), 'jitpool-doctor-'));
    t.after(async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const octokit = new Octokit({ baseUrl: sim.url, auth: TOKEN });
    const register = (name: string, labels: string[]) =>
      octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', { org: 'acme', name, runner_group_id: 1, labels, work_folder: '_work' });
    await register('jp-linux-ghost1', ['self-hosted', 'linux', 'jitpool-doc']);
    await register('someone-elses', ['self-hosted', 'linux']);
    const work = join(dir, 'state', 'work');
    mkdirSync(join(work, 'jp-linux-stale1'), { recursive: true });
    const old = new Date(Date.now() - 3 * 3600_000);
    utimesSync(join(work, 'jp-linux-stale1'), old, old);
    const config = join(dir, 'jitpool.yaml');
    writeFileSync(config, [
      'controllerId: doc',
      `github: { apiUrl: "${sim.url}", auth: { kind: pat, token: { env: [DOC_TOKEN] } } }`,
      'store: { stateDir: ./state }',
      'pools:',
      '  - { name: linux, scope: { kind: org, org: acme }, labels: [self-hosted, linux], provider: { kind: process, command: [/bin/true] } }',
    ].join('\n'));
    const doctor = async (...args: string[]) => {
      const { stdout } = await run(process.execPath, [MAIN, 'doctor', '-c', config, '--json', ...args], { env: { PATH: process.env.PATH, DOC_TOKEN: TOKEN } });
      return JSON.parse(stdout) as { ghosts: Array<{ name: string; isRemovable: boolean }>; staleDirs: Array<{ name: string }>; repaired: null | { removedRegistrations: string[]; removedDirs: string[] } };
    };

    const report = await doctor();
    assert.deepEqual(report.ghosts.map((g) => g.name), ['jp-linux-ghost1'], 'only registrations with our label');
    assert.equal(report.ghosts[0]!.isRemovable, false, 'first seen just now: younger than the 60 min default');
    assert.deepEqual(report.staleDirs.map((d) => d.name), ['jp-linux-stale1']);
    assert.equal(report.repaired, null);
    assert.equal(sim.runners().length, 2, 'dry run changed nothing');
    assert.ok(existsSync(join(work, 'jp-linux-stale1')));

    const acted = await doctor('--cleanup-offline', '--cleanup-dirs', '--min-age-mins', '0');
    assert.deepEqual(acted.repaired?.removedRegistrations, ['jp-linux-ghost1']);
    assert.equal(acted.repaired?.removedDirs.length, 1);
    assert.deepEqual(sim.runners().map((r) => r.name), ['someone-elses'], 'foreign registration untouched');
    assert.ok(!existsSync(join(work, 'jp-linux-stale1')));
  });

  it('explains a bad flag', async () => {
    await assert.rejects(run(process.execPath, [MAIN, 'doctor', '--min-age-mins', 'soon']), (err: { stderr: string }) => /--min-age-mins must be a whole number/.test(err.stderr));
  });
});
