import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDemo } from '../src/cli/demo.ts';
import { qemuProcesses, vmSkipReason } from '../src/providers/vm-test-helpers.ts';

// Real QEMU VMs under software emulation; skipped only when QEMU or the image tools are missing.
const skip = vmSkipReason();

test('jitpool demo --provider vm: 6 jobs all complete in VMs, no VM left', { skip, timeout: 900_000 }, async () => {
  const report = await runDemo({ jobs: 6, seed: 7, provider: 'vm', vmAccel: 'tcg', timeoutMs: 600_000, logLevel: 'error' });
  assert.equal(report.provider, 'vm');
  assert.deepEqual(report.jobs, { submitted: 6, completed: 6, lost: 0, succeeded: 6, failed: 0 });
  assert.equal(report.runners.busyKilled, 0);
  assert.equal(report.runners.leaked, 0);
  assert.ok(report.runners.launched >= 1);
  assert.deepEqual(qemuProcesses('/jitpool-demo-'), [], 'no QEMU of the demo is left');
});
