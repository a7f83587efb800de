import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startRuntime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { silentLogger } from '../src/core/index.ts';
import { MemoryProvider } from '../src/providers/index.ts';
import { startSimulator } from '../src/sim/index.ts';
import { fillDisk, smallDisk } from '../src/store/store-test-helpers.ts';
import { until } from './helpers/harness.ts';

const SECRET = 'full-disk-webhook-secret-0123456789';

test('a full disk loses no acknowledged webhook: deliveries are refused (503), /readyz says not ready, the poller finds the job once space returns', { timeout: 180_000 }, async (t) => {
  const disk = smallDisk(t, '4m');
  if (disk.mode !== 'tmpfs') {
    t.skip('mounting a small tmpfs is not possible here (not root?); the store-level test covers a full disk with max_page_count');
    return;
  }
  t.diagnostic('full disk: a 4 MiB tmpfs the test mounts and unmounts');
  const sim = await startSimulator();
  const provider = new MemoryProvider('disk');
  const config = configSchema.parse({
    controllerId: 'disk',
    github: { apiUrl: sim.url, auth: { kind: 'pat', token: { env: ['T'] } } },
    webhook: { secret: { env: ['S'] } },
    poll: { backstopIntervalSeconds: 1, repos: ['acme/app'] },
    store: { stateDir: join(disk.dir, 'state') },
    api: { host: '127.0.0.1', port: 0, auth: { token: { env: ['A'] } } },
    controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 3600 },
    pools: [{ name: 'linux', scope: { kind: 'org', org: 'acme' }, labels: ['self-hosted', 'linux'], provider: { kind: 'process', command: ['unused'] }, max: 1 }],
  });
  const runtime = await startRuntime({
    config, logger: silentLogger(), providers: new Map([['linux', provider]]),
    env: { T: 'ghp_full_disk_token_0123', S: SECRET, A: 'full-disk-admin-token-0123456789' },
  });
  disk.onClose(async () => {
    await runtime.stop(5000);
    await sim.close();
  });
  sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret: SECRET });
  const readyz = async () => (await fetch(`${runtime.url}/readyz`)).status;
  assert.equal(await readyz(), 200);

  fillDisk(disk.dir, runtime.store);
  assert.equal(runtime.store.health().trouble, 'full');
  const failedBefore = sim.stats().webhooks.failed;
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 1 });
  await until(() => sim.stats().webhooks.failed > failedBefore, 'GitHub sees the delivery failed', 30_000);
  assert.equal(runtime.store.getJob(job.id), undefined, 'nothing half-written');
  assert.equal(await readyz(), 503, 'not ready while the store cannot write');
  const status = await (await fetch(`${runtime.url}/status`, { headers: { authorization: 'Bearer full-disk-admin-token-0123456789' } })).json() as { health: { store: { trouble: string; message: string } } };
  assert.equal(status.health.store.trouble, 'full');
  assert.match(status.health.store.message, /full/i, "SQLite's own message, on the authenticated route");

  rmSync(join(disk.dir, 'filler'), { force: true });
  await until(() => runtime.store.getJob(job.id) !== undefined, 'the poller records the job once space returns', 60_000);
  await until(async () => (await readyz()) === 200, 'ready again (writes commit with no failure for 30 s)', 90_000);
  assert.equal(runtime.store.health().ok, true);
});
