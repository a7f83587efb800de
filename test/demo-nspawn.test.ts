import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { runDemo } from '../src/cli/demo.ts';
import { nspawnSkipReason } from '../src/providers/nspawn-test-helpers.ts';

// Real systemd-nspawn machines on private networks; skipped without root or systemd-nspawn.
const skip = nspawnSkipReason();

test('jitpool demo --provider nspawn: 40 jobs all complete, no machine left', { skip, timeout: 400_000 }, async () => {
  const report = await runDemo({ jobs: 40, seed: 5, provider: 'nspawn', timeoutMs: 180_000 });
  assert.equal(report.provider, 'nspawn');
  assert.deepEqual(report.jobs, { submitted: 40, completed: 40, lost: 0, succeeded: 40, failed: 0 });
  assert.equal(report.runners.busyKilled, 0);
  assert.equal(report.runners.leaked, 0);
  // Runner names carry the pool, the comments of firewall rules and cgroup names the runner name: none of this demo's is left.
  const prefixes = ['jp-linux-', 'jp-gpu-', 'jp-arm-'];
  const cgroups = existsSync('/sys/fs/cgroup/pids/jitpool') ? readdirSync('/sys/fs/cgroup/pids/jitpool') : existsSync('/sys/fs/cgroup/jitpool') ? readdirSync('/sys/fs/cgroup/jitpool') : [];
  assert.deepEqual(cgroups.filter((name) => prefixes.some((p) => name.startsWith(p))), []);
});
