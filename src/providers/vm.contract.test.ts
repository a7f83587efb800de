import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { defineProviderContract } from './provider-contract.ts';
import { VmProvider } from './vm-provider.ts';
import { vmLeftovers, vmSkipReason } from './vm-test-helpers.ts';
import { ensureVmTestImage } from './vm-test-image.ts';

// Real QEMU VMs (software emulation here: accel tcg), booting the stand-in test image. The
// simulator listens on loopback; a guest reaches the host's loopback at 10.0.2.2 (user-mode NAT).
const skip = vmSkipReason();
const image = skip ? null : await ensureVmTestImage();
if (skip) console.log(`# skipping the vm provider contract: ${skip}`);
const workRoot = mkdtempSync('/tmp/jp-vm-ct-');

defineProviderContract('vm (qemu, tcg)', {
  skip,
  simAdvertiseHost: '10.0.2.2',
  make: (controllerId) =>
    new VmProvider({ controllerId, image: image?.dir ?? '/nonexistent', workRoot, accel: 'tcg', cpus: 1, memoryMb: 512, diskGb: null, killGraceSeconds: 2, logger: silentLogger() }),
  capturesOutput: true,
  async argvOf(computeId) {
    const pid = Number(readFileSync(join(workRoot, computeId, 'qemu.pid'), 'utf8').trim());
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
  },
  leftovers: async (computeId) => vmLeftovers(workRoot, computeId),
  async teardown() {
    if (existsSync(workRoot)) rmSync(workRoot, { recursive: true, force: true });
  },
});
