import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Octokit } from '@octokit/rest';
import { runnerName, shortId } from '../core/index.ts';
import { startSimulator, type Simulator } from '../sim/index.ts';
import type { ComputeInfo, ComputeSpec, Provider } from './types.ts';

/**
 * The one contract every provider passes (CONVENTIONS §6), run against the in-memory, process
 * and Docker providers by `src/providers/*.contract.test.ts`. Each runner is the fake runner
 * talking to a real simulator, so "online", "exit" and exit codes are observed, not assumed.
 * A test helper: never imported by production code.
 */

/** How the contract reaches one provider implementation. */
export interface ProviderContractTarget {
  /** Builds a provider for `controllerId` (the suite uses two ids to check isolation). */
  make(controllerId: string): Provider | Promise<Provider>;
  /** Address the simulator listens on, reachable by the runners (a bridge gateway for Docker). @default 127.0.0.1 */
  simHost?: string;
  /** Address runners reach the simulator at when it differs from where it listens (10.0.2.2 from a QEMU guest). @default simHost */
  simAdvertiseHost?: string;
  /** The command line the runner of `computeId` runs with, or null when it has no process (memory). */
  argvOf?(computeId: string): Promise<string[] | null>;
  /** What is left of `computeId` after delete (work dirs, containers, networks): [] when nothing. */
  leftovers?(computeId: string): Promise<string[]>;
  /** `logs()` returns the runner's real output. */
  capturesOutput: boolean;
  /** A reason to skip the whole suite (e.g. no Docker engine reachable), or false. */
  skip?: string | false;
  /** Runs after the suite (e.g. removes what `make` set up). */
  teardown?(): Promise<void>;
}

const POOL = 'contract';
const LABELS = ['self-hosted', 'linux', 'contract'];
const WAIT_MS = 90_000;

/** Defines the provider contract suite for one implementation. */
export function defineProviderContract(name: string, target: ProviderContractTarget): void {
  describe(`provider contract: ${name}`, { skip: target.skip || false, timeout: 10 * 60_000 }, () => {
    const controllerId = `ct-${shortId(3)}`;
    let sim: Simulator;
    let octokit: Octokit;
    let provider: Provider;
    const created = new Set<string>();

    before(async () => {
      sim = await startSimulator({ host: target.simHost ?? '127.0.0.1', advertiseHost: target.simAdvertiseHost, offlineAfterMs: 8000, acquirePollMs: 2000 });
      octokit = new Octokit({ baseUrl: sim.url, auth: 'ghp_contract', log: { debug() {}, info() {}, warn() {}, error() {} } });
      provider = await target.make(controllerId);
    });
    after(async () => {
      for (const computeId of created) await provider.delete(computeId).catch(() => {});
      await provider?.close();
      await sim?.close();
      await target.teardown?.();
    });

    const spec = async (options: { validJitConfig?: boolean; owner?: string } = {}): Promise<ComputeSpec> => {
      const id = shortId();
      const name = runnerName(POOL, id);
      // A label of its own, so a job queued for this runner cannot go to another one still registered.
      const labels = [...LABELS, `r-${id}`];
      let jitConfig = Buffer.from(JSON.stringify({ '.runner': 'bm90IGpzb24=' })).toString('base64');
      if (options.validJitConfig !== false) {
        const { data } = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'contract-org', name, runner_group_id: 1, labels });
        jitConfig = data.encoded_jit_config;
      }
      const ownerId = options.owner ?? controllerId;
      const context = { runner_name: name, pool: POOL, scope: 'contract-org', repo_owner: 'contract-org', repo_name: '', timestamp: '0', hostname: 'test', controller_id: ownerId };
      return { runnerId: id, runnerName: name, pool: POOL, controllerId: ownerId, labels, jitConfig, context };
    };
    const create = async (p: Provider, s: ComputeSpec): Promise<ComputeInfo> => {
      if (p === provider) created.add(s.runnerName);
      return p.create(s);
    };
    const exitOf = (computeId: string, events: ComputeInfo[]) =>
      waitFor(async () => {
        const pushed = events.find((info) => info.computeId === computeId && info.state === 'exited');
        if (pushed) return pushed;
        // Providers that do not push exits are polled (the controller's periodic list does the same).
        if (provider.capabilities.pushesExit) return null;
        const info = await provider.inspect(computeId);
        return info?.state === 'exited' ? info : null;
      }, `exit of ${computeId}`);

    test('create → list → inspect → online → takes a job → exit pushed → delete removes everything, idempotently', async () => {
      const events: ComputeInfo[] = [];
      const unsubscribe = provider.onChange((info) => events.push(info));
      try {
        const s = await spec();
        const info = await create(provider, s);
        assert.equal(info.computeId, s.runnerName);
        assert.deepEqual([info.runnerId, info.runnerName, info.pool, info.controllerId], [s.runnerId, s.runnerName, POOL, controllerId]);
        assert.ok(info.state === 'starting' || info.state === 'running', `state ${info.state}`);
        assert.deepEqual((await create(provider, s)).computeId, info.computeId, 'create is idempotent');

        const listed = (await provider.list()).find((c) => c.computeId === info.computeId);
        assert.ok(listed, 'list() shows the new compute');
        assert.deepEqual([listed.runnerId, listed.pool, listed.controllerId], [s.runnerId, POOL, controllerId]);
        const inspected = await provider.inspect(info.computeId);
        assert.equal(inspected?.runnerId, s.runnerId);

        if (provider.capabilities.reportsOnline) {
          await waitFor(async () => (await provider.inspect(info.computeId))?.isOnline || null, 'runner online');
        }
        await sim.waitFor((state) => state.runners().some((r) => r.name === s.runnerName && r.status === 'online'), WAIT_MS);
        const job = sim.queueJob({ owner: 'contract-org', repo: 'app', labels: s.labels, durationMs: 300 });
        const exited = await exitOf(info.computeId, events);
        assert.equal(exited.exitCode, 0, 'a runner that finished its job exits 0');
        assert.equal(sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success');
        if (target.capturesOutput) {
          const logs = await provider.logs(info.computeId, 50);
          assert.match(logs, /Listening for Jobs/);
          assert.match(logs, /completed with result: Succeeded/);
          assert.ok(!logs.includes(s.jitConfig), 'the JIT config is not in the output');
        }

        await provider.delete(info.computeId);
        await provider.delete(info.computeId);
        assert.equal(await provider.inspect(info.computeId), null);
        assert.ok(!(await provider.list()).some((c) => c.computeId === info.computeId), 'gone from list()');
        assert.deepEqual((await target.leftovers?.(info.computeId)) ?? [], []);
        await provider.delete('jp-contract-never-created');
      } finally {
        unsubscribe();
      }
    });

    test('the JIT config never appears on the command line; delete stops a running runner', async () => {
      const s = await spec();
      const info = await create(provider, s);
      await waitFor(async () => ((await provider.inspect(info.computeId))?.state === 'running' ? true : null), 'running');
      const argv = await target.argvOf?.(info.computeId);
      if (argv) {
        assert.ok(argv.length > 0, 'argv was read');
        for (const arg of argv) assert.ok(!arg.includes(s.jitConfig.slice(0, 24)), `argv holds the JIT config: ${arg.slice(0, 60)}`);
      }
      await provider.delete(info.computeId);
      assert.equal(await provider.inspect(info.computeId), null);
      assert.deepEqual((await target.leftovers?.(info.computeId)) ?? [], []);
    });

    test('a runner that exits at once and one that crashes mid-job report their exit codes', async () => {
      const events: ComputeInfo[] = [];
      const unsubscribe = provider.onChange((info) => events.push(info));
      try {
        const bad = await create(provider, await spec({ validJitConfig: false }));
        const badExit = await exitOf(bad.computeId, events);
        assert.equal(badExit.exitCode, 1, 'an invalid JIT config ends the runner with exit code 1');
        if (target.capturesOutput) assert.match(await provider.logs(bad.computeId, 20), /JIT config is not valid/);
        assert.equal((await provider.inspect(bad.computeId))?.state, 'exited', 'exited compute stays inspectable until deleted');

        const s = await spec();
        const crasher = await create(provider, s);
        await sim.waitFor((state) => state.runners().some((r) => r.name === s.runnerName && r.status === 'online'), WAIT_MS);
        sim.queueJob({ owner: 'contract-org', repo: 'app', labels: s.labels, durationMs: 400, dieMidJob: true });
        const crashExit = await exitOf(crasher.computeId, events);
        assert.equal(crashExit.exitCode, 137);
        for (const id of [bad.computeId, crasher.computeId]) await provider.delete(id);
      } finally {
        unsubscribe();
      }
    });

    test('list, inspect and delete only ever touch this controller’s compute', async () => {
      const other = await target.make(`${controllerId}-x`);
      const s = await spec({ validJitConfig: false, owner: `${controllerId}-x` });
      try {
        const theirs = await other.create(s);
        assert.ok(!(await provider.list()).some((c) => c.computeId === theirs.computeId), 'not in our list()');
        assert.equal(await provider.inspect(theirs.computeId), null);
        await provider.delete(theirs.computeId);
        assert.ok(await other.inspect(theirs.computeId), 'our delete left theirs alone');
        assert.ok((await other.list()).some((c) => c.computeId === theirs.computeId));
        assert.ok((await other.list()).every((c) => c.controllerId === `${controllerId}-x`));
      } finally {
        await other.delete(s.runnerName).catch(() => {});
        await other.close();
      }
      assert.deepEqual((await target.leftovers?.(s.runnerName)) ?? [], []);
    });
  });
}

/** Polls `probe` until it returns a non-null value (generous timeout: slow shared machines). */
export async function waitFor<T>(probe: () => Promise<T | null | false>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
