import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKE_RUNNER_SCRIPT, startSimulator } from '../src/sim/index.ts';

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname;

describe('graceful shutdown', { timeout: 90_000 }, () => {
  it('SIGTERM stops launching and exits promptly, leaving the busy runner to finish its job', async (t) => {
    const sim = await startSimulator({ offlineAfterMs: 5000 });
    const dir = mkdtempSync(join(tmpdir(), 'jitpool-shutdown-'));
    t.after(async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const config = join(dir, 'jitpool.yaml');
    writeFileSync(config, [
      'controllerId: term',
      `github: { apiUrl: "${sim.url}", auth: { kind: pat, token: { env: [TERM_TOKEN] } } }`,
      'webhook: { enabled: false }',
      'poll: { intervalSeconds: 1, repos: [acme/app] }',
      'store: { stateDir: ./state }',
      'api: { port: 0, auth: { token: { env: [TERM_API_TOKEN] } } }',
      'controller: { reconcileIntervalSeconds: 1 }',
      'pools:',
      `  - { name: linux, scope: { kind: org, org: acme }, labels: [self-hosted, linux], max: 2, provider: { kind: process, command: ["${process.execPath}", "${FAKE_RUNNER_SCRIPT}"] } }`,
    ].join('\n'));
    const child = spawn(process.execPath, [MAIN, 'up', '-c', config], { env: { PATH: process.env.PATH, TERM_TOKEN: 'ghp_shutdown_test_token', TERM_API_TOKEN: 'admin-token-for-the-shutdown-test' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 5000 });
    await sim.waitFor((s) => s.jobs()[0]?.status === 'in_progress', 30_000);
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, output);
    assert.ok(Date.now() - signalledAt < 30_000, 'exited within the shutdown bound');
    assert.match(output, /shutting down/);
    // The busy runner was left alone: the job finishes, successfully, after the controller is gone.
    await sim.waitFor((s) => s.jobs()[0]?.status === 'completed', 30_000);
    assert.equal(sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success');
  });

  it('with a slow GitHub: launches nothing after SIGTERM, aborts the in-flight poll, exits 0 within its deadline and lists the runner it leaves', async (t) => {
    const sim = await startSimulator({ offlineAfterMs: 5000 });
    const dir = mkdtempSync(join(tmpdir(), 'jitpool-slow-shutdown-'));
    t.after(async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const config = join(dir, 'jitpool.yaml');
    writeFileSync(config, [
      'controllerId: slow',
      `github: { apiUrl: "${sim.url}", auth: { kind: pat, token: { env: [TERM_TOKEN] } } }`,
      'webhook: { enabled: false }',
      'poll: { intervalSeconds: 1, repos: [acme/app] }',
      'store: { stateDir: ./state }',
      'api: { port: 0, auth: { token: { env: [TERM_API_TOKEN] } } }',
      'controller: { reconcileIntervalSeconds: 1 }',
      'log: { level: info }',
      'pools:',
      `  - { name: linux, scope: { kind: org, org: acme }, labels: [self-hosted, linux], max: 2, provider: { kind: process, command: ["${process.execPath}", "${FAKE_RUNNER_SCRIPT}"] } }`,
    ].join('\n'));
    const child = spawn(process.execPath, [MAIN, 'up', '-c', config, '--shutdown-timeout', '5'], {
      env: { PATH: process.env.PATH, TERM_TOKEN: 'ghp_shutdown_test_token', TERM_API_TOKEN: 'admin-token-for-the-shutdown-test' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const busy = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 8000 });
    await sim.waitFor((s) => s.jobs().find((j) => j.id === busy.id)?.status === 'in_progress', 30_000);
    // GitHub turns slow: every REST answer takes a minute (the runner protocol is not affected).
    sim.setFaults({ api: { latencyMs: 60_000 } });
    const runsListed = () => sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}/actions/runs'] ?? 0;
    const before = runsListed();
    await sim.waitFor(() => runsListed() > before, 30_000);
    const jitRequests = () => sim.stats().calls.byEndpoint['POST /orgs/{org}/actions/runners/generate-jitconfig'] ?? 0;
    const jitAtSignal = jitRequests();
    child.kill('SIGTERM');
    // Demand arriving during the shutdown is for the next start, not for this one.
    sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 100 });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Exit 0 means it finished before its hard stop (deadline + 5 s exits 1): a 60 s wait was abandoned.
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /shutdown took too long/);
    assert.equal(jitRequests(), jitAtSignal, 'no launch after SIGTERM');
    const left = output.split('\n').filter((line) => line.includes('leaving 1 runner(s) running'));
    assert.equal(left.length, 1, output);
    assert.ok(left[0]!.includes(`"name":"${sim.jobs().find((j) => j.id === busy.id)?.runnerName}"`), 'the runner of the busy job is listed');
    sim.setFaults({});
    await sim.waitFor((s) => s.jobs().find((j) => j.id === busy.id)?.status === 'completed', 30_000);
    assert.equal(sim.jobs().find((j) => j.id === busy.id)?.conclusion, 'success', 'the busy runner finished its job');
  });
});
