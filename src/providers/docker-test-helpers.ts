import type Docker from 'dockerode';
import { silentLogger } from '../core/index.ts';
import { FAKE_RUNNER_IMAGE } from '../sim/index.ts';
import { DOCKER_LABELS, resolveDockerEndpoint } from './docker-engine.ts';
import type { DockerProviderOptions } from './docker-provider.ts';

/** Helpers for the Docker provider's tests (not part of the public surface). */

/** Docker provider settings for tests: the fake runner image, small limits, a test-only subnet pool. */
export function testDockerOptions(controllerId: string, overrides: Partial<DockerProviderOptions> = {}): DockerProviderOptions {
  return {
    controllerId,
    endpoint: resolveDockerEndpoint({}, process.env),
    image: FAKE_RUNNER_IMAGE,
    pullPolicy: 'never',
    env: { JITPOOL_TEST_POOL: '{pool}' },
    cpus: 1,
    memoryMb: 256,
    pidsLimit: 256,
    user: '1001:1001',
    cacheVolumes: [],
    mounts: [],
    dockerInDocker: false,
    network: { subnetPool: '10.214.0.0/16', prefixLength: 28 },
    killGraceSeconds: 3,
    apiTimeoutSeconds: 60,
    logger: silentLogger(),
    ...overrides,
  };
}

/** Containers and networks named `name` still on the engine (after a delete: none). */
export async function dockerLeftovers(docker: Docker, name: string): Promise<string[]> {
  const left: string[] = [];
  const containers = await docker.listContainers({ all: true, filters: JSON.stringify({ name: [`^/${name}$`] }) });
  for (const container of containers) left.push(`container ${container.Names.join(',')} (${container.State})`);
  const networks = await docker.listNetworks({ filters: JSON.stringify({ name: [name] }) });
  for (const network of networks) if (network.Name === name) left.push(`network ${network.Name}`);
  return left;
}

/** Every container and network labelled with `controllerId` (a test's end state must have none). */
export async function controllerResources(docker: Docker, controllerId: string): Promise<{ containers: string[]; networks: string[] }> {
  const filters = JSON.stringify({ label: [`${DOCKER_LABELS.controller}=${controllerId}`] });
  const containers = await docker.listContainers({ all: true, filters });
  const networks = await docker.listNetworks({ filters });
  return { containers: containers.map((c) => (c.Names[0] ?? '').replace(/^\//, '')), networks: networks.map((n) => n.Name) };
}

/** Removes everything labelled with `controllerId` (test teardown, whatever the test left). */
export async function removeControllerResources(docker: Docker, controllerId: string): Promise<void> {
  const { containers, networks } = await controllerResources(docker, controllerId);
  for (const name of containers) await docker.getContainer(name).remove({ force: true, v: true }).catch(() => {});
  for (const name of networks) await docker.getNetwork(name).remove().catch(() => {});
}
