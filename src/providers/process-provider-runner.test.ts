import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../core/index.ts';
import { buildRunnerArchive, forceRemove, servePackage } from '../runner/runner-test-helpers.ts';
import { startSimulator } from '../sim/index.ts';
import { createJitRunner, simOctokit } from '../sim/sim-test-helpers.ts';
import { ProcessProvider } from './process-provider.ts';
import type { SandboxKind } from './process-sandbox.ts';
import { sandboxSkipReason } from './process-test-helpers.ts';

/** The project root: the fake package's listener runs this checkout's Node and fake runner. */
const PROJECT_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** Runs one job on a runner made from the package; returns the runner's root and the cached package. */
async function runOneJob(t: { after: (fn: () => Promise<void>) => void }, kind: SandboxKind): Promise<{ root: string; cached: string }> {
  const pkg = await buildRunnerArchive({ listener: 'fake-runner' });
  const server = await servePackage(pkg.bytes);
  const sim = await startSimulator({ offlineAfterMs: 5000 });
  const dir = mkdtempSync(join(tmpdir(), 'jp-prov-runner-'));
  const provider = new ProcessProvider({
    controllerId: 'test',
    workRoot: join(dir, 'work'),
    runnerPackage: { version: '2.330.0', sha256: pkg.sha256, urlTemplate: `${server.url}/{version}/{arch}.tar.gz`, cacheDir: join(dir, 'cache') },
    killGraceSeconds: 2,
    sandbox: kind === 'bwrap' ? { kind, readOnlyPaths: [PROJECT_ROOT] } : { kind },
    logger: silentLogger(),
  });
  t.after(async () => {
    for (const info of await provider.list()) await provider.delete(info.computeId);
    await provider.close();
    await sim.close();
    await server.close();
    pkg.cleanup();
    forceRemove(dir);
  });
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 200 });
  const jit = await createJitRunner(simOctokit(sim), 'acme', 'jp-linux-0001', ['self-hosted', 'linux']);
  const spec = { runnerId: '0001', runnerName: 'jp-linux-0001', pool: 'linux', controllerId: 'test', labels: ['self-hosted', 'linux'], jitConfig: jit.encodedJitConfig, context: {} };
  const info = await provider.create(spec);
  assert.equal(info.state, 'running');
  await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 60_000);
  for (let i = 0; i < 200 && (await provider.inspect('jp-linux-0001'))?.state !== 'exited'; i++) await new Promise((r) => setTimeout(r, 100));
  const done = await provider.inspect('jp-linux-0001');
  assert.equal(done?.exitCode, 0, await provider.logs('jp-linux-0001', 20));
  const cachedName = readdirSync(join(dir, 'cache')).find((name) => !name.endsWith('.tar.gz'))!;
  return { root: join(dir, 'work', 'jp-linux-0001'), cached: join(dir, 'cache', cachedName) };
}

describe('process provider with the runner package', () => {
  it('sandboxed: mounts the package read-only into the runner root (no shared inode) and runs bin/Runner.Listener run there', { skip: sandboxSkipReason() }, async (t) => {
    const { root, cached } = await runOneJob(t, 'bwrap');
    // The root holds only stubs for the mounts: nothing a job could write through to the cache.
    assert.deepEqual(readdirSync(join(root, 'bin')), [], 'bin/ is an empty mount point');
    assert.equal(statSync(join(root, 'config.sh')).size, 0, 'config.sh is an empty mount point');
    assert.notEqual(statSync(join(root, 'config.sh')).ino, statSync(join(cached, 'config.sh')).ino);
    // The runner wrote its configuration into its own root, not into the cache.
    assert.ok(existsSync(join(root, '.runner')));
    assert.equal(existsSync(join(cached, '.runner')), false);
  });

  it('sandbox: none gives each runner a hard-linked root (the old behaviour)', async (t) => {
    const { root, cached } = await runOneJob(t, 'none');
    assert.equal(statSync(join(root, 'bin', 'Runner.Listener')).ino, statSync(join(cached, 'bin', 'Runner.Listener')).ino);
    assert.ok(existsSync(join(root, '.runner')));
    assert.equal(existsSync(join(cached, '.runner')), false);
  });
});
