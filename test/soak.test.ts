import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ManualClock, redactOutput, registerJitConfig, secretRegistrySize } from '../src/core/index.ts';
import { encodeJitConfig } from '../src/sim/jit-config.ts';
import { Store, forgetSecretsOfRemovedRunners, pruneExpired } from '../src/store/index.ts';

const JOBS = 100_000;
/** One job every 10 virtual seconds: 100,000 jobs are 11.6 days. */
const JOB_EVERY_MS = 10_000;
const RETENTION_MS = 2 * 86_400_000;
const HOUR_MS = 3_600_000;
/** The bounds asserted (generous: they catch growth without bound, not a few percent). */
const MAX_STORE_BYTES = 96 * 1024 * 1024;
const MAX_HEAP_GROWTH_BYTES = 48 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * 100,000 jobs through the store with retention running, as the daemon runs them: three
 * deliveries, the job's queued → in_progress → completed, a runner requested → provisioning →
 * idle → busy → finished → removed with its JIT config registered for redaction and its output
 * tail redacted and stored. Retention (2 days here) prunes hourly in virtual time. Asserted: the
 * store's file (db + wal + shm) stops growing once retention catches up and stays under
 * 96 MiB; the heap grows less than 48 MiB from job 20,000 to 100,000; the redaction registry
 * holds nothing of removed runners.
 */
test('100,000 jobs through the store keep its file and the heap within bounds', { timeout: 900_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jp-soak-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new ManualClock();
  const store = Store.open(join(dir, 'jitpool.sqlite'), clock);
  const stopForgetting = forgetSecretsOfRemovedRunners(store);
  t.after(() => {
    stopForgetting();
    store.close();
  });
  const registryBefore = secretRegistrySize();
  const samples: Array<{ jobs: number; bytes: number; heap: number; rows: number }> = [];
  let nextPruneMs = clock.now() + HOUR_MS;

  for (let i = 1; i <= JOBS; i += 1) {
    clock.advance(JOB_EVERY_MS);
    runOneJob(store, i, clock.now());
    if (clock.now() >= nextPruneMs) {
      await pruneExpired(store, { retentionMs: RETENTION_MS, clock });
      nextPruneMs += HOUR_MS;
    }
    if (i % 20_000 === 0) {
      const rows = store.listJobs({ limit: 100_000 }).length;
      samples.push({ jobs: i, bytes: store.maintenance.fileBytes(), heap: heapUsed(), rows });
    }
  }
  for (const sample of samples) t.diagnostic(`after ${sample.jobs} jobs: store ${(sample.bytes / 1048576).toFixed(1)} MiB, heap ${(sample.heap / 1048576).toFixed(1)} MiB, ${sample.rows} job rows`);
  const last = samples.at(-1)!;
  const retained = Math.ceil(RETENTION_MS / JOB_EVERY_MS) + HOUR_MS / JOB_EVERY_MS;
  assert.ok(last.rows <= retained, `job rows ${last.rows} <= ${retained} (retention)`);
  assert.ok(last.bytes <= MAX_STORE_BYTES, `store ${last.bytes} bytes`);
  // Once retention has caught up (after 2 days = 17,280 jobs), pages are reused: the file stops growing.
  const steady = samples.find((s) => s.jobs === 40_000)!;
  assert.ok(last.bytes <= steady.bytes * 1.25 + 1024 * 1024, `store grew from ${steady.bytes} to ${last.bytes} bytes after retention caught up`);
  assert.ok(last.heap - samples[0]!.heap < MAX_HEAP_GROWTH_BYTES, `heap grew ${last.heap - samples[0]!.heap} bytes`);
  assert.deepEqual(secretRegistrySize(), registryBefore, 'no secret of a removed runner is kept');
});

function runOneJob(store: Store, i: number, nowMs: number): void {
  const id = 50_000_000_000 + i;
  const name = `jp-linux-${i.toString(16).padStart(12, '0')}`;
  const jit = encodeJitConfig(
    { agentId: i, agentName: name, poolId: 1, poolName: 'Default', serverUrl: 'https://pipelines.example/', gitHubUrl: 'https://github.com/acme', workFolder: '_work', ephemeral: true, useV2Flow: true },
    { scheme: 'OAuth', data: { clientId: randomUUID(), authorizationUrl: 'https://token.example/', requireFipsCryptography: 'False' } },
  );
  const job = { id, runId: id, owner: 'acme', repo: 'app', name: `build ${i}`, labels: ['self-hosted', 'linux'], conclusion: null, runnerName: null, queuedAtMs: nowMs, startedAtMs: null, completedAtMs: null };
  store.transaction(() => {
    store.recordDelivery(randomUUID(), 'workflow_job', 'queued');
    store.observeJob({ ...job, state: 'queued' }, 'linux', 'webhook');
    store.insertRunner({ id: `r${i}`, name, pool: 'linux', labels: ['self-hosted', 'linux', 'jitpool-soak'] }, 'controller', '1 queued');
    registerJitConfig(jit, name);
    store.updateRunner(`r${i}`, { state: 'provisioning', githubRunnerId: i }, 'controller', 'registered (JIT)');
    store.updateRunner(`r${i}`, { state: 'idle', computeId: name }, 'controller', 'online');
    store.recordDelivery(randomUUID(), 'workflow_job', 'in_progress');
    store.observeJob({ ...job, state: 'in_progress', runnerName: name, startedAtMs: nowMs }, 'linux', 'webhook');
    store.updateRunner(`r${i}`, { state: 'busy', jobId: id }, 'controller', `took job ${id}`);
    store.recordDelivery(randomUUID(), 'workflow_job', 'completed');
    store.observeJob({ ...job, state: 'completed', conclusion: 'success', runnerName: name, startedAtMs: nowMs, completedAtMs: nowMs }, 'linux', 'webhook');
    const tail = `Running job: build ${i}\nprinted ${jit.replace(/=+$/, '')}\nJob build ${i} completed with result: Succeeded`;
    store.updateRunner(`r${i}`, { state: 'finished', exitCode: 0, outputTail: redactOutput(tail).slice(-4000) }, 'controller', 'runner exited with code 0');
    store.updateRunner(`r${i}`, { state: 'removed' }, 'controller', 'cleaned up');
  });
}
