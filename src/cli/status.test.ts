import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../sim/index.ts';
import { createJitRunner, simOctokit } from '../sim/sim-test-helpers.ts';
import { startTestRuntime, TEST_ENV } from './runtime-test-helpers.ts';
import { collectStatus, statusExitCode } from './status.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Launches one runner through the controller and brings it online in the store. */
async function idleRunner(runtime: Awaited<ReturnType<typeof startTestRuntime>>['runtime'], provider: { setOnline(id: string): void }) {
  const runner = await runtime.controller.launchRunner('linux');
  await runtime.controller.settle();
  provider.setOnline(runner.name);
  await runtime.controller.reconcileOnce();
  await runtime.controller.settle();
  assert.equal(runtime.store.getRunner(runner.id).state, 'idle');
  return runner;
}

describe('jitpool status', () => {
  it('agrees (exit 0) when store, provider and GitHub hold the same runners; --strict fails on offline ones', async (t) => {
    const { runtime, providers } = await startTestRuntime(t, { noServer: true });
    const empty = await collectStatus(runtime, { strict: true });
    assert.equal(statusExitCode(empty), 0);
    const runner = await idleRunner(runtime, providers.get('linux')!);
    const status = await collectStatus(runtime, { strict: false });
    assert.equal(statusExitCode(status), 0, JSON.stringify(status.rows));
    assert.deepEqual(status.rows.map((r) => [r.name, r.store, r.compute, r.github?.status]), [[runner.name, 'idle', 'running', 'offline']]);
    // No real runner connected to the simulator, so GitHub lists it offline: strict mode fails.
    const strict = await collectStatus(runtime, { strict: true });
    assert.equal(statusExitCode(strict), 1);
    assert.equal(strict.offline, 1);
  });

  it('disagrees (exit 1) on vanished compute and on orphan compute, each marked', async (t) => {
    const { runtime, providers } = await startTestRuntime(t, { noServer: true });
    const provider = providers.get('linux')!;
    const runner = await idleRunner(runtime, provider);
    provider.vanish(runner.name);
    provider.adopt({ computeId: 'jp-linux-stray', runnerId: 'stray', runnerName: 'jp-linux-stray', pool: 'linux', controllerId: 'test', state: 'running', exitCode: null, isOnline: false, createdAtMs: 0 });
    const status = await collectStatus(runtime, { strict: false });
    assert.equal(statusExitCode(status), 1);
    const problems = Object.fromEntries(status.rows.map((r) => [r.name, r.problems]));
    assert.deepEqual(problems[runner.name], ['store has it, the provider has no compute']);
    assert.deepEqual(problems['jp-linux-stray'], ['compute unknown to the store (orphan)']);
  });

  it('the command exits 0 on agreement and 1 on a ghost registration, with --json', async (t) => {
    const sim = await startSimulator();
    const dir = mkdtempSync(join(tmpdir(), 'jp-status-'));
    t.after(async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const file = join(dir, 'jitpool.yaml');
    writeFileSync(file, `controllerId: test
github: { apiUrl: "${sim.url}", auth: { kind: pat, token: { env: [JITPOOL_GITHUB_TOKEN] } } }
store: { stateDir: "${dir}/state" }
pools:
  - { name: linux, scope: { kind: org, org: acme }, labels: [self-hosted, linux], provider: { kind: process, command: [/bin/true] } }
`);
    // Asynchronous: the simulator answers from this process's event loop.
    const run = () =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [MAIN, 'status', '-c', file, '--json'], { env: { ...process.env, ...TEST_ENV }, timeout: 60_000 }, (_err, stdout, stderr) =>
          resolve({ status: child.exitCode, stdout, stderr }),
        );
      });
    const agreed = await run();
    assert.equal(agreed.status, 0, agreed.stderr);
    assert.equal(JSON.parse(agreed.stdout).isAgreed, true);

    await createJitRunner(simOctokit(sim), 'acme', 'jp-linux-ghost', ['self-hosted', 'linux', 'jitpool-test']);
    await createJitRunner(simOctokit(sim), 'acme', 'someone-elses', ['self-hosted', 'linux']);
    const ghost = await run();
    assert.equal(ghost.status, 1, ghost.stderr);
    const report = JSON.parse(ghost.stdout) as { rows: Array<{ name: string; problems: string[] }> };
    assert.deepEqual(report.rows.map((r) => [r.name, r.problems]), [['jp-linux-ghost', ['registration unknown to the store (ghost)']]], 'foreign runners are not ours to report');
  });
});
