import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, type PoolRuntime } from '../controller/index.ts';
import { MemoryProvider } from '../providers/index.ts';
import { DEFAULT_ROUTING_POLICY } from '../routing/index.ts';
import { silentLogger } from '../core/index.ts';
import { Guard } from './guard.ts';
import { CONTROLLER_ID, OWNER, POOL, REPO, guardConfig, startGuardWorld } from './guard-test-helpers.ts';
import { recover, type RecoverStep } from './recover.ts';

const VARIABLE = DEFAULT_ROUTING_POLICY.variableName;

/** A world with a ghost registration (ours, unknown to the store) and a runner stuck booting. */
async function brokenWorld(t: { after: (fn: () => Promise<void> | void) => void }) {
  const world = await startGuardWorld();
  t.after(() => world.close());
  const provider = new MemoryProvider(CONTROLLER_ID);
  const pool: PoolRuntime = { ...POOL, runnerGroupId: 1, minIdle: 0, max: 2, bootTimeoutMs: 120_000, jobTimeoutMs: 3_600_000, idleGraceMs: 0, provider };
  const controller = new Controller({ controllerId: CONTROLLER_ID, store: world.store, github: world.github, pools: [pool], logger: silentLogger(), clock: world.clock });
  t.after(() => controller.stop(10_000));
  const labels = [...POOL.labels, `jitpool-${CONTROLLER_ID}`];
  await world.github.generateJitConfig(POOL.scope, { name: 'jp-linux-ghost01', runnerGroupId: 1, labels, workFolder: '_work' });
  const stuck = await world.github.generateJitConfig(POOL.scope, { name: 'jp-linux-stuck01', runnerGroupId: 1, labels, workFolder: '_work' });
  world.store.insertRunner({ id: 'stuck01', name: 'jp-linux-stuck01', pool: POOL.name, labels }, 'controller');
  world.store.updateRunner('stuck01', { state: 'provisioning', githubRunnerId: stuck.runnerId }, 'controller');
  world.clock.advance(10 * 60_000);
  const guard = new Guard({ store: world.store, github: world.github, config: guardConfig(), policy: DEFAULT_ROUTING_POLICY, pools: [pool], controllerId: CONTROLLER_ID, logger: silentLogger(), clock: world.clock });
  const deps = { guard, controller, store: world.store, github: world.github, pools: [pool], controllerId: CONTROLLER_ID, variableName: VARIABLE, clock: world.clock };
  return { world, deps };
}

describe('jitpool recover', () => {
  it('dry run: prints every step, changes nothing, reports not healthy', async (t) => {
    const { world, deps } = await brokenWorld(t);
    const printed: RecoverStep[] = [];
    const result = await recover(deps, OWNER, REPO, { dryRun: true, print: (step) => printed.push(step) });
    assert.deepEqual(printed.map((s) => s.step), ['routing-off', 'reconcile', 'repair', 'health', 'routing-on']);
    assert.equal(result.isHealthy, false);
    assert.match(printed[2]!.detail, /would remove 1 ghost registration\(s\), tear down 1 stuck/);
    assert.equal(printed[4]!.ok, false);
    assert.equal(world.variable(), 'true');
    assert.equal(world.sim.variableHistory(OWNER, REPO, VARIABLE).length, 1);
    assert.equal(world.sim.runners().length, 2, 'nothing removed');
    assert.equal(world.store.getRunner('stuck01').state, 'provisioning');
  });

  it('apply: routing off first, ghosts and stuck runners removed, healthy, routing back on', async (t) => {
    const { world, deps } = await brokenWorld(t);
    const printed: RecoverStep[] = [];
    const result = await recover(deps, OWNER, REPO, { print: (step) => printed.push(step) });
    assert.equal(result.isHealthy, true, JSON.stringify(result.problems));
    assert.ok(printed.every((s) => s.ok), JSON.stringify(printed));
    assert.deepEqual(world.sim.variableHistory(OWNER, REPO, VARIABLE).map((h) => h.value), ['true', 'false', 'true']);
    assert.equal(world.sim.runners().length, 0, 'ghost and stuck registrations are gone');
    assert.equal(world.store.getRunner('stuck01').state, 'removed');
    assert.ok(world.store.guard.markedAt(`recovered:${OWNER}/${REPO}`) !== null);
  });

  it('apply: leaves routing off when still unhealthy', async (t) => {
    const { world, deps } = await brokenWorld(t);
    // GitHub's runner list is unreachable: the reconcile cannot repair and health cannot be confirmed.
    const failing = { ...deps, github: { ...deps.github, listRunners: async () => { throw new Error('GitHub unavailable'); } } };
    const result = await recover(failing, OWNER, REPO, {});
    assert.equal(result.isHealthy, false);
    assert.equal(world.variable(), 'false');
    assert.equal(result.steps.at(-1)?.ok, false);
  });
});
