import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootToOnline } from '../api/index.ts';
import { ManualClock } from '../core/index.ts';
import { Store } from './store.ts';

test('boot to online per pool: creation → first idle/busy after provisioning, newest first; runners that never came online are not samples', () => {
  const clock = new ManualClock();
  const store = Store.open(':memory:', clock);
  const launch = (id: string, pool: string, provisionMs: number, onlineMs: number | null, to: 'idle' | 'busy' = 'idle') => {
    store.insertRunner({ id, name: `jp-${pool}-${id}`, pool, labels: [] }, 'test');
    clock.advance(provisionMs);
    store.updateRunner(id, { state: 'provisioning' }, 'test');
    if (onlineMs === null) return store.updateRunner(id, { state: 'failed' }, 'test');
    clock.advance(onlineMs);
    store.updateRunner(id, { state: to }, 'test');
    clock.advance(1000);
  };
  launch('a1', 'vm', 100, 400);
  launch('a2', 'vm', 50, 950, 'busy');
  launch('a3', 'vm', 10, null);
  launch('b1', 'nspawn', 20, 280);
  // A runner going busy after idle is not a second sample.
  store.updateRunner('b1', { state: 'busy' }, 'test');
  assert.deepEqual(store.bootToOnlineMs('vm'), [1000, 500]);
  assert.deepEqual(store.bootToOnlineMs('nspawn'), [300]);
  assert.deepEqual(store.bootToOnlineMs('vm', 1), [1000]);
  assert.deepEqual(store.bootToOnlineMs('none'), []);
  assert.deepEqual(bootToOnline(store.bootToOnlineMs('vm')), { p50Ms: 500, p95Ms: 1000, samples: 2 });
  assert.deepEqual(bootToOnline([]), { p50Ms: null, p95Ms: null, samples: 0 });
});
