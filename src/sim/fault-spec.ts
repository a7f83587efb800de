import { JitpoolError } from '../core/index.ts';

/** Faults of REST API answers; each applies to every endpoint or to one (see {@link FaultSpec.apiByEndpoint}). */
export interface ApiFaults {
  /** Share of requests answered 500, 502 or 503 (picked at random) without being handled. 0..1. @default 0 */
  errorRate?: number;
  /** The next N requests answer 429 (secondary rate limit, `Retry-After: 1`); armed by `setFaults`. @default 0 */
  throttleBurst?: number;
  /** Added to every answer, in ms. @default 0 */
  latencyMs?: number;
  /**
   * Share of list answers that ignore `page` (every page repeats the first one) and always link
   * a `rel="next"` page, without `rel="last"`: a server or proxy that paginates wrongly. 0..1. @default 0
   */
  endlessPagesRate?: number;
}

/** Faults of `workflow_job` webhook deliveries; each applies to every action or to one (see {@link FaultSpec.webhooksByAction}). */
export interface WebhookFaults {
  /** Share of deliveries never sent (GitHub never redelivers on its own). 0..1. @default 0 */
  dropRate?: number;
  /** Share of deliveries sent twice with the same `X-GitHub-Delivery` (a redelivery). 0..1. @default 0 */
  duplicateRate?: number;
  /** Share of deliveries held back and sent after the job's next delivery (e.g. `completed` before `in_progress`). 0..1. @default 0 */
  reorderRate?: number;
  /** Every delivery waits this long before it is sent, in ms (order per job is kept). @default 0 */
  delayMs?: number;
}

/** Faults of the fake runners the simulator serves. */
export interface RunnerFaults {
  /** Share of new registrations that never come online: `/online` is accepted, the runner stays offline and is never assigned. 0..1. @default 0 */
  noBootRate?: number;
  /** Share of job assignments where the runner dies halfway through the job (no completion, no heartbeat). 0..1. @default 0 */
  dieRate?: number;
}

/**
 * What {@link Simulator.setFaults} injects. Endpoint keys are a method and GitHub's templated
 * path (`POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig`, without a GHES prefix);
 * action keys are `queued`, `in_progress`, `completed`, `waiting`. A scoped value replaces the
 * general one for that endpoint or action.
 */
export interface FaultSpec {
  api?: ApiFaults;
  apiByEndpoint?: Record<string, ApiFaults>;
  webhooks?: WebhookFaults;
  webhooksByAction?: Record<string, WebhookFaults>;
  runners?: RunnerFaults;
}

type Target = 'api' | 'webhooks' | 'runners';
type ValueKind = 'ratio' | 'count' | 'duration';

const KEYS: Record<string, { target: Target; field: string; kind: ValueKind }> = {
  '5xx': { target: 'api', field: 'errorRate', kind: 'ratio' },
  '429burst': { target: 'api', field: 'throttleBurst', kind: 'count' },
  latency: { target: 'api', field: 'latencyMs', kind: 'duration' },
  endlessnext: { target: 'api', field: 'endlessPagesRate', kind: 'ratio' },
  drop: { target: 'webhooks', field: 'dropRate', kind: 'ratio' },
  dup: { target: 'webhooks', field: 'duplicateRate', kind: 'ratio' },
  reorder: { target: 'webhooks', field: 'reorderRate', kind: 'ratio' },
  delay: { target: 'webhooks', field: 'delayMs', kind: 'duration' },
  noboot: { target: 'runners', field: 'noBootRate', kind: 'ratio' },
  die: { target: 'runners', field: 'dieRate', kind: 'ratio' },
};

/** The `workflow_job` actions a webhook fault can be scoped to. */
export const WEBHOOK_ACTIONS = ['queued', 'in_progress', 'completed', 'waiting'] as const;

const ENDPOINT = /^(GET|POST|PUT|PATCH|DELETE) (\/[A-Za-z0-9_{}./-]*)$/;

function invalid(part: string, why: string): JitpoolError {
  return new JitpoolError('JP_INPUT_INVALID', `fault spec: "${part}": ${why}`, { details: { part } });
}

function parseValue(part: string, kind: ValueKind, raw: string): number {
  if (kind === 'ratio') {
    const match = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(raw);
    const value = match ? Number(match[1]) / (match[2] === '%' ? 100 : 1) : Number.NaN;
    if (!(value >= 0 && value <= 1)) throw invalid(part, 'expected a ratio from 0 to 1 (e.g. 0.1 or 10%)');
    return value;
  }
  if (kind === 'count') {
    if (!/^\d{1,6}$/.test(raw)) throw invalid(part, 'expected a whole number of requests');
    return Number(raw);
  }
  const match = /^(\d{1,7})(ms|s)?$/.exec(raw);
  if (!match) throw invalid(part, 'expected a duration such as 200ms or 2s');
  return Number(match[1]) * (match[2] === 's' ? 1000 : 1);
}

/** Splits on commas outside `[...]`. */
function splitItems(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '[') depth++;
    if (char === ']') depth = Math.max(0, depth - 1);
    if (char === ',' && depth === 0) {
      items.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  items.push(current);
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

/**
 * Parses the fault syntax of `jitpool demo --faults`, tests and benchmarks into a {@link FaultSpec}.
 *
 * Grammar: `item ("," item)*`, `item = key ["[" scope "]"] "=" value`.
 * - API keys: `5xx` (ratio), `429burst` (count), `latency` (duration), `endlessnext` (ratio); scope = an endpoint,
 *   `METHOD /templated/path`, e.g. `5xx[POST /orgs/{org}/actions/runners/generate-jitconfig]=0.2`.
 * - Webhook keys: `drop`, `dup`, `reorder` (ratios), `delay` (duration); scope = an action,
 *   `queued` | `in_progress` | `completed` | `waiting`, e.g. `drop[in_progress]=0.5`.
 * - Runner keys: `noboot`, `die` (ratios); no scope.
 * - ratio: `0.1`, `.1` or `10%` (0 to 1); count: a whole number; duration: `200ms`, `2s` or `200` (ms).
 *
 * @example parseFaultSpec('5xx=0.1,429burst=1,latency=200ms,drop=0.3,noboot=0.05')
 * @throws JitpoolError `JP_INPUT_INVALID` naming the bad part.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const spec: FaultSpec = {};
  for (const part of splitItems(text)) {
    const match = /^([A-Za-z0-9]+)(?:\[([^\]]*)\])?=(.*)$/.exec(part);
    if (!match) throw invalid(part, 'expected key=value or key[scope]=value');
    const [, name = '', rawScope, rawValue = ''] = match;
    const key = KEYS[name.toLowerCase()];
    if (!key) throw invalid(part, `unknown fault "${name}" (known: ${Object.keys(KEYS).join(', ')})`);
    const value = parseValue(part, key.kind, rawValue.trim());
    const scope = rawScope?.trim().replace(/\s+/g, ' ');
    if (key.target === 'runners') {
      if (scope !== undefined) throw invalid(part, 'runner faults take no scope');
      spec.runners = { ...spec.runners, [key.field]: value };
    } else if (key.target === 'api') {
      if (scope === undefined) {
        spec.api = { ...spec.api, [key.field]: value };
      } else {
        const endpoint = ENDPOINT.exec(scope);
        if (!endpoint) throw invalid(part, 'an API fault scope is "METHOD /templated/path"');
        const normalized = `${endpoint[1]} ${(endpoint[2] ?? '/').replace(/(.)\/+$/, '$1')}`;
        spec.apiByEndpoint ??= {};
        spec.apiByEndpoint[normalized] = { ...spec.apiByEndpoint[normalized], [key.field]: value };
      }
    } else if (scope === undefined) {
      spec.webhooks = { ...spec.webhooks, [key.field]: value };
    } else {
      if (!(WEBHOOK_ACTIONS as readonly string[]).includes(scope)) throw invalid(part, `a webhook fault scope is one of ${WEBHOOK_ACTIONS.join(', ')}`);
      spec.webhooksByAction ??= {};
      spec.webhooksByAction[scope] = { ...spec.webhooksByAction[scope], [key.field]: value };
    }
  }
  return spec;
}

/** Checks a {@link FaultSpec} built in code (the same ranges the parser enforces). */
export function validateFaultSpec(spec: FaultSpec): void {
  const checkRatio = (where: string, value: number | undefined): void => {
    if (value !== undefined && !(value >= 0 && value <= 1)) throw invalid(where, 'expected a ratio from 0 to 1');
  };
  const checkCount = (where: string, value: number | undefined): void => {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) throw invalid(where, 'expected a whole number >= 0');
  };
  const checkApi = (where: string, faults: ApiFaults | undefined): void => {
    checkRatio(`${where}.errorRate`, faults?.errorRate);
    checkCount(`${where}.throttleBurst`, faults?.throttleBurst);
    checkCount(`${where}.latencyMs`, faults?.latencyMs);
    checkRatio(`${where}.endlessPagesRate`, faults?.endlessPagesRate);
  };
  const checkHooks = (where: string, faults: WebhookFaults | undefined): void => {
    checkRatio(`${where}.dropRate`, faults?.dropRate);
    checkRatio(`${where}.duplicateRate`, faults?.duplicateRate);
    checkRatio(`${where}.reorderRate`, faults?.reorderRate);
    checkCount(`${where}.delayMs`, faults?.delayMs);
  };
  checkApi('api', spec.api);
  for (const [endpoint, faults] of Object.entries(spec.apiByEndpoint ?? {})) {
    if (!ENDPOINT.test(endpoint)) throw invalid(`apiByEndpoint.${endpoint}`, 'an endpoint is "METHOD /templated/path"');
    checkApi(`apiByEndpoint.${endpoint}`, faults);
  }
  checkHooks('webhooks', spec.webhooks);
  for (const [action, faults] of Object.entries(spec.webhooksByAction ?? {})) {
    if (!(WEBHOOK_ACTIONS as readonly string[]).includes(action)) throw invalid(`webhooksByAction.${action}`, `one of ${WEBHOOK_ACTIONS.join(', ')}`);
    checkHooks(`webhooksByAction.${action}`, faults);
  }
  checkRatio('runners.noBootRate', spec.runners?.noBootRate);
  checkRatio('runners.dieRate', spec.runners?.dieRate);
}
