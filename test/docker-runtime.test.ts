import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startRuntime, type Runtime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { shortId, silentLogger } from '../src/core/index.ts';
import { DOCKER_LABELS, DockerProvider } from '../src/providers/index.ts';
import { controllerResources, removeControllerResources, testDockerOptions } from '../src/providers/docker-test-helpers.ts';
import { waitFor } from '../src/providers/provider-contract.ts';
import { ensureFakeRunnerImage, FAKE_RUNNER_IMAGE, probeDocker, startSimulator, type Simulator } from '../src/sim/index.ts';

// The controller on a real Docker engine: orphans, a container killed mid-job, a missing image.
// Skipped only when no engine is reachable (CI starts dockerd).
const probe = await probeDocker();
const skip = probe.isReachable ? false : probe.reason;
if (probe.isReachable) await ensureFakeRunnerImage();

const ORG = 'dock-org';
const LABELS = ['self-hosted', 'linux', 'docker'];

async function startStack(t: TestContext, options: { image?: string; minIdle?: number; noLoop?: boolean } = {}): Promise<{ sim: Simulator; runtime: Runtime; controllerId: string }> {
  if (!probe.isReachable) throw new Error('no engine');
  const controllerId = `rt-${shortId(3)}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'jitpool-docker-rt-'));
  const sim = await startSimulator({ host: probe.bridgeGateway, offlineAfterMs: 3000, acquirePollMs: 2000 });
  t.after(() => sim.close());
  const secret = randomBytes(16).toString('hex');
  const config = configSchema.parse({
    controllerId,
    github: { apiUrl: sim.url },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0 },
    controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 5 },
    pools: [
      {
        name: 'dock',
        scope: { kind: 'org', org: ORG },
        labels: LABELS,
        provider: { kind: 'docker', image: options.image ?? FAKE_RUNNER_IMAGE, pullPolicy: 'never', cpus: 1, memoryMb: 256, pidsLimit: 256, killGraceSeconds: 3, network: { subnetPool: '10.217.0.0/16', prefixLength: 28 } },
        minIdle: options.minIdle ?? 0,
        max: 3,
        idleGraceSeconds: 1,
        bootTimeoutSeconds: 60,
      },
    ],
  });
  const runtime = await startRuntime({ config, logger: silentLogger(), env: { JITPOOL_GITHUB_TOKEN: 'ghp_docker_rt', JITPOOL_WEBHOOK_SECRET: secret, JITPOOL_API_TOKEN: 'docker-runtime-admin-token' }, noLoop: options.noLoop });
  sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });
  t.after(async () => {
    await runtime.controller.drain(20_000).catch(() => 0);
    await runtime.stop(10_000);
    await removeControllerResources(probe.docker, controllerId);
    rmSync(stateDir, { recursive: true, force: true });
  });
  return { sim, runtime, controllerId };
}

test('a container killed mid-job is noticed at once and cleaned up: runner recorded with its exit code, nothing left', { skip, timeout: 180_000 }, async (t) => {
  if (!probe.isReachable) return;
  const { sim, runtime, controllerId } = await startStack(t);
  const job = sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 60_000 });
  await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 90_000);
  const runnerName = sim.jobs().find((j) => j.id === job.id)?.runnerName ?? '';
  assert.match(runnerName, /^jp-dock-/);
  // Kill it once it is visibly working on the job (GitHub assigns before the runner prints).
  const provider = runtime.providers.get('dock')!;
  await waitFor(async () => (await provider.logs(runnerName, 20)).includes('Running job') || null, 'the runner to start the job');
  await probe.docker.getContainer(runnerName).kill({ signal: 'SIGKILL' });

  const runner = await waitFor(async () => {
    const record = runtime.store.findRunnerByName(runnerName);
    return record?.state === 'removed' ? record : null;
  }, 'the killed runner to be cleaned up');
  assert.equal(runner.exitCode, 137);
  assert.ok(runner.outputTail?.includes('Running job'), `the last lines of output are recorded: ${JSON.stringify({ runner, transitions: runtime.store.listTransitions({ entityId: runner.id }) })}`);
  await waitFor(async () => {
    const left = await controllerResources(probe.docker, controllerId);
    return left.containers.length + left.networks.length === 0 ? true : null;
  }, 'container and network removal');
  // GitHub fails the job once the runner stops heartbeating; it is not lost.
  await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 60_000);
});

test('a missing image: a clear error on the runner and in pool health, launches back off, no network leaks', { skip, timeout: 120_000 }, async (t) => {
  if (!probe.isReachable) return;
  const { sim, runtime, controllerId } = await startStack(t, { image: `jitpool/missing-${shortId()}:never` });
  sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 1000 });
  const observeMs = 8000;
  await new Promise((resolve) => setTimeout(resolve, observeMs));
  const runners = runtime.store.listRunners({ pool: 'dock' });
  assert.ok(runners.length >= 1, 'a launch was attempted');
  assert.ok(runners.every((r) => r.lastError?.startsWith('JP_PROVIDER_IMAGE_MISSING')), JSON.stringify(runners.map((r) => r.lastError)));
  // Backoff 1 s, 2 s, 4 s, … with jitter: a hot loop would have made dozens of attempts.
  assert.ok(runners.length <= 6, `${runners.length} launches in ${observeMs} ms`);
  const health = runtime.controller.health.dock;
  assert.ok(health && health.consecutiveFailures >= 1 && health.lastError?.startsWith('JP_PROVIDER_IMAGE_MISSING'));
  assert.deepEqual(await controllerResources(probe.docker, controllerId), { containers: [], networks: [] });
});

test('reconcile removes this controller’s orphan containers and networks, never other controllers’ or unlabelled ones', { skip, timeout: 120_000 }, async (t) => {
  if (!probe.isReachable) return;
  const docker = probe.docker;
  // The loop starts once the orphans exist: a half-created orphan (network, no container yet) is an orphan too.
  const { runtime, controllerId } = await startStack(t, { noLoop: true });
  const otherId = `${controllerId}-other`;
  const ours = new DockerProvider(testDockerOptions(controllerId));
  const theirs = new DockerProvider(testDockerOptions(otherId));
  const unlabelled = `jitpool-test-unlabelled-${shortId()}`;
  t.after(async () => {
    await ours.close();
    await theirs.close();
    await removeControllerResources(docker, otherId);
    await docker.getContainer(unlabelled).remove({ force: true }).catch(() => {});
  });
  const spec = (owner: string) => {
    const id = shortId();
    const name = `jp-dock-${id}`;
    return { runnerId: id, runnerName: name, pool: 'dock', controllerId: owner, labels: LABELS, jitConfig: 'bm90LWEtaml0LWNvbmZpZw==', context: {} };
  };
  // An orphan container (the store never heard of it), an orphan network without a container,
  // another controller's container, and a container nobody labelled.
  const orphan = await ours.create(spec(controllerId));
  const networkOnly = spec(controllerId);
  await docker.createNetwork({
    Name: networkOnly.runnerName,
    Labels: { [DOCKER_LABELS.controller]: controllerId, [DOCKER_LABELS.pool]: 'dock', [DOCKER_LABELS.runnerId]: networkOnly.runnerId, [DOCKER_LABELS.runnerName]: networkOnly.runnerName },
    IPAM: { Config: [{ Subnet: `10.218.${Math.floor(Math.random() * 250)}.0/28` }] },
  });
  const foreign = await theirs.create(spec(otherId));
  await docker.createContainer({ name: unlabelled, Image: FAKE_RUNNER_IMAGE, Cmd: ['/usr/local/bin/node', '-e', 'setTimeout(() => {}, 600000)'] }).then((c) => c.start());

  runtime.controller.start();
  const removedAsOrphan = (entityId: string) => runtime.store.listTransitions({ entityId }).some((e) => e.toState === 'orphan-removed');
  await waitFor(async () => (removedAsOrphan(orphan.computeId) && removedAsOrphan(networkOnly.runnerName) ? true : null), 'orphans removed by reconcile');
  assert.deepEqual(await controllerResources(docker, controllerId), { containers: [], networks: [] });
  assert.ok(await theirs.inspect(foreign.computeId), 'another controller’s container is untouched');
  assert.deepEqual((await controllerResources(docker, otherId)).networks, [foreign.computeId]);
  assert.equal((await docker.getContainer(unlabelled).inspect()).State.Running, true, 'an unlabelled container is untouched');
});
