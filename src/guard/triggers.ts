import { round } from '../core/index.ts';
import type { GuardConfig } from '../config/index.ts';
import { p95QueueWaitMs, type GuardFigures } from './slo.ts';

/** The rollback triggers of seed 001 §7. */
export type TriggerCode = 'boot-failures' | 'queue-wait-p95' | 'runners-offline' | 'route-mismatch';

/** A trigger that holds, with what proves it. */
export interface Trigger {
  code: TriggerCode;
  summary: string;
  evidence: Record<string, unknown>;
}

/** The guard's thresholds. */
export type GuardThresholds = GuardConfig['thresholds'];

/**
 * Evaluates the rollback triggers on a repository's figures. Pure: figures and thresholds in,
 * the triggers that hold out (empty when healthy).
 */
export function evaluateTriggers(figures: GuardFigures, thresholds: GuardThresholds): Trigger[] {
  const triggers: Trigger[] = [];

  // Consecutive boot failures, newest first; runs still waiting neither break nor extend the streak.
  const streak: GuardFigures['runs'] = [];
  for (const run of figures.runs) {
    if (run.outcome === 'pending') continue;
    if (run.outcome !== 'boot-failed') break;
    streak.push(run);
  }
  if (streak.length >= thresholds.consecutiveBootFailures) {
    triggers.push({
      code: 'boot-failures',
      summary: `${streak.length} consecutive trusted runs failed before their first step because a runner did not boot or register`,
      evidence: { runs: streak.map((run) => ({ runId: run.runId, ...run.bootFailure })) },
    });
  }

  const window = figures.runs.slice(0, thresholds.queueWaitWindowRuns);
  const p95Ms = p95QueueWaitMs(window);
  if (p95Ms > thresholds.queueWaitP95Seconds * 1000) {
    triggers.push({
      code: 'queue-wait-p95',
      summary: `p95 queue wait ${round(p95Ms / 1000)} s over the latest ${window.length} trusted runs exceeds ${thresholds.queueWaitP95Seconds} s`,
      evidence: { p95Seconds: round(p95Ms / 1000), runs: window.map((run) => ({ runId: run.runId, queueWaitsSeconds: run.queueWaitsMs.map((ms) => round(ms / 1000)) })) },
    });
  }

  const offline = figures.offlineRunners.filter((runner) => runner.offlineMs > thresholds.offlineSeconds * 1000);
  if (offline.length > 0) {
    triggers.push({
      code: 'runners-offline',
      summary: `${offline.length} runner(s) offline for more than ${thresholds.offlineSeconds} s (after recovery)`,
      evidence: { runners: offline.map((runner) => ({ ...runner, offlineSeconds: round(runner.offlineMs / 1000), offlineMs: undefined })) },
    });
  }

  if (thresholds.routeMismatch && figures.mismatches.length > 0) {
    triggers.push({
      code: 'route-mismatch',
      summary: `${figures.mismatches.length} untrusted run(s) reached a self-hosted pool`,
      evidence: { runs: figures.mismatches.map((audit) => ({ runId: audit.runId, jobId: audit.jobId, pool: audit.pool, event: audit.event, actor: audit.actor, rule: audit.rule, reason: audit.reason })) },
    });
  }
  return triggers;
}
