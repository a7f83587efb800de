import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Octokit } from '@octokit/rest';
import { startSimulator } from '../src/sim/index.ts';

const run = promisify(execFile);
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;
const TOKEN = 'ghp_doctor_test_token_123';
const STALE = 'jp-linux-0123456789ab';
const FOREIGN = ['important-data', 'jp-linux-00000000aaaa', 'jp-linux-00000000bbbb', 'jp-linux-00000000cccc', 'src'];

describe('jitpool doctor', { timeout: 60_000 }, () => {
  it('reports ghosts and stale directories, changes nothing by default or with --dry-run, and removes only what jitpool made', async (t) => {
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
    const old = new Date(Date.now() - 3 * 3600_000);
    // The provider's record of a runner lives in its bookkeeping directory beside the work dirs
    // (<workRoot>/.jitpool/<name>/meta.json), out of every job's reach; a marker inside a work
    // dir proves nothing (a job could have written it).
    const makeDir = (name: string, record?: Record<string, unknown>) => {
      mkdirSync(join(work, name), { recursive: true });
      writeFileSync(join(work, name, 'keep.txt'), 'precious');
      if (record) {
        mkdirSync(join(work, '.jitpool', name), { recursive: true, mode: 0o700 });
        writeFileSync(join(work, '.jitpool', name, 'meta.json'), JSON.stringify({ runnerName: name, ...record }));
      }
      utimesSync(join(work, name), old, old);
    };
    // jitpool's own leftover (its runner process long gone) ...
    makeDir(STALE, { runnerId: '0123456789ab', pool: 'linux', controllerId: 'doc', pid: 2 ** 22 + 7, startTicks: null, createdAtMs: 0, sandbox: 'none', sandboxPid: null, sandboxStartTicks: null, runnerUid: null });
    // ... and directories that are not jitpool's, however old: never removed.
    makeDir('src');
    makeDir('important-data');
    makeDir('jp-linux-00000000aaaa');
    writeFileSync(join(work, 'jp-linux-00000000aaaa', '.jitpool.json'), JSON.stringify({ controllerId: 'doc', runnerName: 'jp-linux-00000000aaaa', pid: 1 }));
    makeDir('jp-linux-00000000bbbb', { controllerId: 'another-controller', pid: 1 });
    mkdirSync(join(dir, 'outside'));
    symlinkSync(join(dir, 'outside'), join(work, 'jp-linux-00000000cccc'));
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
      return JSON.parse(stdout) as {
        ghosts: Array<{ name: string; isRemovable: boolean }>;
        staleDirs: Array<{ name: string }>;
        foreignDirs: Array<{ name: string; reason: string }>;
        repaired: null | { removedRegistrations: string[]; removedDirs: string[] };
      };
    };

    const report = await doctor();
    assert.deepEqual(report.ghosts.map((g) => g.name), ['jp-linux-ghost1'], 'only registrations with our label');
    assert.equal(report.ghosts[0]!.isRemovable, false, 'first seen just now: younger than the 60 min default');
    assert.deepEqual(report.staleDirs.map((d) => d.name), [STALE]);
    assert.deepEqual(report.foreignDirs.map((d) => d.name), FOREIGN);
    assert.match(report.foreignDirs.find((d) => d.name === 'jp-linux-00000000aaaa')!.reason, /no record of it/, 'a marker the job could forge is not proof');
    assert.match(report.foreignDirs.find((d) => d.name === 'jp-linux-00000000bbbb')!.reason, /another-controller/);
    assert.equal(report.repaired, null);
    assert.equal(sim.runners().length, 2, 'no flag: changed nothing');
    const dryRun = await doctor('--cleanup-offline', '--cleanup-dirs', '--min-age-mins', '0', '--dry-run');
    assert.equal(dryRun.repaired, null);
    assert.ok(existsSync(join(work, STALE)), '--dry-run: changed nothing');
    const { stdout: text } = await run(process.execPath, [MAIN, 'doctor', '-c', config, '--cleanup-dirs', '--dry-run'], { env: { PATH: process.env.PATH, DOC_TOKEN: TOKEN } });
    t.diagnostic(text);
    assert.match(text, /kept: its name is not a jitpool runner name/);

    const acted = await doctor('--cleanup-offline', '--cleanup-dirs', '--min-age-mins', '0');
    assert.deepEqual(acted.repaired?.removedRegistrations, ['jp-linux-ghost1']);
    assert.equal(acted.repaired?.removedDirs.length, 1);
    assert.deepEqual(sim.runners().map((r) => r.name), ['someone-elses'], 'foreign registration untouched');
    assert.ok(!existsSync(join(work, STALE)));
    for (const name of FOREIGN) assert.ok(existsSync(join(work, name)), `${name} kept`);
    assert.ok(existsSync(join(work, 'src', 'keep.txt')) && existsSync(join(work, 'important-data', 'keep.txt')));
  });

  it('explains a bad flag', async () => {
    await assert.rejects(run(process.execPath, [MAIN, 'doctor', '--min-age-mins', 'soon']), (err: { stderr: string }) => /--min-age-mins must be a whole number/.test(err.stderr));
  });
});
