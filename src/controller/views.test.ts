import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ComputeInfo } from '../providers/index.ts';
import type { RunnerRecord, RunnerState } from '../store/index.ts';
import { compareViews } from './views.ts';

const runner = (name: string, state: RunnerState): RunnerRecord => ({
  id: name, name, pool: 'linux', state, labels: [], githubRunnerId: 1, computeId: name, jobId: null,
  createdAtMs: 0, updatedAtMs: 0, stateSinceMs: 0, exitCode: null, lastError: null, outputTail: null, version: 0, teardown: null,
});
const compute = (name: string, state: ComputeInfo['state'] = 'running'): ComputeInfo => ({
  computeId: name, runnerId: name, runnerName: name, pool: 'linux', controllerId: 't', state, exitCode: null, isOnline: true, createdAtMs: 0,
});
const reg = (name: string, status: 'online' | 'offline' = 'online', busy = false) => ({ id: 1, name, status, busy, ephemeral: true, labels: [] });

describe('compareViews', () => {
  const table: Array<{ name: string; input: Parameters<typeof compareViews>[0]; problems: Record<string, number>; agreed: boolean }> = [
    { name: 'nothing anywhere agrees', input: { runners: [], compute: [], registrations: [] }, problems: {}, agreed: true },
    { name: 'idle everywhere agrees', input: { runners: [runner('a', 'idle')], compute: [compute('a')], registrations: [reg('a')] }, problems: {}, agreed: true },
    { name: 'busy everywhere agrees', input: { runners: [runner('a', 'busy')], compute: [compute('a')], registrations: [reg('a', 'online', true)] }, problems: {}, agreed: true },
    { name: 'orphan compute', input: { runners: [], compute: [compute('a')], registrations: [] }, problems: { a: 1 }, agreed: false },
    { name: 'ghost registration', input: { runners: [], compute: [], registrations: [reg('a', 'offline')] }, problems: { a: 1 }, agreed: false },
    { name: 'store only', input: { runners: [runner('a', 'idle')], compute: [], registrations: [] }, problems: { a: 2 }, agreed: false },
    { name: 'GitHub busy, store idle', input: { runners: [runner('a', 'idle')], compute: [compute('a')], registrations: [reg('a', 'online', true)] }, problems: { a: 1 }, agreed: false },
    { name: 'mid-cleanup runners are shown, not counted', input: { runners: [runner('a', 'finished')], compute: [], registrations: [] }, problems: {}, agreed: true },
    { name: 'offline while idle passes without strict', input: { runners: [runner('a', 'idle')], compute: [compute('a')], registrations: [reg('a', 'offline')] }, problems: {}, agreed: true },
    { name: 'offline while idle fails with strict', input: { runners: [runner('a', 'idle')], compute: [compute('a')], registrations: [reg('a', 'offline')], strict: true }, problems: { a: 1 }, agreed: false },
    { name: 'a booting runner may be offline even with strict', input: { runners: [runner('a', 'provisioning')], compute: [compute('a')], registrations: [reg('a', 'offline')], strict: true }, problems: {}, agreed: true },
  ];
  for (const row of table) {
    it(row.name, () => {
      const result = compareViews(row.input);
      assert.equal(result.isAgreed, row.agreed);
      const counts = Object.fromEntries(result.rows.filter((r) => r.problems.length > 0).map((r) => [r.name, r.problems.length]));
      assert.deepEqual(counts, row.problems);
    });
  }
});
