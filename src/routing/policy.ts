import { z } from 'zod';
// errors.ts directly, not core/index.ts: the Action bundle must not pull in the logger.
import { JitpoolError } from '../core/errors.ts';

/**
 * The trusted-routing policy (seed 002): which workflow contexts may run on self-hosted
 * runners. Every rule is a field here, validated by zod and documented with its default, so
 * the Action, `jitpool route`, the route audit and the guard all judge with the same rules.
 */

const label = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}$/, { message: 'labels use letters, digits and . _ : + - (max 100 chars)' });

/** The `author_association` values GitHub reports on a pull request. */
export const AUTHOR_ASSOCIATIONS = ['OWNER', 'MEMBER', 'COLLABORATOR', 'CONTRIBUTOR', 'FIRST_TIME_CONTRIBUTOR', 'FIRST_TIMER', 'MANNEQUIN', 'NONE'] as const;

/** One author association. */
export type AuthorAssociation = (typeof AUTHOR_ASSOCIATIONS)[number];

/** The trusted-routing policy: every rule of seed 002, each one configurable. */
export const routingPolicySchema = z
  .object({
    /** The repository variable that switches routing on (`true`) or off (anything else, or unset). @default CI_SELF_HOSTED_TRUSTED_ROUTING */
    variableName: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,99}$/).default('CI_SELF_HOSTED_TRUSTED_ROUTING'),
    /** `runs-on` labels for a trusted context. @default [self-hosted, linux, x64] @example [self-hosted, linux, x64, chem-trusted-pr] */
    selfHostedLabels: z.array(label).min(1).max(10).default(['self-hosted', 'linux', 'x64']),
    /** `runs-on` labels for everything else. @default [ubuntu-latest] */
    fallbackLabels: z.array(label).min(1).max(10).default(['ubuntu-latest']),
    /**
     * Events judged by the pull-request rules (fork, bot, association). `pull_request_target`
     * runs the base branch's workflow with secrets; add it only on purpose. @default [pull_request]
     */
    pullRequestEvents: z.array(z.enum(['pull_request', 'pull_request_target'])).default(['pull_request']),
    /** Let pull requests whose head repository is a fork onto self-hosted runners. @default false */
    allowForks: z.boolean().default(false),
    /** Let bot actors (a `[bot]` login suffix, type `Bot`, or a listed login) onto self-hosted runners. @default false */
    allowBots: z.boolean().default(false),
    /** Logins treated as bots besides the `[bot]` suffix and type `Bot`. @default [dependabot[bot]] @example [dependabot[bot], renovate-bot] */
    botLogins: z.array(z.string().min(1).max(100)).default(['dependabot[bot]']),
    /** Author associations trusted on a pull request. @default [OWNER, MEMBER, COLLABORATOR] */
    trustedAssociations: z.array(z.enum(AUTHOR_ASSOCIATIONS)).default(['OWNER', 'MEMBER', 'COLLABORATOR']),
    /**
     * `merge_group` (merge queue) runs: `fallback` keeps them on hosted runners (seed 002 routes
     * only pull_request events); `self-hosted` routes them like a trusted context when the
     * sender is not a bot — a merge group's head is a branch of the repository itself, built from
     * pull requests a maintainer queued. @default fallback
     */
    mergeGroup: z.enum(['fallback', 'self-hosted']).default('fallback'),
    /**
     * Other events that run on self-hosted runners when the sender is not a bot (their code is
     * already in the repository: pushes, manual dispatches, schedules). @default [] @example [push, workflow_dispatch, schedule]
     */
    selfHostedEvents: z.array(z.enum(['push', 'workflow_dispatch', 'schedule'])).default([]),
  })
  .strict();

/** A validated routing policy. */
export type RoutingPolicy = z.infer<typeof routingPolicySchema>;

/** What a routing policy looks like before defaults are applied (a YAML/JSON file, Action inputs). */
export type RoutingPolicyInput = z.input<typeof routingPolicySchema>;

/** Seed 002's policy. */
export const DEFAULT_ROUTING_POLICY: RoutingPolicy = Object.freeze(routingPolicySchema.parse({}));

/** Validates a policy object; throws `JP_INPUT_INVALID` naming the first bad field (`where` says where it came from). */
export function parseRoutingPolicy(input: unknown, where = 'routing policy'): RoutingPolicy {
  const parsed = routingPolicySchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? issue.path.join('.') : '(root)';
  throw new JitpoolError('JP_INPUT_INVALID', `${where}: ${field}: ${issue?.message ?? 'invalid'}`, { details: { field } });
}
