import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { decideRoute, inferEventName, type RouteDecision } from './decide-route.ts';
import { parseRoutingPolicy, type RoutingPolicy } from './policy.ts';

/**
 * The GitHub Action entry (`action.yml` → `action/dist/index.js`, bundled by
 * `scripts/build-action.mjs`): reads the event the way the Actions runtime hands it over
 * (`GITHUB_EVENT_PATH`, `GITHUB_EVENT_NAME`, inputs as `INPUT_<NAME>`), decides with
 * {@link decideRoute}, and writes the outputs to `GITHUB_OUTPUT`. No node_modules at run time.
 */

/** Inputs that set one policy field each; a non-empty input wins over the same field in `policy`. */
const LIST_INPUTS = {
  'self-hosted-labels': 'selfHostedLabels',
  'fallback-labels': 'fallbackLabels',
  'trusted-associations': 'trustedAssociations',
  'bot-logins': 'botLogins',
  'pull-request-events': 'pullRequestEvents',
  'self-hosted-events': 'selfHostedEvents',
} as const;
const BOOLEAN_INPUTS = { 'allow-forks': 'allowForks', 'allow-bots': 'allowBots' } as const;

/** An input as the runner passes it: `INPUT_` + the name upper-cased, spaces as `_` (dashes stay). */
export function readInput(env: NodeJS.ProcessEnv, name: string): string {
  return (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/** A list input: a JSON array, or items separated by commas or newlines. */
export function parseListInput(value: string, name: string): string[] {
  if (value.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new Error(`input ${name}: not a JSON array`);
    }
    if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) throw new Error(`input ${name}: must be an array of strings`);
    return parsed.map((item: string) => item.trim()).filter(Boolean);
  }
  return value.split(/[,\n]/).map((item) => item.trim()).filter(Boolean);
}

/** The policy the inputs describe: `policy` (a JSON object) first, then the per-field inputs over it. */
export function policyFromInputs(env: NodeJS.ProcessEnv): RoutingPolicy {
  const raw = readInput(env, 'policy');
  let base: Record<string, unknown> = {};
  if (raw !== '') {
    try {
      base = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new Error('input policy: not a JSON object');
    }
    if (base === null || typeof base !== 'object' || Array.isArray(base)) throw new Error('input policy: not a JSON object');
  }
  const overrides: Record<string, unknown> = {};
  for (const [input, field] of Object.entries(LIST_INPUTS)) {
    const value = readInput(env, input);
    if (value !== '') overrides[field] = parseListInput(value, input);
  }
  for (const [input, field] of Object.entries(BOOLEAN_INPUTS)) {
    const value = readInput(env, input).toLowerCase();
    if (value === '') continue;
    if (value !== 'true' && value !== 'false') throw new Error(`input ${input}: must be true or false, got ${JSON.stringify(value.slice(0, 20))}`);
    overrides[field] = value === 'true';
  }
  const mergeGroup = readInput(env, 'merge-group');
  if (mergeGroup !== '') overrides.mergeGroup = mergeGroup;
  const variableName = readInput(env, 'variable-name');
  if (variableName !== '') overrides.variableName = variableName;
  return parseRoutingPolicy({ ...base, ...overrides }, 'action inputs');
}

/** One output in the runner's file-command format, with a random delimiter so any value is safe (multi-line included). */
export function formatOutput(name: string, value: string, delimiter = `ghadelimiter_${randomUUID()}`): string {
  if (name.includes(delimiter) || value.includes(delimiter)) throw new Error(`output ${name}: value contains the delimiter`);
  return `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
}

/** The outputs of a decision, by name. */
export function decisionOutputs(decision: RouteDecision): Record<string, string> {
  return {
    'runs-on': JSON.stringify(decision.runsOn),
    target: decision.target,
    reason: decision.reason,
    rule: decision.rule,
    trusted: String(decision.trusted),
  };
}

/** Runs the Action against `env`; returns the exit code (0 decided, 1 bad input). Writes `::error::` on failure. */
export function runAction(env: NodeJS.ProcessEnv, log: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): number {
  try {
    const eventPath = env.GITHUB_EVENT_PATH;
    if (!eventPath) throw new Error('GITHUB_EVENT_PATH is not set (run this inside GitHub Actions)');
    const outputPath = env.GITHUB_OUTPUT;
    if (!outputPath) throw new Error('GITHUB_OUTPUT is not set (run this inside GitHub Actions)');
    let payload: unknown;
    try {
      payload = JSON.parse(readFileSync(eventPath, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read the event payload at GITHUB_EVENT_PATH: ${(err as Error).message}`);
    }
    const name = env.GITHUB_EVENT_NAME || inferEventName(payload);
    if (!name) throw new Error('GITHUB_EVENT_NAME is not set and the payload does not say which event it is');
    const policy = policyFromInputs(env);
    const decision = decideRoute({ name, payload }, readInput(env, 'routing-variable'), policy);
    const outputs = decisionOutputs(decision);
    appendFileSync(outputPath, Object.entries(outputs).map(([key, value]) => formatOutput(key, value)).join(''));
    log(`route: ${decision.target} ${outputs['runs-on']} (${decision.rule}): ${decision.reason}`);
    return 0;
  } catch (err) {
    // Workflow commands need %, CR and LF escaped.
    const message = String((err as Error).message ?? err).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
    log(`::error title=jitpool route::${message}`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = runAction(process.env);
