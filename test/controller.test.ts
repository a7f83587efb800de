import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JitpoolError } from '../src/core/index.ts';
import { startHarness, until } from './helpers/harness.ts';

const LABELS = ['self-hosted', 'linux'];

describe('controller against the simulator', { timeout: 120_000 }, () => {
  it('launches for demand, lets a runner take whatever job GitHub gives it, and leaves nothing behind', async (t) => {
    const h = await startHarness();
    t.after(() => h.close());
    for (let i = 0; i < 6; i += 1) h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 200 });
    await until(() => h.sim.jobs().every((job) => job.status === 'completed'), 'all jobs completed');
    await until(() => h.runtime.store.listLiveRunners().length === 0, 'runners removed');
    assert.equal(h.sim.runners().length, 0, 'no registration left');
    assert.equal((await h.provider.list()).length, 0, 'no compute left');
    assert.ok(h.runtime.store.countRunners() >= 6);
  });

  it('scales an idle runner down by deregistering first, then destroying its compute', async (t) => {
    const h = await startHarness({ pool: { minIdle: 1 } });
    t.after(() => h.close());
    await until(() => h.runtime.store.listLiveRunners().some((r) => r.state === 'idle'), 'a warm idle runner');
    const [runner] = h.runtime.store.listLiveRunners();
    let deregisteredAtMs = 0;
    h.sim.on('runner', (r, change) => {
      if (r.name === runner!.name && change === 'deleted') deregisteredAtMs = Date.now();
    });
    await h.runtime.controller.drain(10_000);
    const deletion = h.deletions.find((d) => d.computeId === runner!.computeId);
    assert.ok(deregisteredAtMs > 0 && deletion, 'both happened');
    assert.ok(deregisteredAtMs <= deletion.atMs, 'registration deleted before compute');
    assert.equal(h.runtime.store.getRunner(runner!.id).state, 'removed');
  });

  it('never kills a runner that took a job while it was being scaled down: GitHub refuses, the runner is busy', async (t) => {
    const h = await startHarness({ pool: { minIdle: 1 }, webhooks: false, config: { poll: { enabled: false } } });
    t.after(() => h.close());
    await until(() => h.runtime.store.listLiveRunners().some((r) => r.state === 'idle'), 'a warm idle runner');
    const [runner] = h.runtime.store.listLiveRunners();
    // GitHub assigns a job; no webhook tells the controller, which still thinks the runner idle.
    const job = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 1500 });
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 'job started');
    const drained = h.runtime.controller.drain(20_000);
    await until(() => h.runtime.store.getRunner(runner!.id).state === 'busy', 'runner marked busy after the 422');
    assert.ok(!h.deletions.some((d) => d.computeId === runner!.computeId), 'its compute was not touched');
    await until(() => h.sim.jobs().find((j) => j.id === job.id)?.status === 'completed', 'job completed on the runner');
    assert.equal(h.sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success');
    assert.equal(await drained, 0);
  });

  it('replaces a runner that never comes online (boot timeout)', async (t) => {
    const h = await startHarness({ runFakeRunners: false, pool: { bootTimeoutSeconds: 1, max: 1 } });
    t.after(() => h.close());
    h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 200 });
    await until(() => h.runtime.store.listRunners({ states: ['removed'] }).length >= 1, 'first runner timed out and removed');
    const [first] = h.runtime.store.listRunners({ states: ['removed'] });
    assert.match(first!.lastError ?? '', /boot timeout/);
    await until(() => h.runtime.store.countRunners() >= 2, 'a replacement launched');
    assert.ok(!h.sim.runners().some((r) => r.name === first!.name), 'its registration was deleted');
  });

  it('marks a pool degraded when its provider keeps failing and backs off instead of looping hot', async (t) => {
    const h = await startHarness({ pool: { max: 4 } });
    t.after(() => h.close());
    let attempts = 0;
    const create = h.provider.create.bind(h.provider);
    h.provider.create = async (spec) => {
      attempts += 1;
      if (attempts > 0) throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', 'image jitpool/missing:1 not found');
      return create(spec);
    };
    h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 200 });
    await until(() => (h.runtime.controller.health.linux?.consecutiveFailures ?? 0) >= 3, 'three failures', 30_000);
    const attemptsAtDegraded = attempts;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // Backoff doubles (1 s, 2 s, 4 s …): a hot loop would make hundreds of attempts here.
    assert.ok(attempts - attemptsAtDegraded <= 3, `attempts in 2 s after degrading: ${attempts - attemptsAtDegraded}`);
    assert.ok(h.runtime.store.listTransitions().some((tr) => tr.entity === 'pool' && tr.toState === 'degraded'));
    const failed = h.runtime.store.listRunners({ states: ['removed'] });
    assert.ok(failed.every((r) => r.lastError?.includes('JP_PROVIDER_IMAGE_MISSING')));
    assert.equal(h.sim.runners().length, 0, 'no registration leaked');
  });

  it('stops a busy runner at the job timeout, and only then', async (t) => {
    const h = await startHarness({ pool: { jobTimeoutSeconds: 2, max: 1 } });
    t.after(() => h.close());
    const job = h.sim.queueJob({ owner: 'acme', repo: 'app', labels: LABELS, durationMs: 60_000 });
    await until(() => h.runtime.store.listLiveRunners().some((r) => r.state === 'busy'), 'runner busy');
    const [runner] = h.runtime.store.listLiveRunners();
    await until(() => h.runtime.store.getRunner(runner!.id).state === 'removed', 'runner stopped after the job timeout', 30_000);
    assert.match(h.runtime.store.getRunner(runner!.id).lastError ?? '', /job timeout/);
    const states = h.runtime.store.listTransitions({ entityId: runner!.id }).map((tr) => `${tr.fromState}>${tr.toState}`);
    assert.ok(states.includes('busy>stopping') && states.includes('stopping>failed'), states.join(' '));
    void job;
  });
});
