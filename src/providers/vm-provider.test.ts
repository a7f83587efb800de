import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { JitpoolError, silentLogger } from '../core/index.ts';
import { waitFor } from './provider-contract.ts';
import { VmProvider, agentExitCode, type VmProviderOptions } from './vm-provider.ts';
import { qemuArguments, USER_NETWORK } from './vm-qemu.ts';
import { vmLeftovers, vmSkipReason } from './vm-test-helpers.ts';
import { PROBE_INIT, ensureVmTestImage } from './vm-test-image.ts';

const skip = vmSkipReason();

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

test('the QEMU command line names files, never the JIT config, and carries the runner name as the process title', () => {
  const argv = qemuArguments({
    runnerName: 'jp-a-1', accel: 'tcg', cpus: 2, memoryMb: 1024, kernel: '/i/vmlinux', initrd: '/i/initrd.img', overlay: '/w,x/overlay.qcow2', qmpSocket: '/w/qmp.sock',
    consoleLog: '/w/console.log', pidFile: '/w/qemu.pid', jitConfigFile: '/w/jitconfig', init: '/usr/local/bin/jitpool-agent', network: USER_NETWORK, growRoot: false,
  });
  assert.ok(argv.includes('guest=jp-a-1,process=jp-a-1'));
  assert.ok(argv.includes('name=opt/jitpool/jitconfig,file=/w/jitconfig'), 'fw_cfg reads the 0600 file');
  assert.ok(argv.some((arg) => arg.startsWith('file=/w,,x/overlay.qcow2,')), 'commas in paths are escaped for QEMU');
  assert.deepEqual(argv.slice(argv.indexOf('-smp'), argv.indexOf('-smp') + 4), ['-smp', '2', '-m', '1024']);
});

test('the exit code is the last one the guest agent printed; none printed is unknown', () => {
  assert.equal(agentExitCode('boot\njitpool-agent: runner exited 0\n'), 0);
  assert.equal(agentExitCode('jitpool-agent: runner exited 3\njitpool-agent: runner exited 137\n'), 137);
  assert.equal(agentExitCode('jitpool-init: could not mount /dev/vda\n'), null);
});

describe('vm provider on QEMU', { skip, timeout: 600_000 }, () => {
  const workRoot = mkdtempSync('/tmp/jp-vm-pt-');
  after(() => rmSync(workRoot, { recursive: true, force: true }));
  const options = async (overrides: Partial<VmProviderOptions> = {}): Promise<VmProviderOptions> => ({
    controllerId: 'vmpt', image: (await ensureVmTestImage()).dir, workRoot, accel: 'tcg', cpus: 2, memoryMb: 384, diskGb: 3, killGraceSeconds: 1, logger: silentLogger(), ...overrides,
  });
  const spec = (name: string) => ({ runnerId: name.slice(-6), runnerName: name, pool: 'pt', controllerId: 'vmpt', labels: [], jitConfig: 'c2VjcmV0LWppdC1jb25maWctZm9yLXRoZS1wcm9iZQ==', context: {} });

  test('the guest gets the pool’s vCPUs, memory and disk, its JIT config as a 0600 file (fw_cfg gone), and the base disk is never written', async () => {
    const image = await ensureVmTestImage();
    const baseBefore = await sha256(image.disk);
    const provider = new VmProvider(await options({ init: PROBE_INIT }));
    try {
      const info = await provider.create(spec('jp-pt-probe01'));
      const dir = join(workRoot, info.computeId);
      assert.equal(statSync(dir).mode & 0o777, 0o700, 'the VM directory is the controller’s alone');
      assert.equal(existsSync(join(dir, 'jitconfig')), false, 'the JIT config file is gone once QEMU has read it');
      const exited = await waitFor(async () => {
        const now = await provider.inspect(info.computeId);
        return now?.state === 'exited' ? now : null;
      }, 'the probe to power off', 300_000);
      assert.equal(exited.exitCode, null, 'no agent ran: the exit code is unknown');
      const logs = await provider.logs(info.computeId, 50);
      const value = (key: string) => new RegExp(`[ :]${key}=(\\S+)`).exec(logs)?.[1];
      assert.equal(value('nproc'), '2', logs);
      const memKb = Number(value('memkb'));
      assert.ok(memKb > 300 * 1024 && memKb <= 384 * 1024, `memory ${memKb} kB`);
      const rootKb = Number(value('rootkb'));
      assert.ok(rootKb > 2.5 * 1024 * 1024, `the root filesystem grew to the 3 GiB disk (${rootKb} kB; the base is ${Math.round(image.diskBytes / 1024)} kB)`);
      assert.equal(value('hostname'), 'jp-pt-probe01');
      assert.equal(value('jitconfig-mode'), '600');
      assert.equal(value('bytes'), String('c2VjcmV0LWppdC1jb25maWctZm9yLXRoZS1wcm9iZQ=='.length));
      assert.equal(value('fw_cfg'), 'gone');
      assert.equal(value('route'), '10.0.2.2');
      assert.ok(!logs.includes('c2VjcmV0LWppdC1jb25maWc'), 'the JIT config is not on the console');
      await provider.delete(info.computeId);
      assert.deepEqual(vmLeftovers(workRoot, info.computeId), []);
    } finally {
      await provider.close();
    }
    assert.equal(await sha256(image.disk), baseBefore, 'the base disk is unchanged');
  });

  test('a missing image fails create with JP_PROVIDER_IMAGE_MISSING and leaves nothing', async () => {
    const provider = new VmProvider(await options({ image: join(workRoot, 'no-image') }));
    await assert.rejects(provider.create(spec('jp-pt-noimage')), (err: unknown) => err instanceof JitpoolError && err.code === 'JP_PROVIDER_IMAGE_MISSING');
    await assert.rejects(provider.preflight(), (err: unknown) => err instanceof JitpoolError && err.code === 'JP_PROVIDER_IMAGE_MISSING');
    assert.deepEqual(vmLeftovers(workRoot, 'jp-pt-noimage'), []);
    await provider.close();
  });
});
