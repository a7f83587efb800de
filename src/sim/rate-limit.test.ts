import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate-limiter.ts';
import { startSimulator } from './simulator.ts';

const TIMEOUT_MS = 60_000;

test('an exhausted token gets 403 with x-ratelimit-remaining 0; 304 and /rate_limit are free; tokens are separate', { timeout: TIMEOUT_MS }, async (t) => {
  const sim = await startSimulator({ rateLimit: { limit: 3 } });
  t.after(() => sim.close());
  const get = (path: string, token: string, etag?: string) =>
    fetch(`${sim.url}${path}`, { headers: { authorization: `token ${token}`, ...(etag ? { 'if-none-match': etag } : {}) } });

  const first = await get('/orgs/acme/actions/runners', 'a');
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-ratelimit-limit'), '3');
  assert.equal(first.headers.get('x-ratelimit-remaining'), '2');
  assert.equal(first.headers.get('x-ratelimit-used'), '1');
  assert.equal(first.headers.get('x-ratelimit-resource'), 'core');
  const resetEpochSeconds = Number(first.headers.get('x-ratelimit-reset'));
  assert.ok(resetEpochSeconds > Date.now() / 1000 && resetEpochSeconds <= Date.now() / 1000 + 3601);

  const etag = first.headers.get('etag') ?? '';
  for (let i = 0; i < 3; i++) assert.equal((await get('/orgs/acme/actions/runners', 'a', etag)).status, 304);
  assert.equal((await get('/rate_limit', 'a')).status, 200);
  assert.equal((await get('/orgs/acme/actions/runners', 'a')).status, 200);
  const last = await get('/repos/acme/app/actions/runs', 'a');
  assert.equal(last.headers.get('x-ratelimit-remaining'), '0');

  const limited = await get('/orgs/acme/actions/runners', 'a');
  assert.equal(limited.status, 403);
  assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
  assert.equal(limited.headers.get('x-ratelimit-reset'), String(resetEpochSeconds));
  assert.match(((await limited.json()) as { message: string }).message, /^API rate limit exceeded for /);

  const overview = (await (await get('/rate_limit', 'a')).json()) as { resources: { core: { remaining: number; used: number } }; rate: { limit: number } };
  assert.equal(overview.resources.core.remaining, 0);
  assert.equal(overview.resources.core.used, 3);
  assert.equal(overview.rate.limit, 3);

  assert.equal((await get('/orgs/acme/actions/runners', 'b')).status, 200);
  const stats = sim.stats();
  assert.equal(stats.rateLimit.remainingMin, 0);
  assert.equal(stats.calls.notModified, 3);
  assert.equal(stats.calls.counted, 4);
  assert.equal(stats.calls.total, 10);
});

test('a window resets after windowMs', () => {
  const limiter = new RateLimiter(2, 1000);
  limiter.consume('t', 0);
  limiter.consume('t', 10);
  assert.equal(limiter.isExhausted('t', 500), true);
  assert.equal(limiter.peek('t', 999).remaining, 0);
  assert.equal(limiter.isExhausted('t', 1000), false);
  assert.equal(limiter.peek('t', 1000).resetEpochSeconds, 2);
});
