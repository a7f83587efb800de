import type { RoutingPolicy } from './policy.ts';

/** A workflow event: its name (`github.event_name`) and its payload (the file at `GITHUB_EVENT_PATH`, or a webhook body). */
export interface RouteEvent {
  name: string;
  payload: unknown;
}

/** Which rule decided; stable codes for tests, the audit and the report. */
export type RouteRule =
  | 'trusted-pull-request'
  | 'trusted-merge-group'
  | 'trusted-event'
  | 'routing-off'
  | 'fork'
  | 'bot'
  | 'association'
  | 'merge-group-fallback'
  | 'event-not-routed'
  | 'malformed-payload';

/** The routing decision: where the jobs run and why. */
export interface RouteDecision {
  target: 'self-hosted' | 'fallback';
  /** The `runs-on` labels (use with `fromJSON`). */
  runsOn: string[];
  /** One sentence for humans. */
  reason: string;
  /** The rule that decided. */
  rule: RouteRule;
  /** Whether the context is trusted by the policy, whatever the variable says (the audit compares this). */
  trusted: boolean;
}

type Json = Record<string, unknown>;

const obj = (value: unknown): Json | null => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null);
const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** True when the routing variable says `true` (case-insensitive, trimmed); unset, empty or anything else is off — fail safe. */
export function isRoutingVariableOn(variable: string | boolean | null | undefined): boolean {
  if (typeof variable === 'boolean') return variable;
  return typeof variable === 'string' && variable.trim().toLowerCase() === 'true';
}

/** True for a bot account: a `[bot]` login suffix, type `Bot`, or a login the policy lists. */
export function isBotAccount(account: { login?: unknown; type?: unknown } | null, policy: Pick<RoutingPolicy, 'botLogins'>): boolean {
  if (!account) return false;
  const login = str(account.login)?.toLowerCase() ?? '';
  if (account.type === 'Bot' || login.endsWith('[bot]')) return true;
  return policy.botLogins.some((bot) => bot.toLowerCase() === login);
}

type Verdict = { trusted: true; rule: 'trusted-pull-request' | 'trusted-merge-group' | 'trusted-event'; reason: string } | { trusted: false; rule: RouteRule; reason: string };

/**
 * Decides where a workflow's jobs run. Pure: the event, the repository variable and the policy
 * in, the decision out. A context is trusted when the policy's rules for its event hold; it goes
 * to self-hosted runners only when it is trusted AND the variable is `true`.
 */
export function decideRoute(event: RouteEvent, variable: string | boolean | null | undefined, policy: RoutingPolicy): RouteDecision {
  const verdict = judge(event, policy);
  const isOn = isRoutingVariableOn(variable);
  if (verdict.trusted && isOn) {
    return { target: 'self-hosted', runsOn: [...policy.selfHostedLabels], reason: verdict.reason, rule: verdict.rule, trusted: true };
  }
  if (verdict.trusted) {
    return {
      target: 'fallback',
      runsOn: [...policy.fallbackLabels],
      reason: `${verdict.reason}, but ${policy.variableName} is not "true"`,
      rule: 'routing-off',
      trusted: true,
    };
  }
  return { target: 'fallback', runsOn: [...policy.fallbackLabels], reason: verdict.reason, rule: verdict.rule, trusted: false };
}

function judge(event: RouteEvent, policy: RoutingPolicy): Verdict {
  const payload = obj(event.payload);
  if (!payload) return { trusted: false, rule: 'malformed-payload', reason: 'the event payload is not an object' };
  const name = event.name;
  if ((policy.pullRequestEvents as readonly string[]).includes(name)) return judgePullRequest(name, payload, policy);
  if (name === 'merge_group') {
    if (policy.mergeGroup === 'fallback') return { trusted: false, rule: 'merge-group-fallback', reason: 'merge_group runs on the fallback (policy mergeGroup: fallback)' };
    if (!obj(payload.merge_group)) return { trusted: false, rule: 'malformed-payload', reason: 'merge_group payload has no merge_group object' };
    if (!policy.allowBots && isBotAccount(obj(payload.sender), policy)) {
      return { trusted: false, rule: 'bot', reason: `merge group queued by bot ${str(obj(payload.sender)?.login) ?? '?'}` };
    }
    return { trusted: true, rule: 'trusted-merge-group', reason: 'merge group of the repository, queued by a person' };
  }
  if ((policy.selfHostedEvents as readonly string[]).includes(name)) {
    const sender = obj(payload.sender);
    if (!policy.allowBots && isBotAccount(sender, policy)) return { trusted: false, rule: 'bot', reason: `${name} by bot ${str(sender?.login) ?? '?'}` };
    return { trusted: true, rule: 'trusted-event', reason: `${name} is routed to self-hosted by the policy (selfHostedEvents)` };
  }
  return { trusted: false, rule: 'event-not-routed', reason: `${name} events run on the fallback` };
}

function judgePullRequest(name: string, payload: Json, policy: RoutingPolicy): Verdict {
  const pr = obj(payload.pull_request);
  const base = obj(obj(pr?.base)?.repo);
  if (!pr || !base) return { trusted: false, rule: 'malformed-payload', reason: `${name} payload has no pull_request.base.repo` };
  const head = obj(obj(pr.head)?.repo);
  // `head.repo.fork` is not used: it is also true for a same-repository PR when the repository
  // itself is a fork. A PR is from a fork when its head lives in another repository (or in a
  // deleted one: head.repo is null).
  if (!policy.allowForks && (!head || !sameRepository(head, base))) {
    return { trusted: false, rule: 'fork', reason: `pull request from ${head ? (str(head.full_name) ?? 'another repository') : 'a deleted repository'} (a fork)` };
  }
  if (!policy.allowBots) {
    const sender = obj(payload.sender);
    const author = obj(pr.user);
    if (isBotAccount(sender, policy)) return { trusted: false, rule: 'bot', reason: `actor ${str(sender?.login) ?? '?'} is a bot` };
    if (isBotAccount(author, policy)) return { trusted: false, rule: 'bot', reason: `pull request author ${str(author?.login) ?? '?'} is a bot` };
  }
  const association = str(pr.author_association) ?? 'NONE';
  if (!(policy.trustedAssociations as readonly string[]).includes(association)) {
    return { trusted: false, rule: 'association', reason: `author association ${association} is not one of ${policy.trustedAssociations.join(', ')}` };
  }
  return { trusted: true, rule: 'trusted-pull-request', reason: `${name} from the repository itself by ${association.toLowerCase()} ${str(obj(pr.user)?.login) ?? '?'}` };
}

function sameRepository(head: Json, base: Json): boolean {
  if (typeof head.id === 'number' && typeof base.id === 'number') return head.id === base.id;
  const headName = str(head.full_name);
  const baseName = str(base.full_name);
  return headName !== null && baseName !== null && headName.toLowerCase() === baseName.toLowerCase();
}

/**
 * The event name of a payload when the caller does not say it: `pull_request` (a
 * `pull_request` object), `merge_group`, `schedule`, `workflow_dispatch` (`inputs`), `push`
 * (`ref` + `commits`); null when it cannot tell.
 */
export function inferEventName(payload: unknown): string | null {
  const p = obj(payload);
  if (!p) return null;
  if (obj(p.pull_request)) return 'pull_request';
  if (obj(p.merge_group)) return 'merge_group';
  if (typeof p.schedule === 'string') return 'schedule';
  if ('inputs' in p && typeof p.ref === 'string') return 'workflow_dispatch';
  if (typeof p.ref === 'string' && Array.isArray(p.commits)) return 'push';
  return null;
}
