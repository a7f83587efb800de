import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextPollDelayMs } from './poll-delay.ts';

const NOW = 1_000_000;
const HOUR = 3_600_000;

describe('nextPollDelayMs', () => {
  it('polls at the base interval without rate-limit figures or with plenty of budget', () => {
    assert.equal(nextPollDelayMs(10_000, null, 5, NOW), 10_000);
    assert.equal(nextPollDelayMs(10_000, { limit: 5000, remaining: 4000, resetAtMs: NOW + HOUR }, 50, NOW), 10_000);
  });

  it('slows down when the budget runs low, so polling uses at most half of what is left', () => {
    const delay = nextPollDelayMs(10_000, { limit: 5000, remaining: 1000, resetAtMs: NOW + HOUR }, 10, NOW);
    // 1000 left, half for polling = 500 calls = 50 polls of 10 calls over an hour → one every 72 s.
    assert.equal(delay, 72_000);
    const lower = nextPollDelayMs(10_000, { limit: 5000, remaining: 100, resetAtMs: NOW + HOUR }, 10, NOW);
    assert.ok(lower > delay, 'less budget, slower polling');
  });

  it('waits for the reset when nothing is left, instead of failing', () => {
    assert.equal(nextPollDelayMs(10_000, { limit: 5000, remaining: 0, resetAtMs: NOW + 120_000 }, 10, NOW), 121_000);
  });

  it('never polls faster than the base interval', () => {
    assert.equal(nextPollDelayMs(10_000, { limit: 5000, remaining: 2000, resetAtMs: NOW + 1000 }, 1, NOW), 10_000);
  });
});
