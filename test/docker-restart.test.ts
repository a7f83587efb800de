import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRuntime, type Runtime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { shortId, silentLogger } from '../src/core/index.ts';
import { controllerResources, removeControllerResources } from '../src/providers/docker-test-helpers.ts';
import { waitFor } from '../src/providers/provider-contract.ts';
import { ensureFakeRunnerImage, FAKE_RUNNER_IMAGE, probeDocker, startSimulator } from '../src/sim/index.ts';

// Issue 13, defect 1 on a real engine: a runner came online and took a job while the controller
// was down, and its `in_progress` webhook was lost. The restarted controller's Docker provider has
// not seen it online (that is kept in memory), so the runner looks like one stuck booting past its
// boot timeout. It must be kept: GitHub says it is busy.
const probe = await probeDocker();
const skip = probe.isReachable ? false : probe.reason;
if (probe.isReachable) await ensureFakeRunnerImage();

const ORG = 'restart-org';
const LABELS = ['self-hosted', 'linux', 'restart'];

test('a runner that took a job while the controller was down is kept by the restarted controller and its job finishes', { skip, timeout: 240_000 }, async (t) => {
  if (!probe.isReachable) return;
  const controllerId = `rs-${shortId(3)}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'jitpool-docker-restart-'));
  const sim = await startSimulator({ host: probe.bridgeGateway, offlineAfterMs: 4000, acquirePollMs: 2000 });
  const secret = randomBytes(16).toString('hex');
  const config = configSchema.parse({
    controllerId,
    github: { apiUrl: sim.url },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0 },
    poll: { backstopIntervalSeconds: 3600 },
    controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 3600 },
    pools: [{
      name: 'rs', scope: { kind: 'org', org: ORG }, labels: LABELS, minIdle: 1, max: 2, idleGraceSeconds: 3600, bootTimeoutSeconds: 5,
      provider: { kind: 'docker', image: FAKE_RUNNER_IMAGE, pullPolicy: 'never', cpus: 1, memoryMb: 256, pidsLimit: 256, killGraceSeconds: 3, network: { subnetPool: '10.218.0.0/16', prefixLength: 28 } },
    }],
  });
  const env = { JITPOOL_GITHUB_TOKEN: 'ghp_docker_restart', JITPOOL_WEBHOOK_SECRET: secret, JITPOOL_API_TOKEN: 'docker-restart-admin-token' };
  let runtime: Runtime | null = null;
  t.after(async () => {
    await runtime?.controller.drain(20_000).catch(() => 0);
    await runtime?.stop(10_000);
    await sim.close();
    await removeControllerResources(probe.docker, controllerId);
    rmSync(stateDir, { recursive: true, force: true });
  });
  sim.setFaults({ webhooksByAction: { in_progress: { dropRate: 1 } } });

  runtime = await startRuntime({ config, logger: silentLogger(), env });
  sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });
  const warm = await waitFor(async () => runtime!.store.listLiveRunners().find((r) => r.computeId !== null) ?? null, 'a warm runner with its container', 90_000);
  await runtime.stop(10_000);
  runtime = null;

  // While nobody watches, the runner comes online and GitHub gives it a job.
  const job = sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 20_000 });
  await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 90_000);
  assert.equal(sim.jobs().find((j) => j.id === job.id)?.runnerName, warm.name);
  await new Promise((resolve) => setTimeout(resolve, 6000)); // past the boot timeout

  runtime = await startRuntime({ config, logger: silentLogger(), env });
  sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });
  await waitFor(async () => (runtime!.store.getRunner(warm.id).state === 'busy' ? true : null), 'the runner recorded busy', 60_000);
  await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 90_000);
  assert.equal(sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success', 'the job finished on its runner');
  assert.equal(sim.stats().busyRunnersKilled + sim.stats().busyRunnersDeleted, 0);
  await waitFor(async () => (runtime!.store.getRunner(warm.id).state === 'removed' ? true : null), 'the runner cleaned up after its job', 60_000);
  const left = await controllerResources(probe.docker, controllerId);
  assert.ok(![...left.containers, ...left.networks].includes(warm.name), `its container and network are gone: ${JSON.stringify(left)}`);
});
