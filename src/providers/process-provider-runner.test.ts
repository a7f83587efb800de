import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { buildRunnerArchive, forceRemove, servePackage } from '../runner/runner-test-helpers.ts';
import { startSimulator } from '../sim/index.ts';
import { createJitRunner, simOctokit } from '../sim/sim-test-helpers.ts';
import { ProcessProvider } from './process-provider.ts';

describe('process provider with the runner package', () => {
  it('gives each runner a hard-linked root and runs bin/Runner.Listener run there', async (t) => {
    const pkg = await buildRunnerArchive({ listener: 'fake-runner' });
    const server = await servePackage(pkg.bytes);
    const sim = await startSimulator({ offlineAfterMs: 5000 });
    const dir = mkdtempSync(join(tmpdir(), 'jp-prov-runner-'));
    const provider = new ProcessProvider({
      controllerId: 'test',
      workRoot: join(dir, 'work'),
      runnerPackage: { version: '2.330.0', sha256: pkg.sha256, urlTemplate: `${server.url}/{version}/{arch}.tar.gz`, cacheDir: join(dir, 'cache') },
      killGraceSeconds: 2,
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
    const root = join(dir, 'work', 'jp-linux-0001');
    const cached = readdirSync(join(dir, 'cache')).find((name) => !name.endsWith('.tar.gz'))!;
    assert.equal(statSync(join(root, 'bin', 'Runner.Listener')).ino, statSync(join(dir, 'cache', cached, 'bin', 'Runner.Listener')).ino);
    await sim.waitFor((s) => s.jobs().find((j) => j.id === job.id)?.status === 'completed', 60_000);
    for (let i = 0; i < 200 && (await provider.inspect('jp-linux-0001'))?.state !== 'exited'; i++) await new Promise((r) => setTimeout(r, 100));
    const done = await provider.inspect('jp-linux-0001');
    assert.equal(done?.exitCode, 0);
    // The runner wrote its configuration into its own root, not into the cache.
    assert.ok(existsSync(join(root, '.runner')));
    assert.equal(existsSync(join(dir, 'cache', cached, '.runner')), false);
  });
});
