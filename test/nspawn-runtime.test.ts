import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { startRuntime, type Runtime } from '../src/cli/runtime.ts';
import { collectStatus, formatStatus } from '../src/cli/status.ts';
import { configSchema } from '../src/config/index.ts';
import { isProcessAlive, shortId, silentLogger } from '../src/core/index.ts';
import { ensureNspawnTestImage, hostAddressForMachines, nspawnLeftovers, nspawnSkipReason, TEST_IMAGE_DIR } from '../src/providers/nspawn-test-helpers.ts';
import { waitFor } from '../src/providers/provider-contract.ts';
import { startSimulator, type Simulator } from '../src/sim/index.ts';
import { spawnCli } from './cli-helpers.ts';

// End to end on real systemd-nspawn machines (issue 19): the controller, the simulator as GitHub,
// an nspawn pool on private networks booted from the test image. Jobs that succeed, fail and time
// out, a boot that never comes online, and a controller SIGKILLed mid-boot and mid-job whose
// machine is adopted by the next one; afterwards nothing of the machines is left on the host
// (directories, mounts, cgroups, namespaces, links, firewall rules, processes).
const skip = nspawnSkipReason();
if (!skip) await ensureNspawnTestImage();

const ORG = 'nspawn-org';
const LABELS = ['self-hosted', 'linux', 'nspawn'];

/**
 * What a pool's machines could leave on this host, by name (other tests may run machines of their
 * own meanwhile): cgroups, firewall rules, mounts, machine directories and records. Namespaces and
 * links carry hashed names; they are checked per runner by nspawnLeftovers.
 */
function hostSnapshot(workRoot: string, pool: string): string[] {
  const prefix = `jp-${pool}-`;
  const rules = [...execFileSync('iptables', ['-w', '-S', 'FORWARD'], { encoding: 'utf8' }).split('\n'), ...execFileSync('iptables', ['-w', '-t', 'nat', '-S', 'POSTROUTING'], { encoding: 'utf8' }).split('\n')]
    .filter((line) => line.includes(`jitpool:${prefix}`)).map((line) => `rule ${line}`);
  const cgroups = ['memory', 'cpu', 'pids'].flatMap((c) => (existsSync(`/sys/fs/cgroup/${c}/jitpool`) ? readdirSync(`/sys/fs/cgroup/${c}/jitpool`).filter((n) => n.startsWith(prefix)).map((n) => `cgroup ${c}/${n}`) : []));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(workRoot)).map((line) => `mount ${line.split(' ')[4]}`);
  const machines = existsSync(workRoot) ? readdirSync(workRoot).filter((n) => n.startsWith(prefix)).map((n) => `dir ${n}`) : [];
  const records = existsSync(join(workRoot, '.jitpool')) ? readdirSync(join(workRoot, '.jitpool')).map((n) => `record ${n}`) : [];
  const propagate = existsSync('/run/systemd/nspawn/propagate') ? readdirSync('/run/systemd/nspawn/propagate').filter((n) => n.startsWith(prefix)).map((n) => `propagate ${n}`) : [];
  return [...rules, ...cgroups, ...mounts, ...machines, ...records, ...propagate].sort();
}

function poolConfig(name: string, workRoot: string, overrides: Record<string, unknown> = {}) {
  return {
    name, scope: { kind: 'org', org: ORG }, labels: LABELS, minIdle: 0, max: 3, idleGraceSeconds: 2, bootTimeoutSeconds: 60, jobTimeoutSeconds: 600,
    provider: { kind: 'nspawn', image: TEST_IMAGE_DIR, workRoot, network: 'private', subnet: { pool: '10.219.0.0/16', prefixLength: 30 }, cpus: 1, memoryMb: 512, pidsLimit: 512, killGraceSeconds: 3 },
    ...overrides,
  };
}

describe('nspawn pool end to end', { skip, timeout: 15 * 60_000 }, () => {
  test('a job succeeds, a job fails, a job times out; every machine is removed and nothing is left on the host', async (t) => {
    const workRoot = mkdtempSync(join('/var/tmp', 'jitpool-nspawn-e2e-'));
    const stateDir = mkdtempSync(join('/var/tmp', 'jitpool-nspawn-e2e-state-'));
    const before = hostSnapshot(workRoot, 'nse');
    const sim: Simulator = await startSimulator({ host: hostAddressForMachines(), offlineAfterMs: 4000, acquirePollMs: 1000 });
    const secret = randomBytes(16).toString('hex');
    const config = configSchema.parse({
      controllerId: `ns-${shortId(3)}`,
      github: { apiUrl: sim.url },
      store: { stateDir },
      api: { host: '127.0.0.1', port: 0 },
      controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 5 },
      pools: [poolConfig('nse', workRoot, { jobTimeoutSeconds: 6 })],
    });
    let runtime: Runtime | null = null;
    t.after(async () => {
      await runtime?.controller.drain(30_000).catch(() => 0);
      await runtime?.stop(10_000);
      await sim.close();
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(workRoot, { recursive: true, force: true });
    });
    runtime = await startRuntime({ config, logger: silentLogger(), env: { JITPOOL_GITHUB_TOKEN: 'ghp_nspawn_e2e', JITPOOL_WEBHOOK_SECRET: secret, JITPOOL_API_TOKEN: 'nspawn-e2e-admin-token' } });
    sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });

    const ok = sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 500 });
    const failing = sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 500, conclusion: 'failure' });
    const endless = sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 10 * 60_000 });
    await sim.waitFor((s) => [ok, failing, endless].every((job) => s.jobs().find((j) => j.id === job.id)?.status === 'completed'), 180_000);
    const conclusion = (id: number) => sim.jobs().find((j) => j.id === id)?.conclusion;
    assert.equal(conclusion(ok.id), 'success');
    assert.equal(conclusion(failing.id), 'failure');
    assert.equal(conclusion(endless.id), 'failure', 'the timed-out job ended when its machine was destroyed');

    await waitFor(async () => (runtime!.store.listLiveRunners().length === 0 ? true : null), 'every runner removed', 120_000);
    const runners = runtime.store.listRunners();
    assert.ok(runners.length >= 3, `three machines at least, got ${runners.length}`);
    for (const runner of runners) assert.deepEqual(await nspawnLeftovers(workRoot, runner.name), [], `nothing left of ${runner.name}`);
    assert.equal(sim.stats().busyRunnersDeleted, 0, 'no busy runner was deregistered');
    assert.deepEqual(hostSnapshot(workRoot, 'nse'), before, 'the host is as it was');
    // Boot to online per pool, as `jitpool status` and GET /api/v1/pools show it.
    const status = await collectStatus(runtime, { strict: false });
    const boot = status.pools.find((pool) => pool.name === 'nse')!.bootToOnline;
    assert.ok(boot.samples >= 3 && boot.p50Ms !== null && boot.p50Ms > 0, JSON.stringify(boot));
    assert.match(formatStatus(status), /pool nse: boot to online p50 \d+ ms/);
  });

  test('a boot that never comes online is torn down at the boot timeout and leaves nothing behind', async (t) => {
    const workRoot = mkdtempSync(join('/var/tmp', 'jitpool-nspawn-boot-'));
    const stateDir = mkdtempSync(join('/var/tmp', 'jitpool-nspawn-boot-state-'));
    const before = hostSnapshot(workRoot, 'nst');
    const sim = await startSimulator({ host: hostAddressForMachines(), offlineAfterMs: 4000, acquirePollMs: 1000 });
    const secret = randomBytes(16).toString('hex');
    const base = poolConfig('nst', workRoot, { minIdle: 1, max: 1, bootTimeoutSeconds: 4 });
    const config = configSchema.parse({
      controllerId: `nt-${shortId(3)}`,
      github: { apiUrl: sim.url },
      store: { stateDir },
      api: { host: '127.0.0.1', port: 0 },
      controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 5 },
      // The test image's runner sleeps this long before it starts: it never comes online in time.
      pools: [{ ...base, provider: { ...base.provider, env: { JITPOOL_TEST_BOOT_DELAY_SECONDS: '600' } } }],
    });
    let runtime: Runtime | null = null;
    t.after(async () => {
      await runtime?.stop(10_000);
      await sim.close();
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(workRoot, { recursive: true, force: true });
    });
    runtime = await startRuntime({ config, logger: silentLogger(), env: { JITPOOL_GITHUB_TOKEN: 'ghp_nspawn_boot', JITPOOL_WEBHOOK_SECRET: secret, JITPOOL_API_TOKEN: 'nspawn-boot-admin-token' } });
    const timedOut = await waitFor(async () => runtime!.store.listRunners().find((r) => r.state === 'removed' && /boot timeout/.test(r.lastError ?? '')) ?? null, 'a runner removed after its boot timeout', 120_000);
    assert.equal(sim.jobs().length, 0);
    assert.deepEqual(await nspawnLeftovers(workRoot, timedOut.name), [], 'its machine is gone');
    await runtime.controller.drain(30_000);
    for (const runner of runtime.store.listRunners()) assert.deepEqual(await nspawnLeftovers(workRoot, runner.name), [], `nothing left of ${runner.name}`);
    assert.deepEqual(hostSnapshot(workRoot, 'nst'), before, 'the host is as it was');
  });

  for (const moment of ['boot', 'job'] as const) {
    test(`a controller SIGKILLed mid-${moment}: the next one adopts the machine, the job finishes, the machine is removed`, async (t) => {
      const pool = moment === 'boot' ? 'nsb' : 'nsk';
      const dir = mkdtempSync(join('/var/tmp', 'jitpool-nspawn-kill-'));
      const workRoot = join(dir, 'machines');
      const before = hostSnapshot(workRoot, pool);
      const sim = await startSimulator({ host: hostAddressForMachines(), offlineAfterMs: 8000, acquirePollMs: 1000 });
      const env = { NS_TOKEN: 'ghp_nspawn_kill_test', NS_API_TOKEN: 'nspawn-kill-admin-token-0123456' };
      const configFile = join(dir, 'jitpool.yaml');
      const base = poolConfig(pool, workRoot);
      // Mid-boot: the runner takes 6 s to start, so the kill lands while the machine boots.
      const provider = moment === 'boot' ? { ...base.provider, env: { JITPOOL_TEST_BOOT_DELAY_SECONDS: '6' } } : base.provider;
      writeFileSync(configFile, JSON.stringify({
        controllerId: `nk-${shortId(3)}`,
        github: { apiUrl: sim.url, auth: { kind: 'pat', token: { env: ['NS_TOKEN'] } } },
        webhook: { enabled: false },
        poll: { intervalSeconds: 1, repos: [`${ORG}/app`] },
        store: { stateDir: join(dir, 'state') },
        api: { port: 0, auth: { token: { env: ['NS_API_TOKEN'] } } },
        controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 2 },
        pools: [{ ...base, provider }],
      }));
      let up = spawnCli(['up', '-c', configFile], env);
      t.after(async () => {
        if (up.child.exitCode === null) {
          up.child.kill('SIGTERM');
          await up.exited;
        }
        await sim.close();
        rmSync(dir, { recursive: true, force: true });
      });
      const job = sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: moment === 'job' ? 15_000 : 2000 });
      const started = (name: string) => {
        try {
          return (JSON.parse(readFileSync(join(workRoot, '.jitpool', name, 'meta.json'), 'utf8')) as { phase: string }).phase === 'started';
        } catch {
          return false;
        }
      };
      let runnerName: string;
      if (moment === 'job') {
        await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 120_000).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}\n${up.output()}`);
        });
        runnerName = sim.jobs().find((j) => j.id === job.id)!.runnerName!;
      } else {
        runnerName = await waitFor(async () => (existsSync(join(workRoot, '.jitpool')) ? readdirSync(join(workRoot, '.jitpool')).find(started) ?? null : null), 'a machine booting', 120_000);
        assert.ok(!sim.runners().some((r) => r.name === runnerName && r.status === 'online'), 'not online yet: the kill lands mid-boot');
      }
      up.child.kill('SIGKILL');
      await up.exited;
      const record = JSON.parse(readFileSync(join(workRoot, '.jitpool', runnerName, 'meta.json'), 'utf8')) as { pid: number; startTicks: string | null };
      assert.ok(isProcessAlive(record.pid, record.startTicks), 'the machine outlived its controller');

      up = spawnCli(['up', '-c', configFile], env);
      await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 120_000);
      assert.equal(sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success', 'the job finished');
      assert.equal(sim.jobs().find((j) => j.id === job.id)?.runnerName, runnerName, 'on the machine that outlived the controller');
      assert.equal(sim.stats().busyRunnersKilled + sim.stats().busyRunnersDeleted, 0, 'no busy runner was killed');
      await waitFor(async () => (!existsSync(join(workRoot, '.jitpool', runnerName)) ? true : null), 'the adopted machine removed after its job', 120_000);
      up.child.kill('SIGTERM');
      assert.equal(await up.exited, 0, up.output());
      const db = new DatabaseSync(join(dir, 'state', 'jitpool.sqlite'), { readOnly: true });
      const names = (db.prepare('SELECT name FROM runners').all() as Array<{ name: string }>).map((row) => row.name);
      db.close();
      assert.ok(names.includes(runnerName));
      for (const name of names) assert.deepEqual(await nspawnLeftovers(workRoot, name), [], `nothing left of ${name}`);
      assert.deepEqual(hostSnapshot(workRoot, pool), before, 'the host is as it was');
    });
  }
});
