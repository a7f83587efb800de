import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli } from './cli-helpers.ts';

/** A free TCP port on loopback (jitpool's webhook listener must be known before the simulator starts). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Waits until `text()` holds a line that parses as JSON with `key`. */
async function jsonLine(text: () => string, key: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const line of text().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const value = JSON.parse(line) as Record<string, unknown>;
        if (key in value) return value;
      } catch {
        // a partial line; read again
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no JSON line with ${key} within ${timeoutMs} ms:\n${text()}`);
}

describe('jitpool sim', { timeout: 300_000 }, () => {
  it('rehearses a real jitpool.yaml end to end: jitpool up against the simulator runs the workload, the report says so', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'jp-sim-cmd-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const apiPort = await freePort();
    const sim = spawnCli(['sim', '--port', '0', '--repo', 'acme/app', '--webhook-url', `http://127.0.0.1:${apiPort}/webhook`, '--jobs', '8', '--seed', '3', '--labels', 'self-hosted,linux', '--span-seconds', '3', '--job-seconds', '0.2-1', '--report', '--exit-when-done']);
    t.after(() => sim.child.kill('SIGTERM'));
    const info = await jsonLine(sim.output, 'apiUrl', 60_000) as { apiUrl: string; token: string; webhookSecret: string; runnerCommand: string[] };
    assert.match(info.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    writeFileSync(join(dir, 'jitpool.yaml'), `controllerId: rehearsal
github: { apiUrl: "${info.apiUrl}" }
store: { stateDir: ./state }
api: { host: 127.0.0.1, port: ${apiPort} }
controller: { reconcileIntervalSeconds: 2 }
pools:
  - name: linux
    scope: { kind: repo, owner: acme, repo: app }
    labels: [self-hosted, linux]
    provider: { kind: process, command: ${JSON.stringify(info.runnerCommand)}, sandbox: none }
    max: 4
    idleGraceSeconds: 2
`);
    const up = spawnCli(['up', '-c', join(dir, 'jitpool.yaml')], { JITPOOL_GITHUB_TOKEN: info.token, JITPOOL_WEBHOOK_SECRET: info.webhookSecret, JITPOOL_API_TOKEN: 'rehearsal-admin-token-0123456789' });
    t.after(() => up.child.kill('SIGTERM'));
    const report = await jsonLine(sim.output, 'jobs', 240_000) as { seed: number; jobs: { submitted: number; completed: number; lost: number; failed: number }; runners: { launched: number; busyKilled: number }; webhooks: { sent: number } };
    assert.deepEqual([report.jobs.submitted, report.jobs.completed, report.jobs.lost, report.jobs.failed], [8, 8, 0, 0], `${JSON.stringify(report)}\n${up.output()}`);
    assert.equal(report.seed, 3);
    assert.ok(report.runners.launched >= 1 && report.runners.launched <= 12, JSON.stringify(report.runners));
    assert.equal(report.runners.busyKilled, 0);
    assert.ok(report.webhooks.sent > 0, 'the simulator delivered webhooks to jitpool');
    assert.equal(await sim.exited, 0, sim.output());
    up.child.kill('SIGTERM');
    assert.equal(await up.exited, 0, up.output());
  });
});
