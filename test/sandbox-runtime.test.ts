import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startRuntime } from '../src/cli/runtime.ts';
import { TEST_ENV, testConfig } from '../src/cli/runtime-test-helpers.ts';
import { configSchema, sensitivePathsOf, resolveConfigPaths } from '../src/config/index.ts';
import { createLogger, isJitpoolError, silentLogger } from '../src/core/index.ts';
import { MemoryProvider, ProcessProvider, type Provider } from '../src/providers/index.ts';
import { startSimulator } from '../src/sim/index.ts';

/** A logger whose lines are kept, parsed. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'warn', destination: stream }), lines };
}

describe('the runtime and the process sandbox', () => {
  it('warns at start for every pool that runs jobs without a sandbox', async (t) => {
    const sim = await startSimulator();
    const stateDir = mkdtempSync(join(tmpdir(), 'jp-sb-rt-'));
    const config = testConfig(sim.url, stateDir);
    const unsandboxed = configSchema.parse({ ...config, pools: config.pools.map((pool) => (pool.name === 'gpu' ? { ...pool, provider: { ...pool.provider, sandbox: 'none' } } : pool)) });
    const { logger, lines } = capturingLogger();
    const providers = new Map(unsandboxed.pools.map((pool) => [pool.name, new MemoryProvider('test')]));
    const runtime = await startRuntime({ config: unsandboxed, logger, env: TEST_ENV, providers, noServer: true });
    t.after(async () => {
      await runtime.stop(5000);
      await sim.close();
      rmSync(stateDir, { recursive: true, force: true });
    });
    logger.flush();
    const warnings = lines.filter((line) => line.sandbox === 'none');
    assert.deepEqual(warnings.map((line) => line.pool), ['gpu']);
    assert.equal(warnings[0]!.level, 40);
  });

  it('refuses to start when a sandboxed pool’s sandbox cannot start, naming the pool and the fix, and leaves the store free', async (t) => {
    const sim = await startSimulator();
    const stateDir = mkdtempSync(join(tmpdir(), 'jp-sb-rt-'));
    t.after(async () => {
      await sim.close();
      rmSync(stateDir, { recursive: true, force: true });
    });
    const config = testConfig(sim.url, stateDir);
    const broken = new ProcessProvider({ controllerId: 'test', command: ['/bin/true'], workRoot: join(stateDir, 'work'), sandbox: { bwrapPath: '/nonexistent/bwrap' }, logger: silentLogger() });
    const providers = new Map<string, Provider>([['linux', broken], ['gpu', new MemoryProvider('test')]]);
    await assert.rejects(
      startRuntime({ config, logger: silentLogger(), env: TEST_ENV, providers, noServer: true }),
      (err: unknown) => isJitpoolError(err, 'JP_SANDBOX_UNAVAILABLE') && err.message.startsWith('pool linux: ') && /apt-get install bubblewrap/.test(err.message),
    );
    // The failed start let go of the store: a start with working providers succeeds.
    const runtime = await startRuntime({ config, logger: silentLogger(), env: TEST_ENV, providers: new Map([['linux', new MemoryProvider('test')], ['gpu', new MemoryProvider('test')]]), noServer: true });
    await runtime.stop(5000);
  });

  it('hides the state dir, the SQLite file elsewhere, the secret files and the config file', () => {
    const config = resolveConfigPaths(
      configSchema.parse({
        github: { auth: { kind: 'app', appId: 1, installationId: 2, privateKeyFile: 'keys/app.pem' } },
        webhook: { secret: { env: [], file: 'secrets/webhook' } },
        api: { auth: { token: { file: '/etc/jitpool/admin-token' } } },
        store: { stateDir: 'state', sqlitePath: '/var/lib/jp/db.sqlite' },
        pools: [{ name: 'p', scope: { kind: 'org', org: 'acme' }, labels: ['x'], provider: { kind: 'process', command: ['/bin/true'] } }],
      }),
      '/srv/jitpool',
    );
    assert.deepEqual(sensitivePathsOf(config, 'jitpool.yaml').sort(), [
      '/etc/jitpool/admin-token', '/srv/jitpool/keys/app.pem', '/srv/jitpool/secrets/webhook', '/srv/jitpool/state',
      join(process.cwd(), 'jitpool.yaml'), '/var/lib/jp/db.sqlite', '/var/lib/jp/db.sqlite-journal', '/var/lib/jp/db.sqlite-shm', '/var/lib/jp/db.sqlite-wal',
    ].sort());
  });

  it('config: the sandbox is on by default; settings that need it are refused without it', () => {
    const pool = (provider: Record<string, unknown>) => ({ pools: [{ name: 'p', scope: { kind: 'org', org: 'acme' }, labels: ['x'], provider: { kind: 'process', command: ['/bin/true'], ...provider } }] });
    const parsed = configSchema.parse(pool({})).pools[0]!.provider;
    assert.equal(parsed.kind === 'process' && parsed.sandbox, 'bwrap');
    assert.equal(parsed.kind === 'process' && parsed.network, 'host');
    assert.equal(configSchema.safeParse(pool({ sandbox: 'none', network: 'none' })).success, false);
    assert.equal(configSchema.safeParse(pool({ sandbox: 'none', readOnlyPaths: ['/opt/x'] })).success, false);
    for (const path of ['relative', '/', '/proc/1', '/sys']) assert.equal(configSchema.safeParse(pool({ readOnlyPaths: [path] })).success, false, path);
    assert.equal(configSchema.safeParse(pool({ sandbox: 'firejail' })).success, false);
    assert.equal(configSchema.safeParse(pool({ network: 'none', readOnlyPaths: ['/opt/tools'], runnerUids: { first: 200000, count: 100 } })).success, true);
  });
});
