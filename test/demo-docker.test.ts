import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDemo } from '../src/cli/demo.ts';
import { controllerResources } from '../src/providers/docker-test-helpers.ts';
import { probeDocker } from '../src/sim/index.ts';

// A real Docker engine (CI starts dockerd); skipped only when none is reachable.
const probe = await probeDocker();
const skip = probe.isReachable ? false : probe.reason;

test('jitpool demo --provider docker: 50 jobs all complete, no container or network left', { skip, timeout: 300_000 }, async () => {
  if (!probe.isReachable) return;
  const report = await runDemo({ jobs: 50, seed: 7, provider: 'docker', timeoutMs: 150_000 });
  assert.equal(report.provider, 'docker');
  assert.deepEqual(report.jobs, { submitted: 50, completed: 50, lost: 0, succeeded: 50, failed: 0 });
  assert.equal(report.runners.busyKilled, 0);
  assert.equal(report.runners.leaked, 0);
  assert.ok(report.runners.launched >= 1);
  assert.deepEqual(await controllerResources(probe.docker, report.controllerId), { containers: [], networks: [] });
});
