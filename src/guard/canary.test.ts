import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OWNER, REPO, startGuardWorld, trustedPr } from './guard-test-helpers.ts';

describe('canary stages over simulated PRs', () => {
  it('holds at the end of each stage until advanced: 1, then 10, then 25, then all', async (t) => {
    const world = await startGuardWorld({ guard: { canary: { enabled: true } } });
    t.after(() => world.close());
    let pr = 0;
    const runPrs = async (count: number) => {
      for (let i = 0; i < count; i += 1) {
        pr += 1;
        await world.recordRun({ context: trustedPr(pr) });
      }
    };
    for (const [stage, budget] of [[0, 1], [1, 10], [2, 25]] as const) {
      await runPrs(budget - 1);
      assert.equal(world.variable(), 'true', `stage ${stage}: routing on while the budget lasts`);
      await runPrs(1);
      const status = world.guard.canary.status(OWNER, REPO);
      assert.deepEqual([status.stage, status.used, status.budget, status.isHolding], [stage, budget, budget, true]);
      assert.equal(world.variable(), 'false', `stage ${stage}: held`);
      const report = await world.guard.check(OWNER, REPO);
      assert.equal(report.action, 'none', 'no auto-advance unless configured');
      assert.equal(world.variable(), 'false');
      const advanced = await world.guard.advanceCanary(OWNER, REPO);
      assert.equal(advanced.stage, stage + 1);
      assert.equal(world.variable(), 'true');
    }
    // The same PR synchronised again is not a new PR.
    await world.recordRun({ context: trustedPr(pr) });
    assert.equal(world.guard.canary.status(OWNER, REPO).used, 0);
    await runPrs(40);
    const steady = world.guard.canary.status(OWNER, REPO);
    assert.deepEqual([steady.stage, steady.stageName, steady.budget, steady.isHolding, steady.used], [3, 'steady', null, false, 40]);
    assert.equal(world.variable(), 'true');
  });

  it('advances by itself at the end of a stage when configured and no trigger fired', async (t) => {
    const world = await startGuardWorld({ guard: { canary: { enabled: true, autoAdvance: true } } });
    t.after(() => world.close());
    await world.recordRun({ context: trustedPr(1) });
    assert.equal(world.variable(), 'false');
    const report = await world.guard.check(OWNER, REPO);
    assert.equal(report.action, 'canary-advance');
    assert.equal(report.canary?.stage, 1);
    assert.equal(world.variable(), 'true');
  });

  it('counts PRs the live hook missed when the guard checks, and holds then', async (t) => {
    const world = await startGuardWorld({ guard: { canary: { enabled: true, stages: [2, 3] } } });
    t.after(() => world.close());
    await world.recordRun({ context: trustedPr(1) });
    assert.equal(world.guard.canary.status(OWNER, REPO).used, 1);
    world.clock.advance(1000);
    // An audit recorded while the daemon's hook was not running (e.g. by another replica).
    world.store.guard.recordRouteAudit({ runId: 424242, owner: OWNER, repo: REPO, jobId: 1, pool: 'linux', event: 'pull_request', actor: 'maintainer', prNumber: 77, trusted: true, rule: 'trusted-pull-request', reason: 'trusted', isMismatch: false });
    assert.equal((await world.guard.check(OWNER, REPO, { dryRun: true })).action, 'would-hold');
    assert.equal(world.variable(), 'true');
    const report = await world.guard.check(OWNER, REPO);
    assert.equal(report.action, 'canary-hold');
    assert.equal(report.canary?.used, 2);
    assert.equal(world.variable(), 'false');
  });
});
