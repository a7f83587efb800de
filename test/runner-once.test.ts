import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRunnerArchive, forceRemove, servePackage } from '../src/runner/runner-test-helpers.ts';
import { startSimulator } from '../src/sim/index.ts';
import { runCli } from './cli-helpers.ts';

const TOKEN = 'ghp_runner_once_test_token';

async function setup(t: import('node:test').TestContext, listener: 'fake-runner' | 'record') {
  const pkg = await buildRunnerArchive({ listener });
  const server = await servePackage(pkg.bytes);
  const sim = await startSimulator({ offlineAfterMs: 5000 });
  const dir = mkdtempSync(join(tmpdir(), 'jp-once-'));
  t.after(async () => {
    await sim.close();
    await server.close();
    pkg.cleanup();
    forceRemove(dir);
  });
  const flags = ['--owner', 'acme', '--repo', 'app', '--api-url', sim.url, '--runner-sha256', pkg.sha256, '--runner-url-template', `${server.url}/v{version}/runner-{arch}.tar.gz`, '--cache-dir', join(dir, 'cache')];
  return { sim, dir, flags, server };
}

describe('jitpool runner once', () => {
  it('runs one JIT runner for one queued job (auto labels), then leaves no registration and no root', async (t) => {
    const { sim, dir, flags } = await setup(t, 'fake-runner');
    const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux', 'x64'], durationMs: 300, headBranch: 'dev' });
    const result = await runCli(['runner', 'once', ...flags, '--auto-labels', '--branch', 'dev', '--name-prefix', 'codex-ephem', '--json'], { GH_PAT: TOKEN });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { ok: boolean; mode: string; runnerName: string; labels: string[]; labelSource: string; exitCode: number; exit: { kind: string }; root: string };
    assert.deepEqual([report.ok, report.mode, report.labelSource, report.exitCode, report.exit.kind], [true, 'jit', 'queue', 0, 'done']);
    assert.deepEqual(report.labels, ['self-hosted', 'linux', 'x64']);
    assert.match(report.runnerName, /^codex-ephem-[0-9a-f]{12}$/);
    const done = sim.jobs().find((j) => j.id === job.id)!;
    assert.equal(done.status, 'completed');
    assert.equal(done.runnerName, report.runnerName);
    assert.equal(sim.runners().length, 0);
    assert.equal(existsSync(report.root), false);
    assert.doesNotMatch(result.stdout + result.stderr, /encoded_jit_config|ghp_runner_once/);
    // The package is cached: a second run downloads nothing.
    assert.equal(readdirSync(join(dir, 'cache')).filter((n) => n.endsWith('.tar.gz')).length, 1);
  });

  it('registration-token path: config.sh --ephemeral --unattended gets the token through its environment, never argv', async (t) => {
    const { flags, sim } = await setup(t, 'record');
    const result = await runCli(['runner', 'once', ...flags, '--labels', 'linux,x64,codex', '--registration-token', '--keep-root', '--work-dir', 'w', '--json'], { GH_PAT: TOKEN });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { mode: string; root: string; runnerName: string };
    assert.equal(report.mode, 'registration-token');
    const { readFileSync } = await import('node:fs');
    const calls = readFileSync(join(report.root, 'config-calls.log'), 'utf8');
    assert.match(calls, new RegExp(`argv: --unattended --ephemeral --url ${sim.url.replace(/[.:/]/g, '\\$&')}/acme/app --name ${report.runnerName} --labels linux,x64,codex --work w --replace --disableupdate`));
    assert.match(calls, /token-env: set/);
    assert.match(readFileSync(join(report.root, 'listener-calls.log'), 'utf8'), /argv: run/);
    assert.equal(sim.stats().calls.byEndpoint['POST /repos/{owner}/{repo}/actions/runners/registration-token'], 1);
  });

  it('refuses ambiguous labels and a missing digest with clear errors', async (t) => {
    const { flags } = await setup(t, 'record');
    const both = await runCli(['runner', 'once', ...flags, '--labels', 'a', '--auto-labels', '--json'], { GH_PAT: TOKEN });
    assert.equal(both.code, 2);
    assert.match((JSON.parse(both.stdout) as { error: { message: string } }).error.message, /--labels or --auto-labels/);
    const withoutDigest = flags.filter((f, i, all) => f !== '--runner-sha256' && all[i - 1] !== '--runner-sha256');
    // No digest for the pinned version: the one jitpool ships is used (and this test's stand-in package fails it).
    const shipped = await runCli(['runner', 'once', ...withoutDigest, '--labels', 'a', '--json'], { GH_PAT: TOKEN });
    assert.equal((JSON.parse(shipped.stdout) as { error: { code: string } }).error.code, 'JP_RUNNER_CHECKSUM');
    // No digest for a version jitpool does not ship: the error says where to find it.
    const noDigest = await runCli(['runner', 'once', ...withoutDigest, '--runner-version', '2.331.0', '--labels', 'a', '--json'], { GH_PAT: TOKEN });
    assert.match((JSON.parse(noDigest.stdout) as { error: { message: string } }).error.message, /runner\.sha256: jitpool does not ship the digest of actions-runner-linux-x64-2\.331\.0\.tar\.gz/);
    const badDigest = await runCli(['runner', 'once', ...flags.map((f) => (/^[0-9a-f]{64}$/.test(f) ? 'f'.repeat(64) : f)), '--labels', 'a', '--json'], { GH_PAT: TOKEN });
    assert.equal((JSON.parse(badDigest.stdout) as { error: { code: string } }).error.code, 'JP_RUNNER_CHECKSUM');
  });
});
