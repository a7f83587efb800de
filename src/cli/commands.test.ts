import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../store/index.ts';
import { executeCleanup, planCleanup } from './cleanup.ts';
import { defaultCommand, renderUnits } from './install-service.ts';
import { reconcileOnce } from './reconcile.ts';
import { collectSamples } from './report.ts';
import { startTestRuntime } from './runtime-test-helpers.ts';
import { computeSloReport } from '../guard/index.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (_err, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }));
  });
}

function tempConfig(t: { after(fn: () => void): void }): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'jp-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'jitpool.yaml');
  writeFileSync(file, `store: { stateDir: ./state }
pools:
  - { name: linux, scope: { kind: org, org: acme }, labels: [self-hosted, linux], provider: { kind: process, command: [/bin/true] }, minIdle: 0, max: 4 }
`);
  return { dir, file };
}

describe('jitpool pool scale', () => {
  it('clamps the target to [min, max], persists it, and writes --status-out and --inventory-out JSON', async (t) => {
    const { dir, file } = tempConfig(t);
    const statusOut = join(dir, 'status.json');
    const inventoryOut = join(dir, 'inventory.json');
    const res = await run(['pool', 'scale', 'linux', '-c', file, '--min', '1', '--max', '4', '--target', '9', '--json', '--status-out', statusOut, '--inventory-out', inventoryOut]);
    assert.equal(res.status, 0, res.stderr);
    const status = JSON.parse(res.stdout);
    assert.deepEqual([status.min, status.max, status.target, status.requestedTarget, status.isClamped, status.dryRun], [1, 4, 4, 9, true, false]);
    assert.deepEqual(JSON.parse(readFileSync(statusOut, 'utf8')), status);
    const inventory = JSON.parse(readFileSync(inventoryOut, 'utf8'));
    assert.equal(inventory.pool, 'linux');
    assert.deepEqual(inventory.runners, []);
    const store = Store.open(join(dir, 'state', 'jitpool.sqlite'));
    assert.deepEqual(store.listPoolOverrides().map((o) => [o.pool, o.minIdle, o.max, o.target, o.actor]), [['linux', 1, 4, 4, 'cli']]);
    store.close();

    const below = await run(['pool', 'scale', 'linux', '-c', file, '--min', '2', '--target', '0', '--json']);
    assert.deepEqual(JSON.parse(below.stdout).target, 2, 'clamped up to min; max kept from the override');
    assert.equal(JSON.parse(below.stdout).max, 4);
  });

  it('--dry-run persists nothing; bad input exits 2 with the code', async (t) => {
    const { dir, file } = tempConfig(t);
    const dry = await run(['pool', 'scale', 'linux', '-c', file, '--target', '3', '--dry-run', '--json']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.equal(JSON.parse(dry.stdout).target, 3, 'inside the configured [0, 4]');
    const store = Store.open(join(dir, 'state', 'jitpool.sqlite'));
    assert.deepEqual(store.listPoolOverrides(), []);
    store.close();
    const inverted = await run(['pool', 'scale', 'linux', '-c', file, '--min', '5', '--max', '2', '--json']);
    assert.equal(inverted.status, 2);
    assert.equal(JSON.parse(inverted.stdout).code, 'JP_INPUT_INVALID');
    const unknown = await run(['pool', 'scale', 'gpu', '-c', file, '--json']);
    assert.equal(JSON.parse(unknown.stdout).code, 'JP_POOL_NOT_FOUND');
  });
});

describe('jitpool install-service', () => {
  it('--dry-run prints the supervisor and timer units and writes nothing', async (t) => {
    const { dir, file } = tempConfig(t);
    const unitDir = join(dir, 'units');
    const res = await run(['install-service', '-c', file, '--timer', '--interval', '30', '--unit-dir', unitDir, '--dry-run', '--json']);
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { dryRun: boolean; units: Array<{ name: string; path: string; content: string }> };
    assert.deepEqual(out.units.map((u) => u.name), ['jitpool.service', 'jitpool-reconcile.service', 'jitpool-reconcile.timer']);
    assert.match(out.units[0]!.content, new RegExp(`^ExecStart=.+ up -c ${file}$`, 'm'));
    assert.match(out.units[1]!.content, new RegExp(`^ExecStart=.+ reconcile --once -c ${file}$`, 'm'));
    assert.match(out.units[2]!.content, /^OnUnitActiveSec=30s$/m);
    // systemd must signal only jitpool on stop, restart or crash, never the runners in its cgroup.
    assert.match(out.units[0]!.content, /^KillMode=process$/m);
    assert.doesNotMatch(out.units[0]!.content, /^User=/m, 'no user given: none written');
    assert.throws(() => readFileSync(join(unitDir, 'jitpool.service')), /ENOENT/);
    const text = await run(['install-service', '-c', file, '--dry-run', '--unit-dir', unitDir]);
    assert.match(text.stdout, /# .*jitpool\.service\n\[Unit\]/);
  });

  it('the units pass systemd-analyze verify', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      assert.ok(!process.env.CI, 'CI installs systemd-analyze (.ci/run); it must not be missing there');
      t.skip('systemd-analyze is not available here; the unit text is still checked above');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'jp-units-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const units = renderUnits({ configFile: join(dir, 'jitpool.yaml'), command: defaultCommand(), user: 'daemon', environmentFile: join(dir, 'jitpool.env'), withTimer: true, intervalSeconds: 60 });
    assert.match(units[0]!.content, /^User=daemon$/m);
    assert.match(units[0]!.content, /^KillMode=process$/m);
    const paths = units.map((unit) => {
      const path = join(dir, unit.name);
      writeFileSync(path, unit.content);
      return path;
    });
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', ...paths], { encoding: 'utf8', timeout: 60_000 });
    // Warnings about this machine's own units (not ours) may appear; ours must not be named.
    const ours = `${verify.stdout}\n${verify.stderr}`.split('\n').filter((line) => units.some((u) => line.includes(u.name)));
    assert.deepEqual(ours, [], `${verify.stdout}\n${verify.stderr}`);
    assert.equal(verify.status, 0, verify.stderr);
  });

  it('checks the config first, prints by default, installs only with --write', async (t) => {
    const { dir, file } = tempConfig(t);
    const unitDir = join(dir, 'units');
    // No config: one error line, nothing written (it used to write a unit pointing at nothing).
    const missing = await run(['install-service', '-c', join(dir, 'absent.yaml'), '--unit-dir', unitDir, '--write']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^jitpool: JP_CONFIG_NOT_FOUND: /);
    writeFileSync(join(dir, 'bad.yaml'), 'pools: 3\n');
    assert.equal((await run(['install-service', '-c', join(dir, 'bad.yaml'), '--unit-dir', unitDir, '--write'])).status, 2);
    assert.throws(() => readFileSync(join(unitDir, 'jitpool.service')), /ENOENT/);

    const printed = await run(['install-service', '-c', file, '--unit-dir', unitDir]);
    assert.equal(printed.status, 0, printed.stderr);
    assert.match(printed.stdout, /^WantedBy=multi-user\.target$/m);
    assert.match(printed.stderr, /nothing written; to install: the same command with --write/);
    assert.match(printed.stderr, /runs jitpool as root; --run-as USER/);
    assert.throws(() => readFileSync(join(unitDir, 'jitpool.service')), /ENOENT/);

    const written = await run(['install-service', '-c', file, '--unit-dir', unitDir, '--run-as', 'daemon', '--write']);
    assert.equal(written.status, 0, written.stderr);
    assert.match(readFileSync(join(unitDir, 'jitpool.service'), 'utf8'), /^User=daemon$/m);
    assert.match(written.stdout, /^next: systemctl daemon-reload && systemctl enable --now jitpool\.service$/m);
  });

  it('--user renders a user unit (no User=, default.target, systemctl --user)', async (t) => {
    const { dir, file } = tempConfig(t);
    const res = await run(['install-service', '-c', file, '--user', '--json'], { XDG_CONFIG_HOME: join(dir, 'xdg') });
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { dryRun: boolean; scope: string; next: string[]; units: Array<{ path: string; content: string }> };
    assert.deepEqual([out.dryRun, out.scope], [true, 'user']);
    assert.equal(out.units[0]!.path, join(dir, 'xdg', 'systemd', 'user', 'jitpool.service'));
    assert.match(out.units[0]!.content, /^WantedBy=default\.target$/m);
    assert.doesNotMatch(out.units[0]!.content, /^User=|network-online/m);
    assert.match(out.next[0]!, /^systemctl --user daemon-reload/);
    const both = await run(['install-service', '-c', file, '--user', '--run-as', 'daemon', '--json']);
    assert.equal(both.status, 2);
    assert.equal(JSON.parse(both.stdout).code, 'JP_INPUT_INVALID');
  });
});

describe('jitpool reconcile --once, cleanup, report', () => {
  it('reconcile --once plans; --dry-run acts on nothing', async (t) => {
    const { runtime } = await startTestRuntime(t, { noServer: true, configPatch: {} });
    runtime.store.setPoolOverride({ pool: 'linux', minIdle: 1, max: 3, target: 1, actor: 'test' });
    const dry = await reconcileOnce(runtime, { dryRun: true });
    assert.deepEqual(dry.counts, { launch: 1 });
    assert.equal(runtime.store.countRunners(), 0);
    const real = await reconcileOnce(runtime, { dryRun: false });
    assert.equal(real.syncedWithGitHub, true);
    assert.equal(runtime.store.listLiveRunners('linux').length, 1, 'the override target is applied');
  });

  it('cleanup --offline-registrations removes only ghosts; --all removes everything of ours', async (t) => {
    const { runtime, sim, providers } = await startTestRuntime(t, { noServer: true });
    const runner = await runtime.controller.launchRunner('linux');
    await runtime.controller.settle();
    // A ghost: a registration of ours that nothing backs (a crash between JIT and create).
    await runtime.github.generateJitConfig({ kind: 'org', org: 'acme' }, { name: 'jp-linux-ghost', runnerGroupId: 1, labels: ['self-hosted', 'jitpool-test'], workFolder: '_work' });
    const offline = await planCleanup(runtime, 'offline-registrations');
    assert.deepEqual(offline.map((i) => [i.kind, i.name]), [['registration', 'jp-linux-ghost']], 'a booting runner with compute is not a ghost');
    assert.deepEqual(await executeCleanup(runtime, offline), { removed: 1, failed: [] });
    assert.ok(!sim.runners().some((r) => r.name === 'jp-linux-ghost'));

    const all = await planCleanup(runtime, 'all');
    assert.deepEqual(all.map((i) => i.kind).sort(), ['compute', 'registration', 'store']);
    assert.deepEqual(await executeCleanup(runtime, all), { removed: 3, failed: [] });
    assert.equal(runtime.store.getRunner(runner.id).state, 'removed');
    assert.deepEqual(await providers.get('linux')!.list(), []);
    assert.equal(sim.runners().length, 0);
  });

  it('report reads lifecycles and queue waits from the store', async (t) => {
    const { runtime } = await startTestRuntime(t, { noServer: true });
    const store = runtime.store;
    store.insertRunner({ id: 'a', name: 'jp-linux-a', pool: 'linux', labels: [] }, 'test');
    for (const state of ['provisioning', 'idle', 'busy', 'finished', 'removed'] as const) store.updateRunner('a', { state }, 'test');
    store.insertRunner({ id: 'b', name: 'jp-linux-b', pool: 'linux', labels: [] }, 'test');
    for (const state of ['provisioning', 'failed', 'removed'] as const) store.updateRunner('b', { state }, 'test');
    store.observeJob({ id: 1, runId: 1, owner: 'acme', repo: 'app', name: 'b', labels: ['self-hosted'], state: 'completed', conclusion: 'success', runnerName: 'jp-linux-a', queuedAtMs: 0, startedAtMs: 3000, completedAtMs: 9000 }, 'linux', 'test');
    const samples = collectSamples(store, 50);
    assert.equal(samples.lifecycles.length, 2);
    assert.deepEqual(samples.jobs, [{ queuedAtMs: 0, startedAtMs: 3000 }]);
    const report = computeSloReport(samples.lifecycles, samples.jobs);
    assert.equal(report.criteria[0]!.value, 0.5);
    assert.equal(report.isMet, false);
  });
});
