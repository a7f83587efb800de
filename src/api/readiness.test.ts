import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/index.ts';
import { MemoryProvider } from '../providers/index.ts';
import { Store } from '../store/index.ts';
import { Readiness } from './readiness.ts';

describe('Readiness', () => {
  it('a provider that cannot list its compute makes jitpool not ready, with the reason for /status', async () => {
    const clock = new ManualClock();
    const store = Store.open(':memory:', clock);
    const docker = new MemoryProvider('t');
    const readiness = new Readiness({ store, providers: new Map([['a', docker], ['b', docker], ['c', new MemoryProvider('t')]]), isWebhookEnabled: true, clock, cacheMs: 1000 });
    assert.equal((await readiness.check()).ready, true);
    docker.list = async () => {
      throw new Error('connect ENOENT /run/docker.sock');
    };
    assert.equal((await readiness.check()).ready, true, 'cached for cacheMs');
    clock.advance(1001);
    const report = await readiness.check();
    assert.equal(report.ready, false);
    assert.deepEqual(report.providers.failing.map((f) => f.pools), [['a', 'b']]);
    assert.match(report.providers.failing[0]!.error, /ENOENT/);
  });

  it('a provider that hangs counts as failing after its timeout', async () => {
    const clock = new ManualClock();
    const provider = new MemoryProvider('t');
    provider.list = () => new Promise(() => {});
    const readiness = new Readiness({ store: Store.open(':memory:', clock), providers: new Map([['a', provider]]), isWebhookEnabled: false, clock, providerTimeoutMs: 50 });
    const report = await readiness.check();
    assert.equal(report.ready, false);
    assert.match(report.providers.failing[0]!.error, /did not answer/);
  });

  it('a closed store is not ready, and the webhook intake with it', async () => {
    const clock = new ManualClock();
    const store = Store.open(':memory:', clock);
    const readiness = new Readiness({ store, providers: new Map(), isWebhookEnabled: true, clock });
    store.close();
    const report = await readiness.check();
    assert.equal(report.ready, false);
    assert.equal(report.store.ok, false);
    assert.equal(report.webhook.ok, false);
  });
});
