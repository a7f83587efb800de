import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { startRuntime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { silentLogger } from '../src/core/index.ts';
import { RemoteProvider } from './runner-host.ts';

/**
 * The controller in a process of its own, for `benchSustainedAlone`: the daemon's runtime (store,
 * API, webhook intake, poller, reconcile loop) against the simulator at JP_BENCH_SIM_URL, its
 * runners on the runner host at JP_BENCH_RUNNER_HOST_URL. The test tokens come in the environment
 * (never argv). Prints one JSON line `{ "url": … }` once it listens; stops on SIGTERM.
 */
const env = process.env;
const max = Number(env.JP_BENCH_MAX ?? 550);
const stateDir = mkdtempSync(join(tmpdir(), 'jp-bench-alone-'));
const config = configSchema.parse({
  controllerId: 'bench-alone',
  github: { apiUrl: env.JP_BENCH_SIM_URL, auth: { kind: 'pat', token: { env: ['JP_BENCH_TOKEN'] } }, writeConcurrency: 16 },
  webhook: { secret: { env: ['JP_BENCH_SECRET'] } },
  poll: { repos: ['acme/app'] },
  store: { stateDir },
  api: { host: '127.0.0.1', port: 0, auth: { token: { env: ['JP_BENCH_API_TOKEN'] } } },
  controller: { concurrency: 32 },
  pools: [{ name: 'linux', scope: { kind: 'org', org: 'acme' }, labels: ['self-hosted', 'linux'], provider: { kind: 'process', command: ['unused'] }, max, idleGraceSeconds: 5 }],
});
const runtime = await startRuntime({
  config, logger: silentLogger(), env,
  providers: new Map([['linux', new RemoteProvider(env.JP_BENCH_RUNNER_HOST_URL ?? '')]]),
});
process.stdout.write(`${JSON.stringify({ url: runtime.url })}\n`);
// SIGUSR2: the process's memory by kind on stderr, and a heap snapshot when JP_BENCH_HEAP_SNAPSHOT names a directory.
process.on('SIGUSR2', () => {
  process.stderr.write(`controller memory: ${JSON.stringify(process.memoryUsage())}\n`);
  if (env.JP_BENCH_HEAP_SNAPSHOT) process.stderr.write(`heap snapshot: ${writeHeapSnapshot(join(env.JP_BENCH_HEAP_SNAPSHOT, `controller-${Date.now()}.heapsnapshot`))}\n`);
});
process.once('SIGTERM', () => {
  void runtime.stop(10_000).finally(() => {
    rmSync(stateDir, { recursive: true, force: true });
    process.exit(0);
  });
});
