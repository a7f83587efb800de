import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isJitpoolError } from '../core/index.ts';
import { parseFaultSpec, validateFaultSpec } from './fault-spec.ts';

test('parseFaultSpec: the documented example and every key', () => {
  assert.deepEqual(parseFaultSpec('5xx=0.1,429burst=1,latency=200ms,drop=0.3,dup=0.1,reorder=0.2,delay=500ms,noboot=0.05,die=0.02'), {
    api: { errorRate: 0.1, throttleBurst: 1, latencyMs: 200 },
    webhooks: { dropRate: 0.3, duplicateRate: 0.1, reorderRate: 0.2, delayMs: 500 },
    runners: { noBootRate: 0.05, dieRate: 0.02 },
  });
});

test('parseFaultSpec: scopes, percentages, seconds, bare milliseconds, spaces, empty text', () => {
  assert.deepEqual(
    parseFaultSpec(' 5xx[POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig]=20% , latency[GET /orgs/{org}/actions/runners/]=2s, drop[in_progress]=.5, delay=150 '),
    {
      apiByEndpoint: {
        'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig': { errorRate: 0.2 },
        'GET /orgs/{org}/actions/runners': { latencyMs: 2000 },
      },
      webhooksByAction: { in_progress: { dropRate: 0.5 } },
      webhooks: { delayMs: 150 },
    },
  );
  assert.deepEqual(parseFaultSpec(''), {});
  assert.deepEqual(parseFaultSpec('5xx=0,5xx=1'), { api: { errorRate: 1 } }, 'the last value of a key wins');
});

test('parseFaultSpec: a bad spec is JP_INPUT_INVALID naming the bad part', () => {
  const cases: Array<[string, string]> = [
    ['5xx=0.1,explode=1', 'explode=1'],
    ['drop=1.5', 'drop=1.5'],
    ['drop=-1', 'drop=-1'],
    ['429burst=0.5', '429burst=0.5'],
    ['latency=fast', 'latency=fast'],
    ['latency', 'latency'],
    ['5xx[/repos]=0.1', '5xx[/repos]=0.1'],
    ['drop[started]=0.1', 'drop[started]=0.1'],
    ['noboot[GET /x]=0.1', 'noboot[GET /x]=0.1'],
  ];
  for (const [text, part] of cases) {
    assert.throws(
      () => parseFaultSpec(text),
      (err) => isJitpoolError(err, 'JP_INPUT_INVALID') && (err.details as { part?: string }).part === part && err.message.includes(part),
      text,
    );
  }
});

test('validateFaultSpec checks specs built in code', () => {
  assert.doesNotThrow(() => validateFaultSpec({ api: { errorRate: 0.5 }, webhooksByAction: { completed: { dropRate: 1 } } }));
  assert.throws(() => validateFaultSpec({ api: { errorRate: 2 } }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
  assert.throws(() => validateFaultSpec({ apiByEndpoint: { 'FETCH /x': {} } }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
  assert.throws(() => validateFaultSpec({ webhooksByAction: { started: {} } }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
  assert.throws(() => validateFaultSpec({ runners: { dieRate: Number.NaN } }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
});
