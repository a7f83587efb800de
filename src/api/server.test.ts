import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authHeader, startTestRuntime, TEST_API_TOKEN } from '../cli/runtime-test-helpers.ts';

const codeOf = (body: string): string => (JSON.parse(body) as { code: string }).code;

describe('API server', () => {
  it("health checks are public; readiness is jitpool's own (store, providers, webhook intake), never GitHub's, and carries no error text", async (t) => {
    const { runtime, sim } = await startTestRuntime(t);
    const app = runtime.server!;
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ready: true, checks: { store: { ok: true }, providers: { ok: true }, webhook: { ok: true } } });
    // GitHub fails: readiness stays (webhooks must keep coming); the failure is on /status, behind the token.
    sim.setFaults({ apiByEndpoint: { 'GET /orgs/{org}/actions/runners': { errorRate: 1 } } });
    await runtime.controller.reconcileOnce({ syncGitHub: true });
    assert.equal(runtime.controller.githubSync.ok, false);
    const stillReady = await app.inject({ url: '/readyz' });
    assert.equal(stillReady.statusCode, 200);
    assert.doesNotMatch(stillReady.body, /acme|127\.0\.0\.1|error|Server/);
    const status = (await app.inject({ url: '/status', headers: authHeader })).json();
    assert.equal(status.health.github.ok, false);
    assert.match(status.health.github.error, /JP_GITHUB_UNAVAILABLE/);
    assert.equal(status.health.store.ok, true);
    assert.ok(status.health.store.bytes > 0);
  });

  it('every admin route needs the bearer token: none or a wrong one answers 401', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const app = runtime.server!;
    for (const url of ['/status', '/api/v1/runners', '/api/v1/pools', '/api/v1/jobs', '/metrics', '/events']) {
      const none = await app.inject({ url });
      assert.equal(none.statusCode, 401, url);
      assert.equal(codeOf(none.body), 'JP_API_UNAUTHORIZED');
      const wrong = await app.inject({ url, headers: { authorization: 'Bearer not-the-token-at-all' } });
      assert.equal(wrong.statusCode, 401, url);
      const malformed = await app.inject({ url, headers: { authorization: TEST_API_TOKEN } });
      assert.equal(malformed.statusCode, 401, `${url} without the Bearer scheme`);
      assert.ok(!wrong.body.includes(TEST_API_TOKEN));
    }
    const post = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { pool: 'linux' } });
    assert.equal(post.statusCode, 401);
    const ok = await app.inject({ url: '/status', headers: authHeader });
    assert.equal(ok.statusCode, 200);
    const status = ok.json();
    assert.equal(status.controllerId, 'test');
    assert.deepEqual(status.pools.map((p: { name: string; maxConcurrent: number }) => [p.name, p.maxConcurrent]), [['linux', 3], ['gpu', 1]]);
    assert.equal(status.pollIntervalSeconds, 3600);
  });

  it('requests are validated against the route schemas, with the field named', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const app = runtime.server!;
    const cases = [
      { method: 'POST' as const, url: '/api/v1/runners', payload: {}, field: 'pool' },
      { method: 'POST' as const, url: '/api/v1/runners', payload: { pool: 'linux', count: 3 }, field: 'count' },
      { method: 'GET' as const, url: '/api/v1/runners?state=sleeping', field: 'state' },
      { method: 'GET' as const, url: '/api/v1/jobs?limit=0', field: 'limit' },
      { method: 'GET' as const, url: '/api/v1/jobs?color=red', field: 'color' },
      { method: 'POST' as const, url: '/api/v1/pools/linux/scale', payload: { min: -1 }, field: 'min' },
    ];
    for (const c of cases) {
      const res = await app.inject({ method: c.method, url: c.url, payload: c.payload, headers: authHeader });
      assert.equal(res.statusCode, 400, c.url);
      assert.equal(codeOf(res.body), 'JP_INPUT_INVALID');
      assert.match(res.json().message, new RegExp(c.field), `${c.url} names ${c.field}`);
    }
  });

  it('POST /api/v1/runners launches through the planner, within max; unknown pools are 404', async (t) => {
    const { runtime, sim } = await startTestRuntime(t);
    const app = runtime.server!;
    const created = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { pool: 'gpu' }, headers: authHeader });
    assert.equal(created.statusCode, 201, created.body);
    const runner = created.json();
    assert.equal(runner.pool, 'gpu');
    assert.match(runner.name, /^jp-gpu-/);
    await runtime.controller.settle();
    assert.ok(sim.runners().some((r) => r.name === runner.name), 'registered at GitHub (JIT)');
    const full = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { pool: 'gpu' }, headers: authHeader });
    assert.equal(full.statusCode, 409);
    assert.equal(codeOf(full.body), 'JP_POOL_AT_CAPACITY');
    const missing = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { pool: 'nope' }, headers: authHeader });
    assert.equal(missing.statusCode, 404);
    assert.equal(codeOf(missing.body), 'JP_POOL_NOT_FOUND');
    const one = await app.inject({ url: `/api/v1/runners/${runner.id}`, headers: authHeader });
    assert.equal(one.statusCode, 200);
    assert.equal(one.json().state, 'provisioning');
    assert.ok('outputTail' in one.json());
    const unknown = await app.inject({ url: '/api/v1/runners/zzz', headers: authHeader });
    assert.equal(unknown.statusCode, 404);
    assert.equal(codeOf(unknown.body), 'JP_STORE_NOT_FOUND');
    const list = await app.inject({ url: '/api/v1/runners?state=live&pool=gpu', headers: authHeader });
    assert.deepEqual(list.json().runners.map((r: { id: string }) => r.id), [runner.id]);
  });

  it('DELETE deregisters first and removes an idle runner; a busy one answers 409 JP_RUNNER_BUSY', async (t) => {
    const { runtime, sim, providers } = await startTestRuntime(t);
    const app = runtime.server!;
    const launch = async () => {
      const res = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { pool: 'linux' }, headers: authHeader });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as { id: string; name: string };
    };
    const idle = await launch();
    const busy = await launch();
    await runtime.controller.settle();
    const provider = providers.get('linux')!;
    provider.setOnline(idle.name);
    provider.setOnline(busy.name);
    await runtime.controller.reconcileOnce();
    await runtime.controller.settle();
    assert.equal(runtime.store.getRunner(idle.id).state, 'idle');
    runtime.store.updateRunner(busy.id, { state: 'busy' }, 'test', 'took a job');

    const refused = await app.inject({ method: 'DELETE', url: `/api/v1/runners/${busy.id}`, headers: authHeader });
    assert.equal(refused.statusCode, 409);
    assert.equal(codeOf(refused.body), 'JP_RUNNER_BUSY');
    assert.equal(runtime.store.getRunner(busy.id).state, 'busy');

    const removed = await app.inject({ method: 'DELETE', url: `/api/v1/runners/${idle.id}`, headers: authHeader });
    assert.equal(removed.statusCode, 200, removed.body);
    assert.equal(removed.json().state, 'removed');
    assert.ok(!sim.runners().some((r) => r.name === idle.name), 'registration deleted');
    assert.equal(await provider.inspect(idle.name), null, 'compute deleted');
    const reasons = runtime.store.listTransitions({ entityId: idle.id }).map((tr) => tr.toState);
    assert.deepEqual(reasons.slice(-2), ['stopping', 'removed']);
    const again = await app.inject({ method: 'DELETE', url: `/api/v1/runners/${idle.id}`, headers: authHeader });
    assert.equal(again.statusCode, 200, 'deleting a removed runner is idempotent');
  });

  it('pools show counts and accept a clamped sizing; jobs are filtered and paged', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const app = runtime.server!;
    const scaled = await app.inject({ method: 'POST', url: '/api/v1/pools/linux/scale', payload: { min: 1, max: 2, target: 5 }, headers: authHeader });
    assert.equal(scaled.statusCode, 200, scaled.body);
    assert.equal(scaled.json().isClamped, true);
    assert.equal(scaled.json().pool.minIdle, 2);
    assert.equal(scaled.json().pool.max, 2);
    assert.deepEqual(runtime.store.listPoolOverrides().map((o) => [o.pool, o.minIdle, o.max, o.target, o.actor]), [['linux', 1, 2, 2, 'api']]);
    const pools = (await app.inject({ url: '/api/v1/pools', headers: authHeader })).json().pools;
    assert.deepEqual(pools.map((p: { name: string; minIdle: number }) => [p.name, p.minIdle]), [['linux', 2], ['gpu', 0]]);
    assert.deepEqual(pools[0].counts, { booting: 0, idle: 0, busy: 0, stopping: 0, total: 0 });
    const missing = await app.inject({ method: 'POST', url: '/api/v1/pools/nope/scale', payload: { max: 2 }, headers: authHeader });
    assert.equal(missing.statusCode, 404);

    for (const id of [1, 2, 3]) {
      runtime.store.observeJob(
        { id, runId: id, owner: 'acme', repo: 'app', name: `job ${id}`, labels: ['self-hosted', 'linux'], state: id === 3 ? 'in_progress' : 'queued', conclusion: null, runnerName: null, queuedAtMs: 1000 * id, startedAtMs: id === 3 ? 5000 : null, completedAtMs: null },
        'linux',
        'test',
      );
    }
    const queued = (await app.inject({ url: '/api/v1/jobs?state=queued&limit=1', headers: authHeader })).json();
    assert.deepEqual(queued.jobs.map((j: { id: number }) => j.id), [2]);
    const page2 = (await app.inject({ url: '/api/v1/jobs?state=queued&limit=1&offset=1', headers: authHeader })).json();
    assert.deepEqual(page2.jobs.map((j: { id: number }) => j.id), [1]);
    const started = (await app.inject({ url: '/api/v1/jobs?state=in_progress', headers: authHeader })).json();
    assert.equal(started.jobs[0].queueWaitMs, 2000);
  });

  it('/metrics serves the Prometheus text of its own registry', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const app = runtime.server!;
    await runtime.controller.reconcileOnce({ syncGitHub: true });
    const res = await app.inject({ url: '/metrics', headers: authHeader });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain/);
    for (const name of ['jitpool_queue_wait_seconds', 'jitpool_launch_latency_seconds', 'jitpool_reconcile_duration_seconds_count', 'jitpool_github_api_calls_total', 'jitpool_github_rate_limit_remaining', 'jitpool_webhooks_received_total']) {
      assert.ok(res.body.includes(name), name);
    }
  });

  it('a CORS preflight is answered for allowed origins only', async (t) => {
    const { runtime } = await startTestRuntime(t, { configPatch: { api: { host: '127.0.0.1', port: 0, corsOrigins: ['https://ops.example.com'] } } });
    const app = runtime.server!;
    const preflight = (origin: string) =>
      app.inject({ method: 'OPTIONS', url: '/api/v1/pools', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    assert.equal((await preflight('https://ops.example.com')).headers['access-control-allow-origin'], 'https://ops.example.com');
    assert.equal((await preflight('https://evil.example.com')).headers['access-control-allow-origin'], undefined);
  });

  it('the rate limit answers 429 JP_API_RATE_LIMITED; health checks are exempt', async (t) => {
    const { runtime } = await startTestRuntime(t, { configPatch: { api: { host: '127.0.0.1', port: 0, rateLimit: { max: 3, windowSeconds: 60 } } } });
    const app = runtime.server!;
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await app.inject({ url: '/api/v1/pools', headers: authHeader })).statusCode);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(codeOf((await app.inject({ url: '/api/v1/pools', headers: authHeader })).body), 'JP_API_RATE_LIMITED');
    for (let i = 0; i < 5; i += 1) assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  });

  it('with api.admin set, the webhook listener serves no admin route and the admin listener no webhook', async (t) => {
    const { runtime } = await startTestRuntime(t, { configPatch: { api: { host: '127.0.0.1', port: 0, admin: { host: '127.0.0.1', port: 0 } } } });
    assert.notEqual(runtime.url, runtime.adminUrl);
    const pub = runtime.server!;
    const admin = runtime.adminServer!;
    assert.equal((await pub.inject({ url: '/status', headers: authHeader })).statusCode, 404);
    assert.equal((await pub.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await pub.inject({ method: 'POST', url: '/webhook', payload: '{}' })).statusCode, 401, 'unsigned delivery refused by the intake');
    assert.equal((await admin.inject({ url: '/status', headers: authHeader })).statusCode, 200);
    assert.equal((await admin.inject({ method: 'POST', url: '/webhook', payload: '{}', headers: authHeader })).statusCode, 404);
  });

  it('/events streams every store transition live and replays after Last-Event-ID', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const abort = new AbortController();
    t.after(() => abort.abort());
    const open = async (headers: Record<string, string>) => {
      const res = await fetch(`${runtime.url}/events`, { headers: { ...authHeader, ...headers }, signal: abort.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      return {
        async until(predicate: (text: string) => boolean): Promise<string> {
          while (!predicate(text)) {
            const { value, done } = await reader.read();
            if (done) break;
            text += new TextDecoder().decode(value);
          }
          return text;
        },
      };
    };
    const live = await open({});
    await live.until((text) => text.includes(': jitpool events'));
    runtime.store.recordEvent('pool', 'linux', 'degraded', 'test', 'three failures');
    const text = await live.until((x) => x.includes('degraded'));
    const match = /id: (\d+)\nevent: transition\ndata: (.+)\n\n/.exec(text);
    assert.ok(match, text);
    const first = JSON.parse(match[2]!) as { seq: number; entity: string; toState: string };
    assert.deepEqual([first.entity, first.toState, first.seq], ['pool', 'degraded', Number(match[1])]);

    runtime.store.recordEvent('pool', 'linux', 'healthy', 'test');
    const replay = await open({ 'last-event-id': String(first.seq) });
    const replayed = await replay.until((x) => x.includes('healthy'));
    assert.ok(!replayed.includes('degraded'), 'only what came after the last event id');
  });
});
