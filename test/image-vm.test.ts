import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../src/core/index.ts';
import { waitFor } from '../src/providers/provider-contract.ts';
import { VmProvider } from '../src/providers/vm-provider.ts';
import { vmLeftovers, vmSkipReason } from '../src/providers/vm-test-helpers.ts';
import { runCli } from './cli-helpers.ts';

const hasBusybox = existsSync('/bin/busybox') || existsSync('/usr/bin/busybox');
const skip = process.getuid?.() !== 0 ? 'jitpool image build needs root' : !hasBusybox ? 'the test image needs busybox (apt-get install busybox-static)' : vmSkipReason();

test('jitpool image build --vm: the VM files come from the image’s own root, are up to date the second time, and a VM boots them into the guest agent', { skip, timeout: 900_000 }, async (t) => {
  const dir = mkdtempSync(join('/var/tmp', 'jitpool-image-vm-'));
  const workRoot = mkdtempSync('/tmp/jp-img-vm-');
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(workRoot, { recursive: true, force: true });
  });
  const out = join(dir, 'image');
  const first = await runCli(['image', 'build', '--test', '--vm', '--out', out, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const built = JSON.parse(first.stdout) as { manifest: { inputDigest: string; rootfsDir: string } };
  for (const name of ['disk.img', 'vmlinux', 'initrd.img']) assert.ok(existsSync(join(out, name)), `${name} made`);
  const vm = JSON.parse(readFileSync(join(out, 'vm.json'), 'utf8')) as { inputDigest: string; rootfsDir: string; kernelVersion: string };
  assert.deepEqual([vm.inputDigest, vm.rootfsDir], [built.manifest.inputDigest, built.manifest.rootfsDir], 'vm.json names the root it was made from');
  assert.ok(!readdirSync(out).some((name) => name.startsWith('.vm-')), 'no scratch left');
  const diskMtime = statSync(join(out, 'disk.img')).mtimeMs;
  const second = await runCli(['image', 'build', '--test', '--vm', '--out', out, '--json']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(statSync(join(out, 'disk.img')).mtimeMs, diskMtime, 'an unchanged image makes no new VM files');

  // A VM from the pipeline's files: the initrd hands over to the image's guest agent, which runs
  // the (fake) runner with a JIT config it cannot use; the runner fails, the agent reports the code
  // and powers the VM off.
  const provider = new VmProvider({ controllerId: 'imgvm', image: out, workRoot, accel: 'tcg', cpus: 1, memoryMb: 384, diskGb: null, killGraceSeconds: 1, logger: silentLogger() });
  try {
    const info = await provider.create({ runnerId: 'a1b2c3', runnerName: 'jp-iv-a1b2c3', pool: 'iv', controllerId: 'imgvm', labels: [], jitConfig: 'bm90LWEtcmVhbC1qaXQtY29uZmln', context: {} });
    const exited = await waitFor(async () => {
      const now = await provider.inspect(info.computeId);
      return now?.state === 'exited' ? now : null;
    }, 'the VM to power off after its runner exited', 600_000);
    const logs = await provider.logs(info.computeId, 80);
    assert.match(logs, /jitpool-agent: runner exited \d+/, logs);
    assert.notEqual(exited.exitCode, null, 'the agent reported the runner’s exit code');
    assert.notEqual(exited.exitCode, 0, 'a runner with an unusable JIT config does not succeed');
    await provider.delete(info.computeId);
    assert.deepEqual(vmLeftovers(workRoot, info.computeId), []);
  } finally {
    await provider.close();
  }
});
