import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, registerJitConfig, redact, secretRegistrySize } from '../core/index.ts';
import { pruneExpired } from './retention.ts';
import { forgetSecretsOfRemovedRunners } from './secret-lifetime.ts';
import { Store } from './store.ts';

const DAY = 86_400_000;
const job = (id: number, state: 'queued' | 'completed', atMs: number) => ({
  id, runId: id, owner: 'acme', repo: 'app', name: 'j', labels: ['self-hosted'], state, conclusion: state === 'completed' ? 'success' : null,
  runnerName: null, queuedAtMs: atMs, startedAtMs: null, completedAtMs: state === 'completed' ? atMs : null,
});

describe('retention', () => {
  it('prunes old deliveries, transitions, finished jobs and removed runners in batches; retires open jobs nobody heard of', async () => {
    const clock = new ManualClock();
    const store = Store.open(':memory:', clock);
    for (let i = 0; i < 30; i += 1) {
      store.recordDelivery(`old-${i}`, 'workflow_job', 'queued');
      store.observeJob(job(i + 1, 'queued', clock.now()), 'linux', 'test');
      store.observeJob(job(i + 1, 'completed', clock.now()), 'linux', 'test');
      store.insertRunner({ id: `old${i}`, name: `jp-linux-old${i}`, pool: 'linux', labels: [] }, 'test');
      store.updateRunner(`old${i}`, { state: 'removed' }, 'test');
    }
    store.observeJob(job(500, 'queued', clock.now()), 'linux', 'test');
    clock.advance(15 * DAY);
    store.recordDelivery('new', 'workflow_job', 'queued');
    store.observeJob(job(1000, 'completed', clock.now()), 'linux', 'test');
    store.insertRunner({ id: 'live', name: 'jp-linux-live', pool: 'linux', labels: [] }, 'test');

    const result = await pruneExpired(store, { retentionMs: 14 * DAY, clock, batchSize: 7 });
    assert.equal(result.isComplete, true);
    assert.equal(result.retiredJobs, 1, 'the open job nobody heard of for 15 days is retired');
    assert.equal(store.getJob(500)?.state, 'gone');
    assert.deepEqual({ deliveries: result.deleted.deliveries, jobs: result.deleted.jobs, runners: result.deleted.runners }, { deliveries: 30, jobs: 30, runners: 30 });
    assert.ok(result.deleted.transitions >= 30 * 4);
    assert.equal(store.getJob(1000)?.state, 'completed', 'recent jobs stay');
    assert.equal(store.findRunnerById('live')?.state, 'requested');
    assert.equal(store.recordDelivery('new', 'workflow_job', 'queued'), false, 'recent deliveries still dedupe');
    // Removed runners' names are free again.
    store.insertRunner({ id: 'again', name: 'jp-linux-old0', pool: 'linux', labels: [] }, 'test');
  });

  it('stops at its batch budget and finishes at the next run', async () => {
    const clock = new ManualClock();
    const store = Store.open(':memory:', clock);
    for (let i = 0; i < 100; i += 1) store.recordDelivery(`d-${i}`, 'workflow_job', null);
    clock.advance(2 * DAY);
    const first = await pruneExpired(store, { retentionMs: DAY, clock, batchSize: 10, maxBatches: 3 });
    assert.equal(first.isComplete, false);
    assert.equal(first.deleted.deliveries, 30);
    const second = await pruneExpired(store, { retentionMs: DAY, clock, batchSize: 10 });
    assert.equal(second.deleted.deliveries, 70);
  });

  it('the redaction registry forgets a runner\'s JIT config when the runner is removed', () => {
    const store = Store.open(':memory:');
    const stop = forgetSecretsOfRemovedRunners(store);
    const before = secretRegistrySize().secrets;
    const files = { '.runner': Buffer.from('{}').toString('base64'), '.credentials': Buffer.from(JSON.stringify({ data: { clientId: 'client-id-0123456789' } })).toString('base64'), '.credentials_rsaparams': Buffer.from(JSON.stringify({ d: 'private-exponent-0123456789abcdef' })).toString('base64') };
    const jit = Buffer.from(JSON.stringify(files)).toString('base64');
    store.insertRunner({ id: 'r1', name: 'jp-linux-forget', pool: 'linux', labels: [] }, 'test');
    registerJitConfig(jit, 'jp-linux-forget');
    assert.ok(secretRegistrySize().secrets > before);
    assert.equal(redact(`x ${jit} y`), 'x [REDACTED] y');
    store.updateRunner('r1', { state: 'removed' }, 'test');
    assert.equal(secretRegistrySize().secrets, before);
    assert.equal(redact(jit), jit, 'forgotten');
    stop();
  });
});
