import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRuntime, type Runtime } from '../../src/cli/runtime.ts';
import { configSchema } from '../../src/config/index.ts';
import { silentLogger, type Logger } from '../../src/core/index.ts';
import { MemoryProvider } from '../../src/providers/index.ts';
import { runFakeRunner, startSimulator, type Simulator } from '../../src/sim/index.ts';

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  /** Pool settings merged over the defaults (one pool named `linux`). */
  pool?: Record<string, unknown>;
  /** Extra config merged at the top level. */
  config?: Record<string, unknown>;
  /** Start fake runners for created compute (default true); false leaves compute that never boots. */
  runFakeRunners?: boolean;
  /** Deliver webhooks (default true). */
  webhooks?: boolean;
  logger?: Logger;
  simOptions?: Parameters<typeof startSimulator>[0];
  /** Extra environment for the runtime (secrets named in `config`). */
  env?: Record<string, string>;
  /**
   * The provider reports a runner online once it prints "Listening for Jobs" (default true);
   * false models a provider that cannot tell (or forgot after a restart), so only GitHub can.
   */
  reportsOnline?: boolean;
}

/** A simulator, a runtime on the in-memory provider whose compute runs fake runners in-process, and cleanup. */
export interface Harness {
  sim: Simulator;
  runtime: Runtime;
  provider: MemoryProvider;
  stateDir: string;
  /** The admin API's bearer token. */
  apiToken: string;
  /** Compute deletions in order, with the time they happened. */
  deletions: Array<{ computeId: string; atMs: number }>;
  /**
   * Stops the runtime (its runners keep running, as they would on a real host) and starts a new
   * one on the same state dir, provider and simulator; `wipeStore` deletes the database first
   * (a lost or wiped state dir).
   */
  restart(options?: { wipeStore?: boolean }): Promise<Runtime>;
  close(): Promise<void>;
}

/**
 * The controller against the simulator with runners that behave like real ones (the fake runner's
 * logic, in-process, so tests do not pay a process start per runner).
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const stateDir = mkdtempSync(join(tmpdir(), 'jitpool-test-'));
  const sim = await startSimulator({ offlineAfterMs: 3000, ...options.simOptions });
  const provider = new MemoryProvider('test');
  const aborts = new Map<string, AbortController>();
  const deletions: Harness['deletions'] = [];
  const originalDelete = provider.delete.bind(provider);
  provider.delete = async (computeId: string) => {
    deletions.push({ computeId, atMs: Date.now() });
    aborts.get(computeId)?.abort();
    aborts.delete(computeId);
    await originalDelete(computeId);
  };
  if (options.runFakeRunners !== false) {
    provider.afterCreate = (spec) => {
      const abort = new AbortController();
      aborts.set(spec.runnerName, abort);
      void runFakeRunner({
        jitConfig: spec.jitConfig,
        workDir: join(stateDir, 'work', spec.runnerName),
        signal: abort.signal,
        print: (line) => {
          if (line.includes('Listening for Jobs') && options.reportsOnline !== false) provider.setOnline(spec.runnerName);
        },
        printError: () => {},
      }).then((code) => {
        if (!abort.signal.aborted) provider.exit(spec.runnerName, code);
      });
    };
  }
  const secret = randomBytes(16).toString('hex');
  const apiToken = randomBytes(16).toString('hex');
  const extra = (options.config ?? {}) as Record<string, Record<string, unknown>>;
  // Sections given in `options.config` are merged over the harness's own, key by key.
  const config = configSchema.parse({
    ...extra,
    controllerId: 'test',
    github: { apiUrl: sim.url, auth: { kind: 'pat', token: { env: ['T'] } }, ...extra.github },
    webhook: { enabled: options.webhooks !== false, secret: { env: ['S'] }, ...extra.webhook },
    poll: { intervalSeconds: 1, backstopIntervalSeconds: 2, repos: ['acme/app'], ...extra.poll },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0, auth: { token: { env: ['A'] } }, ...extra.api },
    controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 2, ghostMinAgeSeconds: 0, ...extra.controller },
    pools: [{ name: 'linux', scope: { kind: 'org', org: 'acme' }, labels: ['self-hosted', 'linux'], provider: { kind: 'process', command: ['unused'] }, max: 4, idleGraceSeconds: 0, ...options.pool }],
  });
  const env = { T: `ghp_${randomBytes(12).toString('hex')}`, S: secret, A: apiToken, ...options.env };
  const start = async () => {
    const started = await startRuntime({ config, logger: options.logger ?? silentLogger(), env, providers: new Map([['linux', provider]]) });
    if (options.webhooks !== false) sim.setWebhookTarget({ url: `${started.url}/webhook`, secret });
    return started;
  };
  let runtime = await start();
  const harness: Harness = {
    sim,
    runtime,
    provider,
    stateDir,
    apiToken,
    deletions,
    async restart(restartOptions = {}) {
      await runtime.stop(5000);
      if (restartOptions.wipeStore) {
        for (const suffix of ['', '-wal', '-shm']) rmSync(join(stateDir, `jitpool.sqlite${suffix}`), { force: true });
      }
      runtime = await start();
      harness.runtime = runtime;
      return runtime;
    },
    async close() {
      await harness.runtime.controller.drain(10_000).catch(() => 0);
      await harness.runtime.stop(5000);
      for (const abort of aborts.values()) abort.abort();
      await sim.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Polls `predicate` every 50 ms until it holds; throws with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
