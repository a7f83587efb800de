import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatRollout, simulateRollout } from '../src/guard/rollout.ts';

describe('simulated canary rollout (36 trusted PRs, stages 0–2, a boot fault in stage 1)', () => {
  it('rolls back right after the second consecutive boot failure, and nothing else flips routing', async () => {
    const events = await simulateRollout({ prs: 36, faultyPrs: [5, 6] });
    const text = formatRollout(events);
    const rollbacks = events.filter((e) => e.note.startsWith('GUARD ROLLBACK'));
    assert.equal(rollbacks.length, 1, text);
    const index = events.indexOf(rollbacks[0]!);
    assert.equal(events[index - 1]?.pr, 6, 'the rollback follows PR 6, the second faulty one');
    assert.equal(rollbacks[0]?.stage, 1);
    assert.equal(rollbacks[0]?.variable, 'false');
    assert.deepEqual(events.filter((e) => e.route === 'fallback').map((e) => e.pr), [7, 8], 'PRs during the incident ran on the fallback');
    assert.ok(events.some((e) => e.stage === 1 && e.note.includes('advanced automatically')), 'stage 0 advanced by itself');
    assert.ok(events.some((e) => e.stage === 2 && e.note.includes('canary advance')), 'stage 1 needed an operator (it had a rollback)');
    assert.equal(events.at(-1)?.stage, 2);
    assert.equal(events.at(-1)?.used, '23/25');
  });
});
