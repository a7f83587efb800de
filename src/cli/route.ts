import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { JitpoolError } from '../core/index.ts';
import { handled } from './guard-context.ts';
import { decideRoute, inferEventName, parseRoutingPolicy, type RouteDecision } from '../routing/index.ts';

/** Options of `jitpool route`. */
export interface RouteCommandOptions {
  event: string;
  eventName?: string;
  variable?: string;
  policy?: string;
}

/** The decision `jitpool route` prints: the same policy and JSON as the Action. */
export function routeFromFiles(opts: RouteCommandOptions): RouteDecision & { event: string } {
  let payload: unknown;
  try {
    payload = JSON.parse(readFileSync(opts.event, 'utf8'));
  } catch (err) {
    throw new JitpoolError('JP_INPUT_INVALID', `--event ${opts.event}: cannot read a JSON payload (${(err as Error).message})`);
  }
  const name = opts.eventName ?? inferEventName(payload);
  if (!name) throw new JitpoolError('JP_INPUT_INVALID', '--event-name is required: the payload does not say which event it is');
  let policyInput: unknown = {};
  if (opts.policy) {
    try {
      policyInput = parseYaml(readFileSync(opts.policy, 'utf8')) ?? {};
    } catch (err) {
      throw new JitpoolError('JP_INPUT_INVALID', `--policy ${opts.policy}: cannot read YAML/JSON (${(err as Error).message})`);
    }
  }
  const policy = parseRoutingPolicy(policyInput, `--policy ${opts.policy ?? '(default)'}`);
  return { event: name, ...decideRoute({ name, payload }, opts.variable ?? 'true', policy) };
}

/** Registers `jitpool route`. */
export function registerRouteCommand(program: Command): void {
  program
    .command('route')
    .description('Decide where a workflow event runs (self-hosted labels or the fallback) with the trusted-routing policy; prints the JSON the Action outputs.')
    .requiredOption('--event <file>', 'event payload (GITHUB_EVENT_PATH, or a webhook body)')
    .option('--event-name <name>', 'event name (github.event_name); inferred from the payload when omitted')
    .option('--variable <true|false>', 'value of the routing variable', (v) => {
      if (v !== 'true' && v !== 'false') throw new InvalidArgumentError('--variable must be true or false');
      return v;
    }, 'true')
    .option('--policy <file>', 'routing policy (YAML or JSON, the fields of docs/routing.md); default: the built-in policy of docs/routing.md (pull requests from members of the same repository, not forks or bots)')
    .addHelpText('after', '\nExample:\n  jitpool route --event "$GITHUB_EVENT_PATH" --event-name pull_request --variable true\n')
    .action(handled((opts: RouteCommandOptions) => {
      process.stdout.write(`${JSON.stringify(routeFromFiles(opts))}\n`);
    }));
}
