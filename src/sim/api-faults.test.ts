import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseFaultSpec } from './fault-spec.ts';
import { startSimulator } from './simulator.ts';
import type { FaultSpec } from './fault-spec.ts';

const TIMEOUT_MS = 60_000;
const TOKEN = 'ghp_faults';
const RUNNERS = '/orgs/acme/actions/runners';

async function sim(t: TestContext, seed: number, faults?: FaultSpec) {
  const simulator = await startSimulator({ seed, faults });
  t.after(() => simulator.close());
  return simulator;
}

/** Sends `count` sequential requests and returns the statuses. */
async function statuses(url: string, count: number, method = 'GET', body?: unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(typeof body === 'function' ? (body as (i: number) => unknown)(i) : body),
    });
    await response.arrayBuffer();
    out.push(response.status);
  }
  return out;
}

test('5xx: the error rate answers 500/502/503, counted in stats, and the same seed reproduces the same pattern', { timeout: TIMEOUT_MS }, async (t) => {
  const spec = parseFaultSpec('5xx=0.5');
  const first = await sim(t, 42, spec);
  const second = await sim(t, 42, spec);
  const third = await sim(t, 7, spec);
  const a = await statuses(first.url + RUNNERS, 40);
  const b = await statuses(second.url + RUNNERS, 40);
  const c = await statuses(third.url + RUNNERS, 40);
  assert.deepEqual(a, b, 'same seed, same faults');
  assert.notDeepEqual(a, c, 'another seed, other faults');
  const errors = a.filter((status) => status >= 500);
  assert.ok(errors.length > 5 && errors.length < 35, `about half fail: ${errors.length}/40`);
  assert.ok(errors.every((status) => [500, 502, 503].includes(status)));
  assert.ok(new Set(errors).size >= 2, 'the status is picked among 500, 502, 503');
  assert.equal(first.stats().faults.errors, errors.length);
});

test('5xx scoped to one endpoint leaves the others alone; an injected error has no effect', { timeout: TIMEOUT_MS }, async (t) => {
  const simulator = await sim(t, 1, parseFaultSpec('5xx[POST /orgs/{org}/actions/runners/generate-jitconfig]=1'));
  const jit = await statuses(`${simulator.url}${RUNNERS}/generate-jitconfig`, 3, 'POST', (i: number) => ({ name: `jp-x-${i}`, runner_group_id: 1, labels: ['linux'] }));
  assert.ok(jit.every((status) => status >= 500));
  assert.deepEqual(await statuses(simulator.url + RUNNERS, 3), [200, 200, 200]);
  assert.equal(simulator.runners().length, 0, 'a request answered 5xx was not handled');
  simulator.setFaults({});
  assert.deepEqual(await statuses(`${simulator.url}${RUNNERS}/generate-jitconfig`, 1, 'POST', { name: 'jp-x-9', runner_group_id: 1, labels: ['linux'] }), [201]);
});

test('429burst: the next N requests answer a secondary rate limit with Retry-After, then normal service; the burst re-arms on setFaults', { timeout: TIMEOUT_MS }, async (t) => {
  const simulator = await sim(t, 1, parseFaultSpec('429burst=2'));
  const response = await fetch(simulator.url + RUNNERS, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await response.json()) as { message: string };
  assert.equal(response.status, 429);
  assert.equal(response.headers.get('retry-after'), '1');
  assert.match(body.message, /You have exceeded a secondary rate limit/);
  assert.ok(response.headers.get('x-ratelimit-remaining') !== null);
  assert.deepEqual(await statuses(simulator.url + RUNNERS, 3), [429, 200, 200]);
  simulator.setFaults(parseFaultSpec('429burst=1'));
  assert.deepEqual(await statuses(simulator.url + RUNNERS, 2), [429, 200]);
  assert.equal(simulator.stats().faults.throttled, 3);
  // A secondary-limit answer does not spend the primary budget; the three 200s did.
  assert.equal(simulator.stats().rateLimit.remainingMin, 5000 - 3);
});

test('latency: every answer waits at least the added latency', { timeout: TIMEOUT_MS }, async (t) => {
  const simulator = await sim(t, 1, parseFaultSpec('latency=250ms'));
  const startedMs = performance.now();
  assert.deepEqual(await statuses(simulator.url + RUNNERS, 2), [200, 200]);
  // A lower bound only: the latency is injected, so it cannot be shorter on any machine.
  assert.ok(performance.now() - startedMs >= 2 * 240);
});
