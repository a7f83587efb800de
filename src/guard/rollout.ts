import { decideRoute, DEFAULT_ROUTING_POLICY } from '../routing/index.ts';
import { pullRequestBy } from '../routing/event-fixtures.ts';
import { OWNER, REPO, startGuardWorld, trustedPr } from './guard-test-helpers.ts';

/** One line of the simulated rollout's timeline. */
export interface RolloutEvent {
  pr: number | null;
  stage: number;
  used: string;
  route: string;
  variable: string;
  note: string;
}

/**
 * A simulated canary rollout (seed 001 §6–7) for the report: `prs` trusted PRs arrive one
 * after the other; each is routed by `decideRoute` with the variable as the simulator holds it
 * (the Action's view); routed ones run on the pool (the PRs in `faultyPrs` fail because their
 * runner does not boot) and are audited; the guard checks after each PR with auto-advance on. After
 * a rollback the operator restores routing `restoreAfterPrs` PRs later, and advances the held stage
 * by hand (auto-advance refuses a stage that had a rollback). Test and script helper.
 */
export async function simulateRollout(options: { prs?: number; faultyPrs?: readonly number[]; restoreAfterPrs?: number } = {}): Promise<RolloutEvent[]> {
  const prs = options.prs ?? 36;
  const faulty = new Set(options.faultyPrs ?? [5, 6]);
  const world = await startGuardWorld({ guard: { canary: { enabled: true, autoAdvance: true } } });
  const events: RolloutEvent[] = [];
  const log = (pr: number | null, route: string, note: string, variable = world.variable()) => {
    const status = world.guard.canary.status(OWNER, REPO);
    events.push({ pr, stage: status.stage, used: `${status.used}/${status.budget ?? 'all'}`, route, variable: variable ?? '(unset)', note });
  };
  let rolledBackAtPr: number | null = null;
  try {
    for (let pr = 1; pr <= prs; pr += 1) {
      if (rolledBackAtPr !== null && pr - rolledBackAtPr > (options.restoreAfterPrs ?? 2)) {
        await world.guard.restore(OWNER, REPO, { reason: 'operator: runner image fixed' });
        rolledBackAtPr = null;
        log(null, '-', 'operator ran `jitpool guard restore` (runner image fixed)');
      }
      if (rolledBackAtPr === null && world.guard.canary.status(OWNER, REPO).isHolding) {
        await world.guard.advanceCanary(OWNER, REPO);
        log(null, '-', 'operator ran `jitpool canary advance` (auto-advance refuses a stage that had a rollback)');
      }
      const payload = pullRequestBy('MEMBER');
      (payload.pull_request as Record<string, unknown>).number = pr;
      const routedWith = world.variable();
      const decision = decideRoute({ name: 'pull_request', payload }, routedWith, DEFAULT_ROUTING_POLICY);
      if (decision.target !== 'self-hosted') {
        log(pr, 'fallback', `routed to ${decision.runsOn.join(',')} (${decision.rule})`);
      } else {
        const isFaulty = faulty.has(pr);
        await world.recordRun({ context: trustedPr(pr), outcome: isFaulty ? 'boot-failed' : 'ok', waitMs: 8000 });
        log(pr, 'self-hosted', isFaulty ? 'FAULT: runner did not boot; job failed before its first step' : 'ok', routedWith);
        const status = world.guard.canary.status(OWNER, REPO);
        if (status.isHolding) log(null, '-', `canary holds: stage ${status.stage} budget used, ${DEFAULT_ROUTING_POLICY.variableName}=false`);
      }
      world.clock.advance(60_000);
      const report = await world.guard.check(OWNER, REPO);
      if (report.action === 'rolled-back') {
        rolledBackAtPr = pr;
        log(null, '-', `GUARD ROLLBACK (incident ${report.incidentId}): ${report.triggers.map((t) => t.summary).join('; ')}`);
      } else if (report.action === 'canary-advance') {
        log(null, '-', 'canary advanced automatically (no trigger fired in the stage)');
      }
    }
  } finally {
    await world.close();
  }
  return events;
}

/** The timeline as a table. */
export function formatRollout(events: readonly RolloutEvent[]): string {
  const rows = events.map((e) => `${String(e.pr ?? '').padStart(3)}  ${String(e.stage).padStart(5)}  ${e.used.padStart(6)}  ${e.route.padEnd(11)}  ${e.variable.padEnd(8)}  ${e.note}`);
  return [' PR  stage    used  route        variable  event   (variable: as the route job read it, or after the event)', ...rows].join('\n');
}
