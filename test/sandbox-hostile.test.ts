import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPools } from '../src/cli/runtime.ts';
import { configSchema, resolveConfigPaths } from '../src/config/index.ts';
import { silentLogger } from '../src/core/index.ts';
import { ProcessProvider, type ComputeSpec, type Provider } from '../src/providers/index.ts';
import { waitFor } from '../src/providers/provider-contract.ts';
import { pidsWithArgv, processTree, readRunnerMeta, sandboxSkipReason } from '../src/providers/process-test-helpers.ts';
import { buildRunnerArchive, servePackage } from '../src/runner/runner-test-helpers.ts';
import { FAKE_RUNNER_SCRIPT, startSimulator, type Simulator } from '../src/sim/index.ts';
import { createJitRunner, simOctokit } from '../src/sim/sim-test-helpers.ts';
import type { Targets } from './fixtures/hostile-runner.ts';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const HOSTILE = fileURLToPath(new URL('./fixtures/hostile-runner.ts', import.meta.url));
const ORG = 'hostile-org';

type Outcome = { ok: true; detail?: string } | { ok: false; error: string };
type Report = Record<string, unknown> & { uid: number; environScan: { readable: number; secretFound: boolean; jitConfigs: string[] }; visiblePids: number; fdEscape: Outcome[]; connectHost: Outcome };

/** The report the hostile runner printed into its log. */
async function reportOf(provider: Provider, computeId: string): Promise<Report> {
  return waitFor(async () => {
    const line = (await provider.logs(computeId, 200)).split('\n').find((l) => l.startsWith('HOSTILE-REPORT '));
    return line ? (JSON.parse(line.slice('HOSTILE-REPORT '.length)) as Report) : null;
  }, 'the hostile runner’s report');
}

/** SHA-256 over every file of a directory tree (names and contents). */
function treeDigest(dir: string): string {
  const hash = createHash('sha256');
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(path, entry.name);
      hash.update(full);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) hash.update(readFileSync(full)).update(String(statSync(full).mode));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

function isAlive(child: ChildProcess): boolean {
  try {
    process.kill(child.pid!, 0);
    return child.exitCode === null && child.signalCode === null;
  } catch {
    return false;
  }
}

function spec(name: string, labels: string[], jitConfig: string, context: Record<string, string> = {}): ComputeSpec {
  return { runnerId: name.slice(-4), runnerName: name, pool: 'x', controllerId: 'hostile', labels, jitConfig, context };
}

describe('process sandbox against a hostile job', { skip: sandboxSkipReason(), timeout: 300_000 }, () => {
  it('every escape fails (environ, store, config, key, sibling, leftover process, forged metadata, runner package, kill) while a normal job completes', async (t) => {
    // The state dir, config and key sit under the project root, which the runner command needs
    // visible (its Node binary and scripts live there): exactly the case the masks are for.
    const base = mkdtempSync(join(PROJECT_ROOT, '.state-hostile-'));
    const marker = `marker-${randomBytes(8).toString('hex')}`;
    const stateDir = join(base, 'state');
    mkdirSync(stateDir);
    // Readable by anyone, like a `./.state` made with the usual umask: only the masks hide them.
    for (const dir of [base, stateDir]) chmodSync(dir, 0o755);
    const files = { store: join(stateDir, 'jitpool.sqlite'), config: join(base, 'jitpool.yaml'), privateKey: join(base, 'app.pem') };
    for (const file of Object.values(files)) writeFileSync(file, `secret ${marker}\n`, { mode: 0o644 });
    const sim: Simulator = await startSimulator({ offlineAfterMs: 8000 });
    const pkg = await buildRunnerArchive({ listenerCommand: [process.execPath, HOSTILE] });
    const server = await servePackage(pkg.bytes);
    const controllerSecret = `ghp_${randomBytes(12).toString('hex')}`;
    // Stand-ins: a process holding the controller's secrets in its environment, and a canary.
    const twin = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { env: { JITPOOL_GITHUB_TOKEN: controllerSecret }, stdio: 'ignore' });
    const canary = spawn('/bin/sleep', ['600'], { stdio: 'ignore', detached: true });
    const tmpProbe = '/tmp/hostile-was-here';
    rmSync(tmpProbe, { force: true });
    const config = resolveConfigPaths(
      configSchema.parse({
        controllerId: 'hostile',
        github: { apiUrl: sim.url, auth: { kind: 'app', appId: 1, installationId: 1, privateKeyFile: files.privateKey } },
        store: { stateDir },
        pools: [
          { name: 'normal', scope: { kind: 'org', org: ORG }, labels: ['self-hosted', 'normal'], provider: { kind: 'process', command: [process.execPath, FAKE_RUNNER_SCRIPT], killGraceSeconds: 2 } },
          {
            name: 'hostile', scope: { kind: 'org', org: ORG }, labels: ['self-hosted', 'hostile'],
            provider: {
              kind: 'process', killGraceSeconds: 2, readOnlyPaths: [PROJECT_ROOT], env: { HOSTILE_TARGETS: '{hostile_targets}' },
              runner: { sha256: pkg.sha256, urlTemplate: `${server.url}/{version}/{arch}.tar.gz` },
            },
          },
        ],
      }),
      base,
    );
    // The runtime's own wiring: what the sandbox hides comes from the config (and its file).
    const [normal, hostile] = buildPools(config, silentLogger(), undefined, {}, files.config).map((pool) => pool.provider as ProcessProvider);
    t.after(async () => {
      for (const provider of [normal!, hostile!]) for (const info of await provider.list()) await provider.delete(info.computeId).catch(() => {});
      twin.kill('SIGKILL');
      canary.kill('SIGKILL');
      await sim.close();
      await server.close();
      pkg.cleanup();
      rmSync(base, { recursive: true, force: true });
    });
    const workRoot = join(stateDir, 'work');

    // A normal runner, online, with its credentials on disk.
    const siblingLabels = ['self-hosted', 'normal', `r-${randomBytes(3).toString('hex')}`];
    const siblingJit = await createJitRunner(simOctokit(sim), ORG, 'jp-normal-0001', siblingLabels);
    await normal!.create(spec('jp-normal-0001', siblingLabels, siblingJit.encodedJitConfig));
    await waitFor(async () => (await normal!.inspect('jp-normal-0001'))?.isOnline || null, 'the normal runner online');
    const siblingPids = processTree(readRunnerMeta(workRoot, 'jp-normal-0001').pid);

    const targets: Targets = {
      controllerPids: [process.pid, twin.pid!],
      controllerSecretReversed: [...controllerSecret].reverse().join(''),
      files,
      sibling: { credentials: join(workRoot, 'jp-normal-0001', '.credentials'), pids: siblingPids },
      ownRecord: join(workRoot, '.jitpool', 'jp-hostile-0002', 'meta.json'),
      canaryPid: canary.pid!,
      leftoverMarker: `hostile-leftover-${marker}`,
      hostPort: Number(new URL(sim.url).port),
    };
    const cacheDir = join(stateDir, 'runner-cache');
    await hostile!.create(spec('jp-hostile-0002', ['self-hosted', 'hostile'], 'not-a-real-jit-config', { hostile_targets: JSON.stringify(targets) }));
    const report = await reportOf(hostile!, 'jp-hostile-0002');
    const packageDigest = treeDigest(cacheDir);
    // JITPOOL_HOSTILE_REPORT=FILE keeps the job's own account of each attempt (for reviewers).
    if (process.env.JITPOOL_HOSTILE_REPORT) writeFileSync(process.env.JITPOOL_HOSTILE_REPORT, `${JSON.stringify(report, null, 2)}\n`);

    // Identity: not root, not the controller's uid.
    assert.notEqual(report.uid, 0, 'the job does not run as root');
    if (process.getuid?.() === 0) assert.ok(report.uid >= 0x70000000, `a runner uid of its own (got ${report.uid})`);
    // The controller's environment (tokens), directly and by scanning every process.
    for (const pid of targets.controllerPids) assert.equal((report[`controllerEnviron:${pid}`] as Outcome).ok, false, `controller environ ${pid} readable`);
    assert.equal(report.environScan.secretFound, false, 'the controller’s secret is readable in some /proc/PID/environ');
    assert.ok(report.visiblePids < 10, `the job sees ${report.visiblePids} processes: only its own`);
    // The store, the config, the private key: hidden though they sit under a visible tree.
    for (const name of Object.keys(files)) {
      const outcome = report[`read:${name}`] as Outcome;
      assert.ok(!(outcome.ok && outcome.detail?.includes(marker)), `${name} readable by the job`);
    }
    // A sibling's credentials and its JIT config.
    assert.equal((report['read:siblingCredentials'] as Outcome).ok, false, 'sibling credentials readable');
    for (const pid of siblingPids) assert.equal((report[`siblingEnviron:${pid}`] as Outcome).ok, false, `sibling environ ${pid} readable`);
    assert.ok(!report.environScan.jitConfigs.includes(siblingJit.encodedJitConfig), 'the sibling’s JIT config was found');
    assert.equal((report['read:shadow'] as Outcome).ok, false, '/etc/shadow readable');
    for (const outcome of report.fdEscape) assert.equal(outcome.ok, false, 'escaped through an inherited directory fd');
    // Writes: the runner package, the system and its own record fail; its private /tmp works.
    for (const key of ['write:package', 'write:packageNewFile', 'write:etc', 'write:ownRecord']) assert.equal((report[key] as Outcome).ok, false, `${key} succeeded`);
    assert.equal((report['write:tmp'] as Outcome).ok, true, 'the job has a writable /tmp');
    assert.equal(existsSync(tmpProbe), false, 'the job’s /tmp is private');
    // Signals: nothing outside its namespace can be reached.
    for (const pid of [...targets.controllerPids, ...siblingPids, canary.pid!]) assert.equal((report[`kill:${pid}`] as Outcome).ok, false, `kill ${pid} succeeded`);
    assert.ok(isAlive(twin) && isAlive(canary), 'the controller’s stand-in and the canary survived');
    assert.equal((await normal!.inspect('jp-normal-0001'))?.state, 'running', 'the sibling runner survived');
    assert.equal(report.connectHost.ok, true, 'the default network is the host’s');

    // Teardown: the job ignores SIGTERM and left a process in a session of its own, and forged
    // `.jitpool.json` pointing at the canary. Delete kills exactly the sandbox.
    assert.ok(pidsWithArgv(targets.leftoverMarker).length > 0, 'the leftover process runs (inside the sandbox)');
    await hostile!.delete('jp-hostile-0002');
    assert.deepEqual(pidsWithArgv(targets.leftoverMarker), [], 'a process the job started outlived its runner');
    assert.ok(isAlive(canary) && isAlive(twin), 'delete signalled a process the job named');
    assert.equal(treeDigest(cacheDir), packageDigest, 'the runner package changed');
    assert.equal(readFileSync(join(cacheDir, readdirSync(cacheDir).find((n) => !n.endsWith('.tar.gz'))!, 'bin', 'Runner.Listener'), 'utf8').includes('poisoned'), false);

    // Meanwhile a normal job runs to completion on the sibling.
    const job = sim.queueJob({ owner: ORG, repo: 'app', labels: siblingLabels, durationMs: 300 });
    const exited = await waitFor(async () => {
      const info = await normal!.inspect('jp-normal-0001');
      return info?.state === 'exited' ? info : null;
    }, 'the normal runner to finish its job');
    assert.equal(exited.exitCode, 0);
    assert.equal(sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success');
    assert.match(await normal!.logs('jp-normal-0001', 50), /completed with result: Succeeded/);
  });

  it('network: none leaves the job without a route to the host', async (t) => {
    const sim = await startSimulator({});
    const workRoot = mkdtempSync(join('/tmp', 'jp-hostile-net-'));
    const provider = new ProcessProvider({
      controllerId: 'hostile', command: [process.execPath, HOSTILE], workRoot, killGraceSeconds: 1, sandbox: { network: 'none' },
      env: { HOSTILE_TARGETS: '{hostile_targets}' }, logger: silentLogger(),
    });
    t.after(async () => {
      await provider.delete('jp-net-0003').catch(() => {});
      await sim.close();
      rmSync(workRoot, { recursive: true, force: true });
    });
    const targets: Targets = {
      controllerPids: [], controllerSecretReversed: 'none', files: {}, sibling: { credentials: '/nonexistent', pids: [] }, ownRecord: '/nonexistent/x',
      canaryPid: 999_999_999, leftoverMarker: `net-${randomBytes(4).toString('hex')}`, hostPort: Number(new URL(sim.url).port),
    };
    await provider.create(spec('jp-net-0003', ['self-hosted'], 'x', { hostile_targets: JSON.stringify(targets) }));
    const report = await reportOf(provider, 'jp-net-0003');
    assert.equal(report.connectHost.ok, false, 'the job reached the host’s loopback');
  });
});
