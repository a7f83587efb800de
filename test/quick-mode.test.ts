import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKE_RUNNER_SCRIPT, startSimulator, type SimRunner } from '../src/sim/index.ts';
import { spawnCli, runCli } from './cli-helpers.ts';

describe('jitpool up quick mode', () => {
  it('serves a repository from flags alone (no YAML, no webhooks): every queued job runs, never more than --max runners', async (t) => {
    const sim = await startSimulator({ offlineAfterMs: 5000 });
    const stateDir = mkdtempSync(join(tmpdir(), 'jp-quick-'));
    const up = spawnCli(
      ['up', '--repo', 'acme/app', '--labels', 'self-hosted,linux', '--max', '2', '--poll', '1', '--api-url', sim.url, '--state-dir', stateDir, '--port', '0',
        '--runner-command', JSON.stringify([process.execPath, FAKE_RUNNER_SCRIPT]), '--log-level', 'warn'],
      { GH_PAT: 'ghp_quick_mode_test_token', JITPOOL_API_TOKEN: 'quick-mode-admin-token-0123' },
    );
    t.after(async () => {
      if (up.child.exitCode === null) up.child.kill('SIGKILL');
      await sim.close();
      rmSync(stateDir, { recursive: true, force: true });
    });
    let most = 0;
    sim.on('runner', (_runner: SimRunner) => {
      most = Math.max(most, sim.runners().length);
    });
    for (let i = 0; i < 4; i++) sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 300 });
    // A job of another repository is not ours.
    sim.queueJob({ owner: 'acme', repo: 'other', labels: ['self-hosted', 'linux'], durationMs: 300 });
    await sim.waitFor((s) => s.jobs().filter((j) => j.repo === 'app').every((j) => j.status === 'completed'), 120_000);
    assert.ok(most <= 2, `at most 2 runners at once, saw ${most}`);
    assert.equal(sim.jobs().find((j) => j.repo === 'other')?.status, 'queued');
    up.child.kill('SIGTERM');
    assert.equal(await up.exited, 0, up.output());
  });

  it('bad quick-mode flags fail at once naming the flag', async () => {
    const bad = await runCli(['up', '--repo', 'not-a-repo', '--runner-command', '/bin/true']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--repo: expected OWNER\/REPO/);
    const cap = await runCli(['up', '--repo', 'a/b', '--cap', '4', '--runner-command', '/bin/true']);
    assert.match(cap.stderr, /--cap goes with --scale-from-queue/);
    // 2.330.0's digest ships with jitpool; a version it does not know says where the digest is published.
    const digest = await runCli(['up', '--repo', 'a/b', '--scale-from-queue', '--cap', '4', '--runner-version', '2.331.0', '--port', '0'], { JITPOOL_GITHUB_TOKEN: 'ghp_quickmodetest000' });
    assert.equal(digest.code, 2, digest.stderr);
    assert.match(digest.stderr, /^jitpool: JP_INPUT_INVALID: .*--runner-sha256/);
    assert.match(digest.stderr, /https:\/\/github\.com\/actions\/runner\/releases\/tag\/v2\.331\.0/);
  });
});
