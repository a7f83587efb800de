import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Octokit } from '@octokit/rest';
import { runnerName, shortId } from '../core/index.ts';
import { startSimulator, type Simulator } from '../sim/index.ts';
import { machineCgroup } from './nspawn-cgroup.ts';
import { networkNames } from './nspawn-network.ts';
import { NspawnProvider } from './nspawn-provider.ts';
import { ensureNspawnTestImage, hostAddressForMachines, nspawnLeftovers, nspawnSkipReason, testNspawnOptions, TEST_IMAGE_DIR } from './nspawn-test-helpers.ts';
import { waitFor } from './provider-contract.ts';
import type { ComputeInfo, ComputeSpec } from './types.ts';

// What the shared contract cannot see: the image is never written, the JIT config's file, the
// cgroup limits (no swap), an out-of-memory kill, the private network's addresses, and a second
// provider instance (a restarted controller) adopting a running machine and pushing its exit.
const skip = nspawnSkipReason();
if (!skip) await ensureNspawnTestImage();

describe('nspawn provider', { skip, timeout: 10 * 60_000 }, () => {
  const workRoot = mkdtempSync(join('/var/tmp', 'jitpool-nspawn-provider-'));
  const controllerId = `np-${shortId(3)}`;
  let sim: Simulator;
  let octokit: Octokit;
  before(async () => {
    sim = await startSimulator({ host: hostAddressForMachines(), offlineAfterMs: 8000, acquirePollMs: 1000 });
    octokit = new Octokit({ baseUrl: sim.url, auth: 'ghp_np', log: { debug() {}, info() {}, warn() {}, error() {} } });
  });
  after(async () => {
    await sim?.close();
    rmSync(workRoot, { recursive: true, force: true });
  });
  const spec = async (): Promise<ComputeSpec> => {
    const id = shortId();
    const name = runnerName('np', id);
    const labels = ['self-hosted', `np-${id}`];
    const { data } = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'np-org', name, runner_group_id: 1, labels });
    return { runnerId: id, runnerName: name, pool: 'np', controllerId, labels, jitConfig: data.encoded_jit_config, context: {} };
  };
  const online = (provider: NspawnProvider, name: string) => waitFor(async () => ((await provider.inspect(name))?.isOnline ? true : null), `${name} online`);

  test('an overlay over an untouched image, the JIT config only for the runner user and gone once read, limits without swap, a private subnet', async () => {
    // systemd-nspawn behind a wrapper that records the JIT config file's mode and owner as nspawn finds it.
    const wrapper = join(workRoot, 'nspawn-wrapper.sh');
    writeFileSync(wrapper, `#!/bin/sh\nfor arg; do case "$arg" in --bind=*:/run/jitpool) d="\${arg#--bind=}"; d="\${d%:/run/jitpool}"; stat -c '%a %u %g' "$d/jitconfig" > ${workRoot}/jitconfig-stat; stat -c '%a %u' "$d" >> ${workRoot}/jitconfig-stat;; esac; done\nexec systemd-nspawn "$@"\n`, { mode: 0o755 });
    const provider = new NspawnProvider({ ...testNspawnOptions(controllerId, workRoot, TEST_IMAGE_DIR, 'private'), cpus: 0.5, memoryMb: 300, pidsLimit: 200, nspawnPath: wrapper });
    const rootfs = join(TEST_IMAGE_DIR, JSON.parse(readFileSync(join(TEST_IMAGE_DIR, 'manifest.json'), 'utf8')).rootfsDir as string);
    const imageBefore = listTree(rootfs);
    const s = await spec();
    try {
      const agentDir = join(workRoot, '.jitpool', s.runnerName, 'agent');
      await provider.create(s);
      await online(provider, s.runnerName);
      assert.deepEqual(readFileSync(join(workRoot, 'jitconfig-stat'), 'utf8').trim().split('\n'), ['400 1001 1001', '755 0'], 'readable by the runner user alone, in a directory of root’s');
      assert.equal(existsSync(join(agentDir, 'jitconfig')), false, 'the agent deleted the JIT config once read');
      assert.equal(statSync(join(workRoot, '.jitpool')).mode & 0o777, 0o700, 'records are root’s alone');
      assert.equal(statSync(join(workRoot, s.runnerName)).mode & 0o777, 0o700, 'the machine’s directory is root’s alone');

      const [memory, cpu, pids] = machineCgroup(s.runnerName).dirs as [string, string, string];
      if (existsSync(join(memory, 'memory.limit_in_bytes'))) {
        assert.equal(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8').trim(), String(300 * 1024 * 1024));
        if (existsSync(join(memory, 'memory.memsw.limit_in_bytes'))) assert.equal(readFileSync(join(memory, 'memory.memsw.limit_in_bytes'), 'utf8').trim(), String(300 * 1024 * 1024), 'memory + swap = memory: no swap');
        assert.equal(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
        assert.equal(readFileSync(join(pids, 'pids.max'), 'utf8').trim(), '200');
      } else {
        assert.equal(readFileSync(join(memory, 'memory.swap.max'), 'utf8').trim(), '0');
      }

      const { netns, hostInterface } = networkNames(s.runnerName);
      const inside = execFileSync('ip', ['-n', netns, '-4', '-o', 'addr', 'show', 'dev', 'host0'], { encoding: 'utf8' });
      const outside = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', hostInterface], { encoding: 'utf8' });
      const machineAddress = /inet (10\.217\.\d+\.\d+)\/30/.exec(inside)?.[1];
      const hostAddress = /inet (10\.217\.\d+\.\d+)\/30/.exec(outside)?.[1];
      assert.ok(machineAddress && hostAddress, `${inside} / ${outside}`);
      assert.equal(Number(machineAddress.split('.')[3]), Number(hostAddress.split('.')[3]) + 1, 'the machine at .2, the host at .1 of one /30');

      const job = sim.queueJob({ owner: 'np-org', repo: 'app', labels: s.labels, durationMs: 300 });
      await waitFor(async () => ((await provider.inspect(s.runnerName))?.state === 'exited' ? true : null), 'exit after the job');
      assert.equal(sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success');
      assert.ok(readdirSync(join(workRoot, s.runnerName, 'upper')).length > 0, 'the machine wrote into its own layer');
    } finally {
      await provider.delete(s.runnerName);
      await provider.close();
    }
    assert.deepEqual(listTree(rootfs), imageBefore, 'the image was never written');
    assert.deepEqual(await nspawnLeftovers(workRoot, s.runnerName), []);
  });

  test('a machine that outgrows its memory is killed (no swap to hide in) and its log says so', async () => {
    // 32 MiB is less than the fake runner's Node needs to start.
    const provider = new NspawnProvider({ ...testNspawnOptions(controllerId, workRoot, TEST_IMAGE_DIR, 'host'), memoryMb: 32 });
    const s = await spec();
    try {
      await provider.create(s);
      const exited = await waitFor(async () => {
        const info = await provider.inspect(s.runnerName);
        return info?.state === 'exited' ? info : null;
      }, 'the starved machine exits');
      assert.equal(exited.exitCode, 137, await provider.logs(s.runnerName, 20));
      assert.match(await provider.logs(s.runnerName, 20), /out of memory \(limit 32 MiB, no swap\)/);
    } finally {
      await provider.delete(s.runnerName);
      await provider.close();
    }
    assert.deepEqual(await nspawnLeftovers(workRoot, s.runnerName), []);
  });

  test('a restarted controller’s provider adopts a running machine, sees it online, and pushes its exit', async () => {
    const first = new NspawnProvider(testNspawnOptions(controllerId, workRoot, TEST_IMAGE_DIR, 'host'));
    const s = await spec();
    await first.create(s);
    await online(first, s.runnerName);
    await first.close();
    const second = new NspawnProvider(testNspawnOptions(controllerId, workRoot, TEST_IMAGE_DIR, 'host'));
    const events: ComputeInfo[] = [];
    second.onChange((info) => events.push(info));
    try {
      const listed = (await second.list()).find((c) => c.computeId === s.runnerName);
      assert.deepEqual([listed?.runnerId, listed?.controllerId, listed?.state, listed?.isOnline], [s.runnerId, controllerId, 'running', true]);
      sim.queueJob({ owner: 'np-org', repo: 'app', labels: s.labels, durationMs: 300 });
      const exit = await waitFor(async () => events.find((e) => e.computeId === s.runnerName && e.state === 'exited') ?? null, 'the adopted machine’s exit pushed');
      assert.equal(exit.exitCode, 0, 'the exit code the agent wrote');
    } finally {
      await second.delete(s.runnerName);
      await second.close();
    }
    assert.deepEqual(await nspawnLeftovers(workRoot, s.runnerName), []);
  });
});

/** Every path under `dir` with its size and mtime (what a write would change). */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      const stat = statSync(full, { throwIfNoEntry: false });
      out.push(`${full} ${stat?.size ?? '?'} ${stat?.mtimeMs ?? '?'}`);
      if (entry.isDirectory()) walk(full);
    }
  };
  out.push(`${dir} ${statSync(dir).mtimeMs}`);
  walk(dir);
  return out.sort();
}
