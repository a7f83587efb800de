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
});
