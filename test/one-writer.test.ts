import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { FAKE_RUNNER_SCRIPT, startSimulator } from '../src/sim/index.ts';
import { runCli, spawnCli } from './cli-helpers.ts';
import { until } from './helpers/harness.ts';

// Issue 13, defect 4: a one-shot command that acts (recover, reconcile --once, …) started a second
// controller on the daemon's store. Its empty in-flight set made the daemon's launches look
// interrupted, and it cleaned them up. Now the daemon holds a lease and acting commands go
// through its admin API.

describe('one writer per store', { timeout: 240_000 }, () => {
  it('recover and reconcile --once run through the daemon while up runs; a second up refuses naming the holder', async (t) => {
    // JIT configs take a while, so the daemon's launches sit in `requested` long enough to be seen.
    const sim = await startSimulator({ offlineAfterMs: 5000, faults: { apiByEndpoint: { 'POST /orgs/{org}/actions/runners/generate-jitconfig': { latencyMs: 1500 } } } });
    const dir = mkdtempSync(join(tmpdir(), 'jitpool-one-writer-'));
    const env = { ONE_TOKEN: 'ghp_one_writer_test_token', ONE_API_TOKEN: 'admin-token-for-the-one-writer-test' };
    const up = { current: null as ReturnType<typeof spawnCli> | null };
    t.after(async () => {
      up.current?.child.kill('SIGTERM');
      if (up.current) await up.current.exited;
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const config = join(dir, 'jitpool.yaml');
    writeFileSync(config, [
      'controllerId: onewriter',
      `github: { apiUrl: "${sim.url}", auth: { kind: pat, token: { env: [ONE_TOKEN] } } }`,
      'webhook: { enabled: false }',
      'poll: { intervalSeconds: 1, repos: [acme/app] }',
      `store: { stateDir: "${join(dir, 'state')}" }`,
      'api: { port: 0, auth: { token: { env: [ONE_API_TOKEN] } } }',
      'controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 2, ghostMinAgeSeconds: 0 }',
      'pools:',
      `  - { name: linux, scope: { kind: org, org: acme }, labels: [self-hosted, linux], max: 3, provider: { kind: process, command: ["${process.execPath}", "${FAKE_RUNNER_SCRIPT}"], killGraceSeconds: 2 } }`,
    ].join('\n'));
    up.current = spawnCli(['up', '-c', config], env);
    const dbFile = join(dir, 'state', 'jitpool.sqlite');
    const query = <T,>(sql: string): T[] => {
      const db = new DatabaseSync(dbFile, { readOnly: true });
      try {
        return db.prepare(sql).all() as T[];
      } finally {
        db.close();
      }
    };
    await until(() => /jitpool started/.test(up.current!.output()), 'the daemon started', 60_000);

    for (let i = 0; i < 5; i += 1) sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 3000 });
    await until(() => query<{ n: number }>("SELECT COUNT(*) AS n FROM runners WHERE state = 'requested'")[0]!.n > 0, 'a launch in flight', 60_000);

    const recover = await runCli(['recover', '-c', config, '--owner', 'acme', '--repo', 'app', '--json'], env);
    const recovered = JSON.parse(recover.stdout) as { via?: string; steps?: unknown[] };
    assert.equal(recovered.via, 'daemon', `recover ran through the daemon: ${recover.stdout}${recover.stderr}`);

    const reconcile = await runCli(['reconcile', '--once', '-c', config, '--json'], env);
    assert.equal((JSON.parse(reconcile.stdout) as { via?: string }).via, 'daemon', reconcile.stdout + reconcile.stderr);

    const second = await runCli(['up', '-c', config], env);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, /JP_LEASE_HELD/);
    assert.match(second.stderr, /pid \d+/);

    await until(() => sim.jobs().length === 5 && sim.jobs().every((job) => job.status === 'completed'), 'all jobs completed', 120_000);
    assert.deepEqual(sim.jobs().map((job) => job.conclusion), Array(5).fill('success'));
    const interrupted = query<{ name: string; last_error: string }>("SELECT name, last_error FROM runners WHERE last_error LIKE '%interrupted%'");
    assert.deepEqual(interrupted, [], 'no launch of the daemon was taken for an interrupted one');
    assert.ok(sim.stats().maxConcurrentRunners.overall <= 3, 'never above max');
  });
});
