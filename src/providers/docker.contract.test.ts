import { ensureFakeRunnerImage, probeDocker } from '../sim/index.ts';
import { DockerProvider } from './docker-provider.ts';
import { dockerLeftovers, testDockerOptions } from './docker-test-helpers.ts';
import { defineProviderContract } from './provider-contract.ts';

// Runs against a real Docker engine (CI starts dockerd); skipped only when none is reachable.
const probe = await probeDocker();
if (probe.isReachable) await ensureFakeRunnerImage();
else console.log(`# skipping the Docker provider contract: ${probe.reason}`);

defineProviderContract('docker', {
  skip: probe.isReachable ? false : probe.reason,
  simHost: probe.isReachable ? probe.bridgeGateway : '127.0.0.1',
  make: (controllerId) => new DockerProvider(testDockerOptions(controllerId)),
  capturesOutput: true,
  async argvOf(computeId) {
    if (!probe.isReachable) return null;
    const details = await probe.docker.getContainer(computeId).inspect();
    return [details.Path, ...details.Args, ...(details.Config.Cmd ?? []), ...((details.Config.Entrypoint as string[] | null) ?? [])];
  },
  leftovers: (computeId) => (probe.isReachable ? dockerLeftovers(probe.docker, computeId) : Promise.resolve([])),
});
