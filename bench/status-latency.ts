import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { median, percentile, round, silentLogger } from '../src/core/index.ts';
import { MemoryProvider } from '../src/providers/index.ts';
import { startSimulator } from '../src/sim/index.ts';

const RUNNERS = 1000;
const REQUESTS = 40;
const WARMUP = 5;

/**
 * Latency of `GET /status` over real loopback HTTP (bearer auth, schema serialisation) with
 * 1,000 live runners tracked in the SQLite store: median and p95 of 40 requests after 5 warm-up ones.
 */
export async function benchStatusLatency(): Promise<{ runners: number; medianMs: number; p95Ms: number }> {
  const sim = await startSimulator();
  const stateDir = mkdtempSync(join(tmpdir(), 'jp-bench-status-'));
  const token = 'bench-admin-token-0123456789abcdef';
  const provider = { kind: 'process' as const, command: ['/bin/true'] };
  const config = configSchema.parse({
    controllerId: 'bench',
    github: { apiUrl: sim.url, auth: { kind: 'pat', token: { env: ['JITPOOL_GITHUB_TOKEN'] } } },
    store: { stateDir },
    api: { host: '127.0.0.1', port: 0, rateLimit: { max: 100_000, windowSeconds: 60 } },
    pools: ['linux', 'arm', 'gpu', 'large'].map((name) => ({ name, scope: { kind: 'org', org: 'bench' }, labels: ['self-hosted', name], provider, max: 500 })),
  });
  const memory = new MemoryProvider('bench');
  const runtime = await startRuntime({
    config,
    logger: silentLogger(),
    env: { JITPOOL_GITHUB_TOKEN: 'ghp_bench_0123456789', JITPOOL_WEBHOOK_SECRET: 'bench-webhook-secret-0123', JITPOOL_API_TOKEN: token },
    providers: new Map(config.pools.map((pool) => [pool.name, memory])),
    noLoop: true,
  });
  try {
    const pools = config.pools.map((pool) => pool.name);
    runtime.store.transaction(() => {
      for (let i = 0; i < RUNNERS; i += 1) {
        const pool = pools[i % pools.length]!;
        const id = `b${i.toString(36).padStart(5, '0')}`;
        runtime.store.insertRunner({ id, name: `jp-${pool}-${id}`, pool, labels: ['self-hosted', pool, 'jitpool-bench'] }, 'bench');
        runtime.store.updateRunner(id, { state: 'provisioning', githubRunnerId: i + 1, computeId: `jp-${pool}-${id}` }, 'bench');
        if (i % 3 !== 0) runtime.store.updateRunner(id, { state: 'idle' }, 'bench');
        if (i % 3 === 2) runtime.store.updateRunner(id, { state: 'busy', jobId: 10_000 + i }, 'bench');
      }
    });
    const url = `${runtime.adminUrl}/status`;
    const headers = { authorization: `Bearer ${token}` };
    const timings: number[] = [];
    for (let i = 0; i < WARMUP + REQUESTS; i += 1) {
      const started = performance.now();
      const res = await fetch(url, { headers });
      const body = (await res.json()) as { pools: Array<{ activeRunners: unknown[] }> };
      const elapsed = performance.now() - started;
      if (res.status !== 200) throw new Error(`GET /status answered ${res.status}`);
      const tracked = body.pools.reduce((sum, pool) => sum + pool.activeRunners.length, 0);
      if (tracked !== RUNNERS) throw new Error(`GET /status listed ${tracked} runners, expected ${RUNNERS}`);
      if (i >= WARMUP) timings.push(elapsed);
    }
    return { runners: RUNNERS, medianMs: round(median(timings), 2), p95Ms: round(percentile(timings, 95), 2) };
  } finally {
    await runtime.stop(5000);
    await sim.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchStatusLatency()));
}
