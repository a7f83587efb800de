import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it, type TestContext } from 'node:test';
import { shortId, silentLogger } from '../src/core/index.ts';
import { VmProvider } from '../src/providers/index.ts';
import { qemuProcesses, vmSkipReason } from '../src/providers/vm-test-helpers.ts';
import { HANGING_INIT, ensureVmTestImage } from '../src/providers/vm-test-image.ts';
import { startSimulator, type Simulator } from '../src/sim/index.ts';
import { spawnCli } from './cli-helpers.ts';
import { until } from './helpers/harness.ts';

// `jitpool up` with a `vm` pool on real QEMU (software emulation: accel tcg) against the
// simulator, which listens on loopback and tells runners to reach it at 10.0.2.2 (the host's
// loopback as a guest on QEMU's user-mode network sees it). Few tests: every boot takes seconds.
const skip = vmSkipReason();
const image = skip ? null : await ensureVmTestImage();

const ORG = 'vm-org';
const LABELS = ['self-hosted', 'linux', 'vm'];

interface Stack {
  sim: Simulator;
  workRoot: string;
  controllerId: string;
  up: () => ReturnType<typeof spawnCli>;
  query: <T>(sql: string) => T[];
}

async function startStack(t: TestContext, pool: { minIdle?: number; bootTimeoutSeconds?: number; jobTimeoutSeconds?: number; init?: string } = {}): Promise<Stack> {
  const sim = await startSimulator({ advertiseHost: '10.0.2.2', offlineAfterMs: 8000, acquirePollMs: 2000 });
  const dir = mkdtempSync('/tmp/jp-vm-rt-');
  const workRoot = join(dir, 'vm');
  const controllerId = `vmrt-${shortId(3)}`;
  const env = { VM_TOKEN: 'ghp_vm_runtime_test_token', VM_API_TOKEN: 'admin-token-for-the-vm-runtime-test' };
  const config = join(dir, 'jitpool.yaml');
  const provider = { kind: 'vm', image: image!.dir, accel: 'tcg', cpus: 1, memoryMb: 512, killGraceSeconds: 2, workRoot, ...(pool.init ? { init: pool.init } : {}) };
  writeFileSync(config, [
    `controllerId: ${controllerId}`,
    `github: { apiUrl: "${sim.url}", auth: { kind: pat, token: { env: [VM_TOKEN] } } }`,
    'webhook: { enabled: false }',
    'poll: { intervalSeconds: 1, repos: [vm-org/app] }',
    `store: { stateDir: "${join(dir, 'state')}" }`,
    'api: { port: 0, auth: { token: { env: [VM_API_TOKEN] } } }',
    'controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 2 }',
    'pools:',
    `  - { name: vm, scope: { kind: org, org: ${ORG} }, labels: [${LABELS.join(', ')}], max: 2, minIdle: ${pool.minIdle ?? 0}, idleGraceSeconds: 2, bootTimeoutSeconds: ${pool.bootTimeoutSeconds ?? 120}, jobTimeoutSeconds: ${pool.jobTimeoutSeconds ?? 3600}, provider: ${JSON.stringify(provider)} }`,
  ].join('\n'));
  const running: Array<ReturnType<typeof spawnCli>> = [];
  t.after(async () => {
    for (const up of running) {
      if (up.child.exitCode === null && up.child.signalCode === null) {
        up.child.kill('SIGTERM');
        await up.exited;
      }
    }
    // Whatever a failed test left: this controller's VMs, stopped and removed.
    const cleaner = new VmProvider({ controllerId, image: image!.dir, workRoot, accel: 'tcg', cpus: 1, memoryMb: 512, diskGb: null, killGraceSeconds: 1, logger: silentLogger() });
    for (const info of await cleaner.list()) await cleaner.delete(info.computeId);
    await cleaner.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const dbFile = join(dir, 'state', 'jitpool.sqlite');
  const query = <T,>(sql: string): T[] => {
    const db = new DatabaseSync(dbFile, { readOnly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  };
  const up = () => {
    const started = spawnCli(['up', '-c', config], env);
    running.push(started);
    return started;
  };
  return { sim, workRoot, controllerId, up, query };
}

/** Nothing of the stack's VMs is left: no per-VM directory (overlay, sockets, console) and no QEMU process. */
function leftovers(stack: Stack): string[] {
  const dirs = existsSync(stack.workRoot) ? readdirSync(stack.workRoot).filter((name) => name.startsWith('jp-')) : [];
  return [...dirs.map((name) => `vm directory ${name}`), ...qemuProcesses(stack.workRoot).map((pid) => `qemu ${pid}`)];
}

describe('the vm provider under jitpool up (QEMU, tcg)', { skip, timeout: 900_000 }, () => {
  it('a job that succeeds and one that fails each run in a fresh VM, which is removed afterwards', async (t) => {
    const stack = await startStack(t);
    const up = stack.up();
    await until(() => /jitpool started/.test(up.output()), 'the daemon started', 60_000);
    const ok = stack.sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 1000 });
    const failing = stack.sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 1000, conclusion: 'failure' });
    await until(() => stack.sim.jobs().every((job) => job.status === 'completed'), 'both jobs completed', 300_000);
    const jobs = new Map(stack.sim.jobs().map((job) => [job.id, job]));
    assert.equal(jobs.get(ok.id)?.conclusion, 'success');
    assert.equal(jobs.get(failing.id)?.conclusion, 'failure');
    assert.notEqual(jobs.get(ok.id)?.runnerName, jobs.get(failing.id)?.runnerName, 'one VM per job');
    await until(() => stack.query<{ n: number }>("SELECT COUNT(*) AS n FROM runners WHERE state <> 'removed'")[0]!.n === 0 && leftovers(stack).length === 0, 'every runner removed with its VM', 120_000);
    const runners = stack.query<{ name: string; exit_code: number | null }>('SELECT name, exit_code FROM runners ORDER BY name');
    assert.ok(runners.length >= 2, JSON.stringify(runners));
    assert.ok(runners.filter((r) => r.exit_code === 0).length >= 2, `both job runners exited 0 (a failed job is not a failed runner): ${JSON.stringify(runners)}`);
    assert.ok(up.output().length > 0 && !/JP_PROVIDER/.test(up.output()), up.output().slice(-2000));
  });

  it('a boot that never comes online is torn down at the boot timeout, leaving nothing', async (t) => {
    const stack = await startStack(t, { minIdle: 1, bootTimeoutSeconds: 20, init: HANGING_INIT });
    const up = stack.up();
    await until(() => /jitpool started/.test(up.output()), 'the daemon started', 60_000);
    const failedRunner = () => stack.query<{ name: string; last_error: string | null }>("SELECT name, last_error FROM runners WHERE state IN ('failed', 'removed') AND last_error LIKE '%boot timeout%'")[0];
    await until(() => failedRunner() !== undefined, 'a runner failed at its boot timeout', 240_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(stack.query('SELECT name, state, last_error, exit_code FROM runners'))} ${up.output().slice(-3000)}`);
    });
    const failed = failedRunner()!;
    assert.match(failed.last_error ?? '', /boot timeout/);
    await until(() => !existsSync(join(stack.workRoot, failed.name)) && qemuProcesses(`guest=${failed.name},`).length === 0, 'its VM removed', 60_000);
    assert.equal(stack.sim.runners().some((r) => r.name === failed.name), false, 'its registration was deleted first');
    up.child.kill('SIGTERM');
    await up.exited;
  });

  it('a job past its timeout: the VM is stopped (the one logged exception to never killing a busy runner) and removed, the job does not hang', async (t) => {
    const stack = await startStack(t, { jobTimeoutSeconds: 15 });
    const up = stack.up();
    await until(() => /jitpool started/.test(up.output()), 'the daemon started', 60_000);
    const job = stack.sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 600_000 });
    await stack.sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 300_000);
    const runnerName = stack.sim.jobs().find((j) => j.id === job.id)!.runnerName!;
    await until(() => stack.query<{ last_error: string | null }>(`SELECT last_error FROM runners WHERE name = '${runnerName}' AND state IN ('failed', 'removed')`)[0]?.last_error?.includes('job timeout') === true, 'the runner torn down at its job timeout', 180_000);
    await until(() => !existsSync(join(stack.workRoot, runnerName)) && qemuProcesses(`guest=${runnerName},`).length === 0, 'its VM removed', 60_000);
    await stack.sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 120_000);
    assert.notEqual(stack.sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success', 'GitHub fails the job whose runner went away');
  });

  it('a controller SIGKILLed mid-boot and again mid-job: the VM keeps running, each restarted controller adopts it, the job finishes, nothing is left', async (t) => {
    const stack = await startStack(t);
    const first = stack.up();
    await until(() => /jitpool started/.test(first.output()), 'the daemon started', 60_000);
    const job = stack.sim.queueJob({ owner: ORG, repo: 'app', labels: LABELS, durationMs: 20_000 });
    // Mid-boot: the VM exists and is recorded, its runner not online yet.
    const booting = () => stack.query<{ name: string }>("SELECT name FROM runners WHERE state = 'provisioning' AND compute_id IS NOT NULL")[0];
    await until(() => booting() !== undefined, 'a VM booting', 120_000);
    const runnerName = booting()!.name;
    const [pid] = qemuProcesses(`guest=${runnerName},`);
    assert.ok(pid, `the VM of ${runnerName} runs`);
    first.child.kill('SIGKILL');
    await first.exited;
    assert.equal(stack.sim.runners().find((r) => r.name === runnerName)?.status === 'online' && stack.sim.jobs()[0]?.status === 'in_progress', false, 'killed before the job started');

    const second = stack.up();
    await until(() => /jitpool started/.test(second.output()), 'the daemon restarted', 60_000);
    await stack.sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'in_progress', 300_000);
    assert.equal(stack.sim.jobs().find((j) => j.id === job.id)?.runnerName, runnerName, 'the VM booted under the first controller took the job');
    assert.deepEqual(qemuProcesses(`guest=${runnerName},`), [pid], 'the same QEMU process');
    second.child.kill('SIGKILL');
    await second.exited;
    assert.deepEqual(qemuProcesses(`guest=${runnerName},`), [pid], 'the VM outlived the controller mid-job');

    const third = stack.up();
    await until(() => /jitpool started/.test(third.output()), 'the daemon restarted again', 60_000);
    await stack.sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 300_000);
    assert.equal(stack.sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success', 'the adopted VM finished the job');
    await until(() => stack.query<{ n: number }>("SELECT COUNT(*) AS n FROM runners WHERE state <> 'removed'")[0]!.n === 0 && leftovers(stack).length === 0, 'the VM removed after its job', 120_000);
    const runner = stack.query<{ exit_code: number | null; state: string }>(`SELECT exit_code, state FROM runners WHERE name = '${runnerName}'`)[0];
    assert.deepEqual({ ...runner }, { exit_code: 0, state: 'removed' });
    assert.equal(stack.sim.stats().busyRunnersKilled + stack.sim.stats().busyRunnersDeleted, 0, 'no busy runner was killed');
  });
});
