import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { shortId } from '../core/index.ts';
import { ensureFakeRunnerImage, probeDocker } from '../sim/index.ts';
import { DOCKER_LABELS } from './docker-engine.ts';
import { DockerProvider } from './docker-provider.ts';
import { controllerResources, removeControllerResources, testDockerOptions } from './docker-test-helpers.ts';
import { subnetsOverlap } from './docker-network.ts';
import type { ComputeSpec } from './types.ts';

// A real Docker engine (CI starts dockerd); skipped only when none is reachable.
const probe = await probeDocker();
const skip = probe.isReachable ? false : probe.reason;
if (probe.isReachable) await ensureFakeRunnerImage();

function specFor(controllerId: string, pool = 'limits'): ComputeSpec {
  const id = shortId();
  const name = `jp-${pool}-${id}`;
  return {
    runnerId: id,
    runnerName: name,
    pool,
    controllerId,
    labels: ['self-hosted'],
    // Not a valid JIT config: the fake runner exits 1 at once, which is all these tests need.
    jitConfig: 'bm90LWEtaml0LWNvbmZpZw==',
    context: { runner_name: name, pool, scope: 'acme', repo_owner: 'acme', repo_name: 'app', timestamp: '1767225600', hostname: 'ci-host', controller_id: controllerId },
  };
}

test('limits, user, labels, env and mounts are what `docker inspect` shows; the runner has its own subnet', { skip }, async (t) => {
  if (!probe.isReachable) return;
  const docker = probe.docker;
  const controllerId = `lim-${shortId(3)}`;
  const bindDir = mkdtempSync(join(tmpdir(), 'jitpool-bind-'));
  const volume = `jitpool-test-cache-${shortId(3)}`;
  const provider = new DockerProvider(
    testDockerOptions(controllerId, {
      cpus: 1.5,
      memoryMb: 300,
      pidsLimit: 123,
      command: ['/usr/local/bin/node', '/app/src/sim/fake-runner.ts', 'run'],
      env: { RUNNER_LABEL_HINT: '{pool}-{repo_owner}-{repo_name}', ORCHESTRATOR: '{controller_id}@{hostname}' },
      cacheVolumes: [{ name: volume, target: '/home/runner/.cache/pnpm', readOnly: false }],
      mounts: [{ source: bindDir, target: '/opt/toolcache', readOnly: true }],
    }),
  );
  t.after(async () => {
    await provider.close();
    await removeControllerResources(docker, controllerId);
    await docker.getVolume(volume).remove().catch(() => {});
    rmSync(bindDir, { recursive: true, force: true });
  });
  const spec = specFor(controllerId);
  const info = await provider.create(spec);
  const container = await docker.getContainer(info.computeId).inspect();

  assert.equal(container.Name, `/${spec.runnerName}`);
  assert.equal(container.HostConfig.CpuPeriod, 100_000);
  assert.equal(container.HostConfig.CpuQuota, 150_000);
  assert.equal(container.HostConfig.Memory, 300 * 1024 * 1024);
  assert.equal(container.HostConfig.MemorySwap, container.HostConfig.Memory, 'swap disabled: MemorySwap == Memory');
  assert.equal(container.HostConfig.PidsLimit, 123);
  assert.equal(container.HostConfig.Privileged, false);
  assert.deepEqual(container.HostConfig.SecurityOpt, ['no-new-privileges:true']);
  assert.equal(container.Config.User, '1001:1001');
  assert.deepEqual(container.Config.Cmd, ['/usr/local/bin/node', '/app/src/sim/fake-runner.ts', 'run']);
  assert.deepEqual(
    [DOCKER_LABELS.controller, DOCKER_LABELS.pool, DOCKER_LABELS.runnerId, DOCKER_LABELS.runnerName].map((label) => container.Config.Labels[label]),
    [controllerId, 'limits', spec.runnerId, spec.runnerName],
  );
  const env = container.Config.Env;
  assert.ok(env.includes('RUNNER_LABEL_HINT=limits-acme-app'), 'placeholders are filled');
  assert.ok(env.includes(`ORCHESTRATOR=${controllerId}@ci-host`));
  assert.ok(env.includes(`ACTIONS_RUNNER_INPUT_JITCONFIG=${spec.jitConfig}`), 'the JIT config goes through the environment');
  const mounts = container.Mounts.map((m) => `${m.Type}:${m.Type === 'volume' ? m.Name : m.Source}:${m.Destination}:${m.RW ? 'rw' : 'ro'}`);
  assert.deepEqual(mounts.sort(), [`bind:${bindDir}:/opt/toolcache:ro`, `volume:${volume}:/home/runner/.cache/pnpm:rw`].sort());

  // Its own bridge network, named after the runner, with a subnet from the pool, labelled like the container.
  assert.equal(container.HostConfig.NetworkMode, spec.runnerName);
  assert.deepEqual(Object.keys(container.NetworkSettings.Networks), [spec.runnerName]);
  const network = (await docker.getNetwork(spec.runnerName).inspect()) as { Driver: string; Labels: Record<string, string>; IPAM: { Config: Array<{ Subnet: string }> } };
  assert.equal(network.Driver, 'bridge');
  assert.equal(network.Labels[DOCKER_LABELS.controller], controllerId);
  const subnet = network.IPAM.Config[0]?.Subnet ?? '';
  assert.match(subnet, /\/28$/);
  assert.ok(subnetsOverlap(subnet, '10.214.0.0/16'), `${subnet} comes from the pool`);

  // A second runner gets a different subnet.
  const second = await provider.create(specFor(controllerId));
  const secondNetwork = (await docker.getNetwork(second.computeId).inspect()) as { IPAM: { Config: Array<{ Subnet: string }> } };
  assert.ok(!subnetsOverlap(secondNetwork.IPAM.Config[0]?.Subnet ?? '', subnet));

  for (const id of [info.computeId, second.computeId]) await provider.delete(id);
  assert.deepEqual(await controllerResources(docker, controllerId), { containers: [], networks: [] });
  assert.ok(await docker.getVolume(volume).inspect(), 'cache volumes outlive runners');
});

test('a missing image is JP_PROVIDER_IMAGE_MISSING and leaves no network behind', { skip }, async (t) => {
  if (!probe.isReachable) return;
  const controllerId = `img-${shortId(3)}`;
  const provider = new DockerProvider(testDockerOptions(controllerId, { image: 'jitpool/no-such-image:never' }));
  t.after(async () => {
    await provider.close();
    await removeControllerResources(probe.docker, controllerId);
  });
  await assert.rejects(provider.create(specFor(controllerId)), { code: 'JP_PROVIDER_IMAGE_MISSING' });
  assert.deepEqual(await controllerResources(probe.docker, controllerId), { containers: [], networks: [] });
  assert.deepEqual(await provider.list(), []);
});

test('a failure after the network exists removes the network (no leak)', { skip }, async (t) => {
  if (!probe.isReachable) return;
  const controllerId = `leak-${shortId(3)}`;
  // A bind mount whose source does not exist makes the container create fail after the network was made.
  const provider = new DockerProvider(testDockerOptions(controllerId, { mounts: [{ source: `/nonexistent-${shortId()}`, target: '/x', readOnly: true }] }));
  t.after(async () => {
    await provider.close();
    await removeControllerResources(probe.docker, controllerId);
  });
  await assert.rejects(provider.create(specFor(controllerId)), { code: 'JP_PROVIDER_CREATE' });
  assert.deepEqual(await controllerResources(probe.docker, controllerId), { containers: [], networks: [] });
});

test('an engine that is down is JP_PROVIDER_UNAVAILABLE for create and list', async () => {
  const provider = new DockerProvider(testDockerOptions(`down-${shortId(3)}`, { endpoint: { socketPath: join(tmpdir(), `no-docker-${shortId()}.sock`) } }));
  try {
    await assert.rejects(provider.create(specFor('x')), { code: 'JP_INPUT_INVALID' });
    const spec = specFor(`down-x`);
    const other = new DockerProvider(testDockerOptions(spec.controllerId, { endpoint: { socketPath: '/nonexistent/docker.sock' } }));
    await assert.rejects(other.create(spec), { code: 'JP_PROVIDER_UNAVAILABLE' });
    await other.close();
    await assert.rejects(provider.list(), { code: 'JP_PROVIDER_UNAVAILABLE' });
  } finally {
    await provider.close();
  }
});

test('dockerInDocker makes the container privileged (off by default); user "" keeps the image’s USER', { skip }, async (t) => {
  if (!probe.isReachable) return;
  const controllerId = `dind-${shortId(3)}`;
  const provider = new DockerProvider(testDockerOptions(controllerId, { dockerInDocker: true, user: '' }));
  t.after(async () => {
    await provider.close();
    await removeControllerResources(probe.docker, controllerId);
  });
  const info = await provider.create(specFor(controllerId));
  const container = await probe.docker.getContainer(info.computeId).inspect();
  assert.equal(container.HostConfig.Privileged, true);
  assert.ok(!(container.HostConfig.SecurityOpt ?? []).some((opt: string) => opt.startsWith('no-new-privileges')));
  assert.equal(container.Config.User, '1001:1001', 'the test image’s own USER');
  await provider.delete(info.computeId);
  assert.deepEqual(await controllerResources(probe.docker, controllerId), { containers: [], networks: [] });
});
