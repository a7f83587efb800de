import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scheduledMinIdle, type WarmWindow } from './warm-schedule.ts';

const WEEKDAYS_ONLY = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;
const office: WarmWindow = { days: WEEKDAYS_ONLY, from: '08:00', to: '19:00', timeZone: 'Europe/Berlin', minIdle: 2 };
const night: WarmWindow = { days: ['fri'], from: '22:00', to: '02:00', timeZone: 'UTC', minIdle: 5 };
// 2026-01-05 is a Monday; Berlin is UTC+1 in January, UTC+2 in July.
const at = (iso: string) => Date.parse(iso);

describe('scheduledMinIdle: warm floors by time window', () => {
  const cases: Array<[string, number, number]> = [
    ['Monday 08:30 Berlin (07:30 UTC): open', at('2026-01-05T07:30:00Z'), 2],
    ['Monday 07:30 Berlin (06:30 UTC): not yet', at('2026-01-05T06:30:00Z'), 0],
    ['Monday 18:59 Berlin: still open', at('2026-01-05T17:59:00Z'), 2],
    ['Monday 19:00 Berlin: closed (the end is exclusive)', at('2026-01-05T18:00:00Z'), 0],
    ['Saturday noon: a weekday window is closed', at('2026-01-10T11:00:00Z'), 0],
    ['July, 08:30 Berlin summer time (06:30 UTC): open', at('2026-07-06T06:30:00Z'), 2],
    ['Friday 23:00 UTC: the overnight window is open', at('2026-01-09T23:00:00Z'), 5],
    ['Saturday 01:30 UTC: still open after midnight', at('2026-01-10T01:30:00Z'), 5],
    ['Saturday 02:00 UTC: closed', at('2026-01-10T02:00:00Z'), 0],
    ['Thursday 23:00 UTC: the overnight window starts on Fridays only', at('2026-01-08T23:00:00Z'), 0],
  ];
  for (const [name, nowMs, expected] of cases) {
    it(name, () => assert.equal(scheduledMinIdle(0, [office, night], nowMs).minIdle, expected));
  }
  it('the largest open window wins; without windows the pool keeps its own floor', () => {
    assert.equal(scheduledMinIdle(1, [office, { ...office, minIdle: 3 }], at('2026-01-05T09:00:00Z')).minIdle, 3);
    assert.equal(scheduledMinIdle(1, [], at('2026-01-05T09:00:00Z')).minIdle, 1);
    assert.equal(scheduledMinIdle(1, undefined, at('2026-01-05T09:00:00Z')).window, null);
  });
});

describe('the controller applies the warm schedule', () => {
  it('a window open now raises minIdle, and the planner launches to it; an operator override wins', async (t) => {
    const { startTestRuntime } = await import('../cli/runtime-test-helpers.ts');
    const hour = new Date().getUTCHours();
    const pad = (h: number) => `${String(h % 24).padStart(2, '0')}:00`;
    // From an hour ago to two hours ahead, every day: open now whatever the time.
    const window = { from: pad(hour + 23), to: pad(hour + 2), timeZone: 'UTC', minIdle: 2 };
    const { runtime } = await startTestRuntime(t, {
      noServer: true,
      configPatch: { pools: [{ name: 'linux', scope: { kind: 'org', org: 'acme' }, labels: ['self-hosted', 'linux'], provider: { kind: 'process', command: ['/bin/true'] }, minIdle: 0, max: 3, warmSchedule: [window] }] },
    });
    assert.equal(runtime.controller.effectivePools()[0]!.minIdle, 2);
    const result = await runtime.controller.reconcileOnce({ syncGitHub: false });
    assert.equal(result.actions.filter((a) => a.kind === 'launch').length, 2);
    runtime.store.setPoolOverride({ pool: 'linux', minIdle: 0, max: 3, target: 0, actor: 'test' });
    assert.equal(runtime.controller.effectivePools()[0]!.minIdle, 0);
  });
});
