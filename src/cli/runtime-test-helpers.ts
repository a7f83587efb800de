import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { configSchema, type Config } from '../config/index.ts';
import { silentLogger } from '../core/index.ts';
import { MemoryProvider } from '../providers/index.ts';
import { startSimulator, type Simulator } from '../sim/index.ts';
import { startRuntime, type Runtime } from './runtime.ts';

/** Helpers shared by the API and CLI tests (not part of the public surface; never imported by production code). */

/** The admin token the test runtimes use. */
export const TEST_API_TOKEN = 'test-admin-token-0123456789abcdef';

/** A config for tests: two org pools on the memory provider, against `apiUrl`. */
export function testConfig(apiUrl: string, stateDir: string, patch: Record<string, unknown> = {}): Config {
  const provider = { kind: 'process' as const, command: ['/bin/true'] };
  return configSchema.parse({
    controllerId: 'test',
    github: { apiUrl, auth: { kind: 'pat', token: { env: ['JITPOOL_GITHUB_TOKEN'] } } },
    webhook: { secret: { env: ['JITPOOL_WEBHOOK_SECRET'] } },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0 },
    controller: { reconcileIntervalSeconds: 3600, githubSyncIntervalSeconds: 3600 },
    pools: [
      { name: 'linux', scope: { kind: 'org', org: 'acme' }, labels: ['self-hosted', 'linux'], provider, minIdle: 0, max: 3, idleGraceSeconds: 3600 },
      { name: 'gpu', scope: { kind: 'org', org: 'acme' }, labels: ['self-hosted', 'gpu'], provider, minIdle: 0, max: 1, idleGraceSeconds: 3600 },
    ],
    ...patch,
  });
}

/** The environment the test runtimes read their secrets from. */
export const TEST_ENV = { JITPOOL_GITHUB_TOKEN: 'ghp_test_token_0123456789', JITPOOL_WEBHOOK_SECRET: 'webhook-secret-0123456789', JITPOOL_API_TOKEN: TEST_API_TOKEN };

/** A simulator and a runtime on memory providers, without the reconcile loop; closed after the test. */
export async function startTestRuntime(
  t: TestContext,
  options: { noServer?: boolean; configPatch?: Record<string, unknown>; simulator?: Simulator } = {},
): Promise<{ sim: Simulator; runtime: Runtime; providers: Map<string, MemoryProvider>; stateDir: string; config: Config }> {
  const sim = options.simulator ?? (await startSimulator());
  const stateDir = mkdtempSync(join(tmpdir(), 'jp-api-'));
  const config = testConfig(sim.url, stateDir, options.configPatch);
  const provider = new MemoryProvider('test');
  const providers = new Map(config.pools.map((pool) => [pool.name, provider]));
  const runtime = await startRuntime({ config, logger: silentLogger(), env: TEST_ENV, providers, noLoop: true, noServer: options.noServer });
  t.after(async () => {
    await runtime.stop(5000);
    if (!options.simulator) await sim.close();
    rmSync(stateDir, { recursive: true, force: true });
  });
  return { sim, runtime, providers, stateDir, config };
}

/** The Authorization header with the test token. */
export const authHeader = { authorization: `Bearer ${TEST_API_TOKEN}` };
