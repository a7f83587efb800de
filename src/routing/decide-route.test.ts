import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideRoute, inferEventName, isRoutingVariableOn, type RouteRule } from './decide-route.ts';
import {
  allExamples, botSenderPullRequest, deletedForkPullRequest, dependabotPullRequest, example, forkPullRequest, pullRequestBy,
  pullRequestInForkedRepository, schedulePayload,
} from './event-fixtures.ts';
import { AUTHOR_ASSOCIATIONS, DEFAULT_ROUTING_POLICY, parseRoutingPolicy, type RoutingPolicyInput } from './policy.ts';

interface Row {
  name: string;
  event: string;
  payload: unknown;
  variable?: string | boolean | null;
  policy?: RoutingPolicyInput;
  target: 'self-hosted' | 'fallback';
  rule: RouteRule;
  trusted: boolean;
}

const TABLE: Row[] = [
  { name: 'trusted PR (OWNER), variable true', event: 'pull_request', payload: pullRequestBy('OWNER'), target: 'self-hosted', rule: 'trusted-pull-request', trusted: true },
  { name: 'trusted PR, variable false', event: 'pull_request', payload: pullRequestBy('OWNER'), variable: 'false', target: 'fallback', rule: 'routing-off', trusted: true },
  { name: 'trusted PR, variable unset', event: 'pull_request', payload: pullRequestBy('MEMBER'), variable: '', target: 'fallback', rule: 'routing-off', trusted: true },
  { name: 'trusted PR, variable "TRUE "', event: 'pull_request', payload: pullRequestBy('MEMBER'), variable: 'TRUE ', target: 'self-hosted', rule: 'trusted-pull-request', trusted: true },
  { name: 'trusted PR, variable "yes" (not true)', event: 'pull_request', payload: pullRequestBy('MEMBER'), variable: 'yes', target: 'fallback', rule: 'routing-off', trusted: true },
  { name: 'fork PR', event: 'pull_request', payload: forkPullRequest(), target: 'fallback', rule: 'fork', trusted: false },
  { name: 'PR from a deleted fork', event: 'pull_request', payload: deletedForkPullRequest(), target: 'fallback', rule: 'fork', trusted: false },
  { name: 'same-repo PR in a forked repository', event: 'pull_request', payload: pullRequestInForkedRepository(), target: 'self-hosted', rule: 'trusted-pull-request', trusted: true },
  { name: 'fork PR with allowForks', event: 'pull_request', payload: forkPullRequest(), policy: { allowForks: true }, target: 'self-hosted', rule: 'trusted-pull-request', trusted: true },
  { name: 'dependabot PR', event: 'pull_request', payload: dependabotPullRequest(), target: 'fallback', rule: 'bot', trusted: false },
  { name: 'maintainer PR pushed by a bot', event: 'pull_request', payload: botSenderPullRequest(), target: 'fallback', rule: 'bot', trusted: false },
  { name: 'listed bot login without [bot]', event: 'pull_request', payload: botSenderPullRequest('renovate-bot'), policy: { botLogins: ['renovate-bot'] }, target: 'fallback', rule: 'bot', trusted: false },
  { name: 'bot PR with allowBots and a trusted association', event: 'pull_request', payload: botSenderPullRequest(), policy: { allowBots: true }, target: 'self-hosted', rule: 'trusted-pull-request', trusted: true },
  { name: 'pull_request_target is not a PR event by default', event: 'pull_request_target', payload: pullRequestBy('OWNER'), target: 'fallback', rule: 'event-not-routed', trusted: false },
  { name: 'pull_request_target opted in', event: 'pull_request_target', payload: pullRequestBy('OWNER'), policy: { pullRequestEvents: ['pull_request', 'pull_request_target'] }, target: 'self-hosted', rule: 'trusted-pull-request', trusted: true },
  { name: 'merge_group (default: fallback)', event: 'merge_group', payload: example('merge_group'), target: 'fallback', rule: 'merge-group-fallback', trusted: false },
  { name: 'merge_group with mergeGroup: self-hosted', event: 'merge_group', payload: example('merge_group'), policy: { mergeGroup: 'self-hosted' }, target: 'self-hosted', rule: 'trusted-merge-group', trusted: true },
  { name: 'merge_group self-hosted, routing off', event: 'merge_group', payload: example('merge_group'), variable: 'false', policy: { mergeGroup: 'self-hosted' }, target: 'fallback', rule: 'routing-off', trusted: true },
  { name: 'push (default: fallback)', event: 'push', payload: example('push'), target: 'fallback', rule: 'event-not-routed', trusted: false },
  { name: 'push in selfHostedEvents', event: 'push', payload: example('push'), policy: { selfHostedEvents: ['push'] }, target: 'self-hosted', rule: 'trusted-event', trusted: true },
  { name: 'workflow_dispatch (default: fallback)', event: 'workflow_dispatch', payload: example('workflow_dispatch'), target: 'fallback', rule: 'event-not-routed', trusted: false },
  { name: 'workflow_dispatch in selfHostedEvents', event: 'workflow_dispatch', payload: example('workflow_dispatch'), policy: { selfHostedEvents: ['workflow_dispatch'] }, target: 'self-hosted', rule: 'trusted-event', trusted: true },
  { name: 'schedule (default: fallback)', event: 'schedule', payload: schedulePayload(), target: 'fallback', rule: 'event-not-routed', trusted: false },
  { name: 'schedule in selfHostedEvents', event: 'schedule', payload: schedulePayload(), policy: { selfHostedEvents: ['schedule'] }, target: 'self-hosted', rule: 'trusted-event', trusted: true },
  { name: 'pull_request without pull_request', event: 'pull_request', payload: example('push'), target: 'fallback', rule: 'malformed-payload', trusted: false },
  { name: 'payload not an object', event: 'pull_request', payload: 'nope', target: 'fallback', rule: 'malformed-payload', trusted: false },
  { name: 'issue_comment', event: 'issue_comment', payload: example('issue_comment'), target: 'fallback', rule: 'event-not-routed', trusted: false },
];

describe('decideRoute', () => {
  for (const row of TABLE) {
    it(row.name, () => {
      const policy = parseRoutingPolicy(row.policy ?? {});
      const decision = decideRoute({ name: row.event, payload: row.payload }, row.variable === undefined ? 'true' : row.variable, policy);
      assert.equal(decision.target, row.target);
      assert.equal(decision.rule, row.rule);
      assert.equal(decision.trusted, row.trusted);
      assert.deepEqual(decision.runsOn, row.target === 'self-hosted' ? policy.selfHostedLabels : policy.fallbackLabels);
      assert.ok(decision.reason.length > 0);
    });
  }

  it('judges every author association: only OWNER, MEMBER and COLLABORATOR by default', () => {
    for (const association of AUTHOR_ASSOCIATIONS) {
      const decision = decideRoute({ name: 'pull_request', payload: pullRequestBy(association) }, 'true', DEFAULT_ROUTING_POLICY);
      const isTrusted = ['OWNER', 'MEMBER', 'COLLABORATOR'].includes(association);
      assert.equal(decision.target, isTrusted ? 'self-hosted' : 'fallback', association);
      assert.equal(decision.rule, isTrusted ? 'trusted-pull-request' : 'association', association);
    }
    const widened = parseRoutingPolicy({ trustedAssociations: ['OWNER', 'MEMBER', 'COLLABORATOR', 'CONTRIBUTOR'] });
    assert.equal(decideRoute({ name: 'pull_request', payload: pullRequestBy('CONTRIBUTOR') }, true, widened).target, 'self-hosted');
  });

  it('routes every real pull_request example (same repo, OWNER) to self-hosted, and every merge_group and push one to the fallback', () => {
    for (const payload of allExamples('pull_request')) {
      assert.equal(decideRoute({ name: 'pull_request', payload }, 'true', DEFAULT_ROUTING_POLICY).target, 'self-hosted', String(payload.action));
    }
    for (const event of ['merge_group', 'push', 'workflow_dispatch']) {
      for (const payload of allExamples(event)) assert.equal(decideRoute({ name: event, payload }, 'true', DEFAULT_ROUTING_POLICY).target, 'fallback', event);
    }
  });

  it('uses the configured labels', () => {
    const policy = parseRoutingPolicy({ selfHostedLabels: ['self-hosted', 'linux', 'x64', 'chem-trusted-pr'], fallbackLabels: ['ubuntu-24.04'] });
    assert.deepEqual(decideRoute({ name: 'pull_request', payload: pullRequestBy('OWNER') }, 'true', policy).runsOn, ['self-hosted', 'linux', 'x64', 'chem-trusted-pr']);
    assert.deepEqual(decideRoute({ name: 'pull_request', payload: forkPullRequest() }, 'true', policy).runsOn, ['ubuntu-24.04']);
  });
});

describe('routing policy', () => {
  it('defaults to seed 002', () => {
    assert.equal(DEFAULT_ROUTING_POLICY.variableName, 'CI_SELF_HOSTED_TRUSTED_ROUTING');
    assert.deepEqual(DEFAULT_ROUTING_POLICY.fallbackLabels, ['ubuntu-latest']);
    assert.deepEqual(DEFAULT_ROUTING_POLICY.trustedAssociations, ['OWNER', 'MEMBER', 'COLLABORATOR']);
    assert.equal(DEFAULT_ROUTING_POLICY.mergeGroup, 'fallback');
  });

  it('names the bad field', () => {
    for (const [input, field] of [
      [{ selfHostedLabels: [] }, 'selfHostedLabels'],
      [{ selfHostedLabels: ['$(reboot)'] }, 'selfHostedLabels.0'],
      [{ trustedAssociations: ['ADMIN'] }, 'trustedAssociations.0'],
      [{ mergeGroup: 'maybe' }, 'mergeGroup'],
      [{ unknownRule: true }, '(root)'],
    ] as const) {
      assert.throws(() => parseRoutingPolicy(input), (err: { code: string; details: { field: string } }) => err.code === 'JP_INPUT_INVALID' && err.details.field === field);
    }
  });

  it('reads the variable fail-safe', () => {
    assert.equal(isRoutingVariableOn('true'), true);
    assert.equal(isRoutingVariableOn(' True\n'), true);
    for (const value of ['false', '', '1', 'on', null, undefined, false]) assert.equal(isRoutingVariableOn(value), false, String(value));
  });

  it('infers event names from payload shapes', () => {
    assert.equal(inferEventName(pullRequestBy('OWNER')), 'pull_request');
    assert.equal(inferEventName(example('merge_group')), 'merge_group');
    assert.equal(inferEventName(example('push')), 'push');
    assert.equal(inferEventName(example('workflow_dispatch')), 'workflow_dispatch');
    assert.equal(inferEventName(schedulePayload()), 'schedule');
    assert.equal(inferEventName({ zen: 'hi' }), null);
  });
});
