import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ManualClock } from '../core/index.ts';
import { MIGRATIONS } from './migrations.ts';
import { Store } from './store.ts';

const job = (id: number, state: 'queued' | 'in_progress' | 'completed', runnerName: string | null = null) => ({
  id, runId: 1, owner: 'acme', repo: 'app', name: 'build', labels: ['self-hosted'], state, conclusion: state === 'completed' ? 'success' : null,
  runnerName, queuedAtMs: 1000, startedAtMs: null, completedAtMs: null,
});

describe('Store', () => {
  it('migrates a new file to the latest version and reopens it', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'jp-store-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'state', 'jitpool.sqlite');
    const store = Store.open(path);
    store.insertRunner({ id: 'a1', name: 'jp-x-a1', pool: 'x', labels: ['self-hosted'] }, 'test');
    store.close();
    const db = new DatabaseSync(path);
    assert.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, MIGRATIONS.at(-1)!.version);
    db.close();
    const again = Store.open(path);
    assert.equal(again.getRunner('a1').name, 'jp-x-a1');
    again.close();
  });

  it('enforces the runner lifecycle at write time and logs every transition', () => {
    const clock = new ManualClock();
    const store = Store.open(':memory:', clock);
    store.insertRunner({ id: 'a1', name: 'jp-x-a1', pool: 'x', labels: [] }, 'test');
    clock.advance(10);
    store.updateRunner('a1', { state: 'provisioning', githubRunnerId: 5 }, 'test');
    assert.throws(() => store.updateRunner('a1', { state: 'requested' }, 'test'), { code: 'JP_STORE_TRANSITION' });
    store.updateRunner('a1', { state: 'idle' }, 'test');
    store.updateRunner('a1', { state: 'busy' }, 'test');
    assert.throws(() => store.updateRunner('a1', { state: 'idle' }, 'test'), { code: 'JP_STORE_TRANSITION' }, 'a busy runner never goes back to idle');
    store.updateRunner('a1', { state: 'finished' }, 'test');
    store.updateRunner('a1', { state: 'removed' }, 'test');
    const states = store.listTransitions({ entityId: 'a1' }).map((t) => t.toState);
    assert.deepEqual(states, ['requested', 'provisioning', 'idle', 'busy', 'finished', 'removed']);
    assert.equal(store.listLiveRunners().length, 0);
    assert.throws(() => store.getRunner('nope'), { code: 'JP_STORE_NOT_FOUND' });
  });

  it('keeps job state moving forward when events arrive late or twice', () => {
    const store = Store.open(':memory:');
    assert.equal(store.observeJob(job(1, 'queued'), 'x', 'test').changed, true);
    assert.equal(store.observeJob(job(1, 'queued'), 'x', 'test').changed, false, 'duplicate');
    assert.equal(store.observeJob(job(1, 'completed', 'jp-x-a1'), 'x', 'test').changed, true, 'completed before in_progress');
    const late = store.observeJob(job(1, 'in_progress', 'jp-x-a1'), 'x', 'test');
    assert.equal(late.changed, false);
    assert.equal(late.job.state, 'completed');
    assert.equal(store.listOpenJobs().length, 0);
  });

  it('deduplicates deliveries by id', () => {
    const store = Store.open(':memory:');
    assert.equal(store.recordDelivery('d-1', 'workflow_job', 'queued'), true);
    assert.equal(store.recordDelivery('d-1', 'workflow_job', 'queued'), false);
  });

  it('rolls back a failed transaction entirely', () => {
    const store = Store.open(':memory:');
    assert.throws(() =>
      store.transaction(() => {
        store.insertRunner({ id: 'a1', name: 'jp-x-a1', pool: 'x', labels: [] }, 'test');
        throw new Error('boom');
      }),
    );
    assert.equal(store.countRunners(), 0);
    assert.equal(store.listTransitions().length, 0);
  });

  it('notifies transition listeners', () => {
    const store = Store.open(':memory:');
    const seen: string[] = [];
    const off = store.onTransition((t) => seen.push(`${t.entity}:${t.toState}`));
    store.insertRunner({ id: 'a1', name: 'jp-x-a1', pool: 'x', labels: [] }, 'test');
    store.observeJob(job(9, 'queued'), 'x', 'test');
    off();
    store.updateRunner('a1', { state: 'failed' }, 'test');
    assert.deepEqual(seen, ['runner:requested', 'job:queued']);
  });

  it('upgrades a version-1 database with pool overrides and keeps one override per pool', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'jp-store-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'jitpool.sqlite');
    const db = new DatabaseSync(path);
    db.exec(MIGRATIONS[0]!.sql);
    db.exec('PRAGMA user_version = 1');
    db.close();
    const clock = new ManualClock();
    const store = Store.open(path, clock);
    t.after(() => store.close());
    const seen: string[] = [];
    store.onTransition((tr) => seen.push(`${tr.entity}:${tr.entityId}:${tr.toState}`));
    store.setPoolOverride({ pool: 'linux', minIdle: 1, max: 4, target: 2, actor: 'cli' });
    clock.advance(1000);
    const second = store.setPoolOverride({ pool: 'linux', minIdle: 0, max: 8, target: 3, actor: 'api' });
    assert.deepEqual(store.listPoolOverrides(), [second]);
    assert.equal(store.clearPoolOverride('linux', 'cli'), true);
    assert.equal(store.clearPoolOverride('linux', 'cli'), false);
    assert.deepEqual(store.listPoolOverrides(), []);
    assert.deepEqual(seen, ['pool:linux:scaled', 'pool:linux:scaled', 'pool:linux:scale-reset']);
  });

  it('counts runners and jobs per pool and state', () => {
    const store = Store.open(':memory:');
    store.insertRunner({ id: 'a1', name: 'jp-x-a1', pool: 'x', labels: [] }, 'test');
    store.insertRunner({ id: 'a2', name: 'jp-x-a2', pool: 'x', labels: [] }, 'test');
    store.observeJob(job(1, 'queued'), 'x', 'test');
    assert.deepEqual(store.countRunnersByState(), [{ pool: 'x', state: 'requested', count: 2 }]);
    assert.deepEqual(store.countJobsByState(), [{ pool: 'x', state: 'queued', count: 1 }]);
    assert.equal(store.ping(), true);
    store.close();
    assert.equal(store.ping(), false);
  });
});
