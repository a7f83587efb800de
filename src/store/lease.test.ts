import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, currentProcess, readStartTicks, silentLogger } from '../core/index.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import type { LeaseClaim } from './lease.ts';
import { Store } from './store.ts';

function tempStore(t: { after: (fn: () => void) => void }, clock = new ManualClock()): { path: string; clock: ManualClock; open: () => Store } {
  const dir = mkdtempSync(join(tmpdir(), 'jp-lease-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'jitpool.sqlite');
  return { path, clock, open: () => Store.open(path, clock) };
}

/** A claim as another process would make it: `pid` from a process that has exited, or this one on another host. */
function otherClaim(extra: Partial<LeaseClaim> = {}): LeaseClaim {
  const exited = spawnSync(process.execPath, ['-e', '0']).pid!;
  return { holder: 'jitpool up', pid: exited, host: currentProcess().host, startTicks: 'gone', adminUrl: null, ttlMs: 15_000, ...extra };
}

describe('store lease (one writer)', () => {
  it('a live holder keeps it; another process is refused with JP_LEASE_HELD naming the holder', async (t) => {
    const { open, clock } = tempStore(t);
    const store = open();
    t.after(() => store.close());
    // Another live process on this host holds the lease.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    t.after(() => other.kill('SIGKILL'));
    await new Promise((resolve) => other.once('spawn', resolve));
    const held = store.lease.acquire({ ...otherClaim(), pid: other.pid!, startTicks: readStartTicks(other.pid!) }, { takeOverStale: false });
    assert.ok(held.ok);
    assert.throws(() => LeaseKeeper.acquire({ store, holder: 'jitpool recover', takeOverStale: true, logger: silentLogger(), clock }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JP_LEASE_HELD');
      assert.match(err.message, new RegExp(`jitpool up \\(pid ${other.pid} on `));
      return true;
    });
    assert.equal(store.lease.current()?.pid, other.pid, 'even --force never takes a live lease');
    clock.advance(60_000);
    const quiet = store.lease.acquire({ ...currentProcess(), holder: 'jitpool up', adminUrl: null, ttlMs: 15_000 }, { takeOverStale: true });
    assert.deepEqual(quiet.ok ? 'taken' : quiet.liveness, 'live', 'on this host a running holder stays the writer even when its heartbeats stalled');
  });

  it('a holder on this host whose process is gone is taken over at once, with a new epoch', (t) => {
    const { open, clock } = tempStore(t);
    const store = open();
    t.after(() => store.close());
    const first = store.lease.acquire(otherClaim(), { takeOverStale: false });
    assert.ok(first.ok);
    const keeper = LeaseKeeper.acquire({ store, holder: 'jitpool up', takeOverStale: false, logger: silentLogger(), clock });
    assert.equal(keeper.lease.epoch, first.lease.epoch + 1);
    assert.equal(keeper.lease.pid, process.pid);
    keeper.release();
    assert.equal(store.lease.current(), null);
  });

  it('a holder on another host is live until its heartbeat is older than the TTL, then taken over only with --force', (t) => {
    const { open, clock } = tempStore(t);
    const store = open();
    t.after(() => store.close());
    assert.ok(store.lease.acquire(otherClaim({ host: 'elsewhere', pid: 1, startTicks: null }), { takeOverStale: false }).ok);
    const claim = { ...currentProcess(), holder: 'jitpool recover', adminUrl: null, ttlMs: 15_000 };
    const live = store.lease.acquire(claim, { takeOverStale: true });
    assert.deepEqual(live.ok ? 'taken' : live.liveness, 'live');
    clock.advance(16_000);
    const stale = store.lease.acquire(claim, { takeOverStale: false });
    assert.deepEqual(stale.ok ? 'taken' : stale.liveness, 'stale');
    const forced = store.lease.acquire(claim, { takeOverStale: true });
    assert.ok(forced.ok && forced.tookOver?.host === 'elsewhere');
  });

  it('fencing: once the lease is taken over, the old holder can no longer change runners', (t) => {
    const { open, clock } = tempStore(t);
    const old = open();
    const usurper = open();
    t.after(() => { old.close(); usurper.close(); });
    const keeper = LeaseKeeper.acquire({ store: old, holder: 'jitpool up', takeOverStale: false, logger: silentLogger(), clock });
    old.insertRunner({ id: 'a1', name: 'jp-x-a1', pool: 'x', labels: [] }, 'controller');
    // Another host takes over after the old holder's heartbeat went quiet (a paused VM, say).
    clock.advance(20_000);
    const taken = usurper.lease.acquire({ holder: 'jitpool up', pid: 7, host: 'elsewhere', startTicks: null, adminUrl: null, ttlMs: 15_000 }, { takeOverStale: true });
    assert.ok(taken.ok);
    assert.throws(() => old.updateRunner('a1', { state: 'provisioning' }, 'controller'), { code: 'JP_LEASE_LOST' });
    assert.throws(() => old.insertRunner({ id: 'a2', name: 'jp-x-a2', pool: 'x', labels: [] }, 'controller'), { code: 'JP_LEASE_LOST' });
    assert.equal(usurper.getRunner('a1').state, 'requested', 'nothing was written');
    // A process that never took the lease may not write while a live holder has it either.
    const bystander = open();
    t.after(() => bystander.close());
    assert.throws(() => bystander.updateRunner('a1', { state: 'provisioning' }, 'cli'), { code: 'JP_LEASE_HELD' });
    keeper.release();
  });
});
