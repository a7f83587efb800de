import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ROUTING_POLICY } from '../routing/index.ts';
import { CONTROLLER_ID, OWNER, POOL, REPO, startGuardWorld, trustedPr } from './guard-test-helpers.ts';
import { routingCorrectness } from './slo.ts';

const VARIABLE = DEFAULT_ROUTING_POLICY.variableName;

describe('guard scenarios in the simulator', () => {
  it('flips nothing on a healthy run of trusted PRs', async (t) => {
    const world = await startGuardWorld();
    t.after(() => world.close());
    for (let pr = 1; pr <= 12; pr += 1) await world.recordRun({ pr, waitMs: 4000 + pr * 1000 });
    const report = await world.guard.check(OWNER, REPO);
    assert.deepEqual(report.triggers, []);
    assert.equal(report.action, 'none');
    assert.equal(report.figures.trustedRuns, 12);
    assert.equal(world.variable(), 'true');
    assert.equal(world.sim.variableHistory(OWNER, REPO, VARIABLE).length, 1, 'only the initial value');
    assert.equal(world.store.guard.listIncidents().length, 0);
  });

  it('rolls back after two consecutive trusted runs fail because a runner did not boot', async (t) => {
    const world = await startGuardWorld();
    t.after(() => world.close());
    await world.recordRun({ pr: 1 });
    await world.recordRun({ pr: 2, outcome: 'boot-failed' });
    assert.equal((await world.guard.check(OWNER, REPO)).action, 'none', 'one failure is not a trend');
    await world.recordRun({ pr: 3, outcome: 'boot-failed' });
    const report = await world.guard.check(OWNER, REPO);
    assert.deepEqual(report.triggers.map((tr) => tr.code), ['boot-failures']);
    assert.equal(report.action, 'rolled-back');
    assert.equal(world.variable(), 'false');
    const [incident] = world.store.guard.listIncidents({ owner: OWNER, repo: REPO });
    assert.equal(incident?.kind, 'rollback');
    assert.equal(incident?.triggerCode, 'boot-failures');
    const evidence = incident?.evidence as { triggers: Array<{ evidence: { runs: Array<{ reason: string }> } }> };
    assert.equal(evidence.triggers[0]?.evidence.runs.length, 2);
    assert.match(evidence.triggers[0]!.evidence.runs[0]!.reason, /boot/);
    // Checked again: already off, no second incident.
    assert.equal((await world.guard.check(OWNER, REPO)).action, 'already-off');
    assert.equal(world.store.guard.listIncidents({ owner: OWNER, repo: REPO }).length, 1);
  });

  it('rolls back when the p95 queue wait of the latest 10 trusted runs exceeds 120 s', async (t) => {
    const world = await startGuardWorld();
    t.after(() => world.close());
    for (let pr = 1; pr <= 10; pr += 1) await world.recordRun({ pr, waitMs: pr >= 9 ? 200_000 : 20_000 });
    const report = await world.guard.check(OWNER, REPO);
    assert.deepEqual(report.triggers.map((tr) => tr.code), ['queue-wait-p95']);
    assert.equal(report.figures.p95QueueWaitSeconds, 200);
    assert.equal(world.variable(), 'false');
  });

  it('rolls back when a pool runner stays offline more than 10 minutes after recovery', async (t) => {
    const world = await startGuardWorld();
    t.after(() => world.close());
    // A registration of ours that never comes online.
    await world.github.generateJitConfig(POOL.scope, { name: 'jp-linux-dead01', runnerGroupId: 1, labels: [...POOL.labels, `jitpool-${CONTROLLER_ID}`], workFolder: '_work' });
    await world.github.generateJitConfig(POOL.scope, { name: 'someone-elses', runnerGroupId: 1, labels: ['self-hosted'], workFolder: '_work' });
    assert.equal((await world.guard.check(OWNER, REPO)).figures.offlineRunners, 1, 'only our runner counts');
    world.clock.advance(8 * 60_000);
    world.store.guard.mark(`recovered:${OWNER}/${REPO}`);
    world.clock.advance(9 * 60_000);
    assert.equal((await world.guard.check(OWNER, REPO)).action, 'none', '17 min offline, but only 9 since the recovery');
    world.clock.advance(2 * 60_000);
    const report = await world.guard.check(OWNER, REPO);
    assert.deepEqual(report.triggers.map((tr) => tr.code), ['runners-offline']);
    assert.equal(world.variable(), 'false');
  });

  it('rolls back on a route mismatch (a fork PR on a self-hosted pool), and restore starts a fresh window', async (t) => {
    const world = await startGuardWorld();
    t.after(() => world.close());
    await world.recordRun({ pr: 1 });
    const job = await world.recordRun({ context: { event: 'pull_request', actor: { login: 'outsider' }, headRepository: { owner: 'outsider', repo: 'app' }, pullRequest: { number: 2, authorAssociation: 'NONE' } } });
    const audit = world.store.guard.getRouteAudit(job.runId);
    assert.equal(audit?.isMismatch, true);
    assert.equal(audit?.rule, 'fork');
    assert.equal(world.store.guard.listIncidents()[0]?.kind, 'route-mismatch');
    const report = await world.guard.check(OWNER, REPO);
    assert.deepEqual(report.triggers.map((tr) => tr.code), ['route-mismatch']);
    assert.equal(world.variable(), 'false');
    assert.deepEqual(routingCorrectness(world.store, 50), {
      audited: 2, mismatches: 1, correctPercent: 50,
      mismatchedRuns: [{ runId: job.runId, repository: `${OWNER}/${REPO}`, rule: 'fork', reason: audit!.reason }],
    });

    world.clock.advance(1000);
    await world.guard.restore(OWNER, REPO);
    assert.equal(world.variable(), 'true');
    assert.equal((await world.guard.check(OWNER, REPO)).action, 'none', 'evidence before the restore is not held against the new window');
    assert.deepEqual(world.sim.variableHistory(OWNER, REPO, VARIABLE).map((h) => h.value), ['true', 'false', 'true']);
  });

  it('audits each run once (cached by run id), with one call for the run and one for its PR', async (t) => {
    const world = await startGuardWorld();
    t.after(() => world.close());
    const job = await world.recordRun({ pr: 7, context: trustedPr(7, 'OWNER') });
    const before = world.github.stats().byEndpoint;
    await Promise.all([world.auditor.audit(job), world.auditor.audit({ ...job, id: job.id + 1 })]);
    assert.deepEqual(world.github.stats().byEndpoint, before, 'no call for a run already audited');
    assert.equal(before['GET /repos/{owner}/{repo}/actions/runs/{run_id}'], 1);
    assert.equal(before['GET /repos/{owner}/{repo}/pulls/{pull_number}'], 1);
    assert.equal(world.store.guard.getRouteAudit(job.runId)?.trusted, true);
  });

  it('does not flip anything in a dry run', async (t) => {
    const world = await startGuardWorld();
    t.after(() => world.close());
    await world.recordRun({ pr: 1, outcome: 'boot-failed' });
    await world.recordRun({ pr: 2, outcome: 'boot-failed' });
    const report = await world.guard.check(OWNER, REPO, { dryRun: true });
    assert.equal(report.action, 'would-roll-back');
    assert.equal(world.variable(), 'true');
    assert.equal(world.store.guard.listIncidents().length, 0);
  });
});
