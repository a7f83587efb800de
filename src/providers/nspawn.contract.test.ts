import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NspawnProvider } from './nspawn-provider.ts';
import { ensureNspawnTestImage, hostAddressForMachines, machineArgv, nspawnLeftovers, nspawnSkipReason, testNspawnOptions, TEST_IMAGE_DIR } from './nspawn-test-helpers.ts';
import { defineProviderContract } from './provider-contract.ts';

// Real systemd-nspawn machines booted from the test image (the fake runner on this project's Node
// binary), with the host's network and with a private one (namespace, veth, subnet, NAT).
const skip = nspawnSkipReason();
if (skip) console.log(`# skipping the nspawn provider contract: ${skip}`);
else await ensureNspawnTestImage();

for (const network of ['host', 'private'] as const) {
  const workRoot = mkdtempSync(join('/var/tmp', 'jitpool-nspawn-contract-'));
  defineProviderContract(`nspawn (network: ${network})`, {
    skip,
    // Loopback is the machine's own under a private network: the simulator listens on an address of the host's.
    simHost: network === 'private' && !skip ? hostAddressForMachines() : '127.0.0.1',
    make: (controllerId) => new NspawnProvider(testNspawnOptions(controllerId, workRoot, TEST_IMAGE_DIR, network)),
    capturesOutput: true,
    async argvOf(computeId) {
      return machineArgv(computeId);
    },
    leftovers: (computeId) => nspawnLeftovers(workRoot, computeId),
    async teardown() {
      rmSync(workRoot, { recursive: true, force: true });
    },
  });
}
