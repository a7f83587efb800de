import { z } from 'zod';
import { isSafeControllerId, isSafeLabel, isSafeOwner, isSafePoolName, isSafeRepo } from '../core/index.ts';
import { routingPolicySchema } from '../routing/policy.ts';

/**
 * The one description of `jitpool.yaml`: validation, TypeScript types and the exported JSON
 * Schema all come from here. Every field documents its default.
 */

const label = z.string().refine(isSafeLabel, { message: 'labels use letters, digits and . _ : + - (max 100 chars)' });
const owner = z.string().refine(isSafeOwner, { message: 'not a valid GitHub owner login' });
const repo = z.string().refine(isSafeRepo, { message: 'not a valid repository name' });
const seconds = z.number().int().positive();

/** A secret read from the first set variable of an ordered list, or from a file (0600 advised). */
const secretSource = z
  .object({
    /** Environment variables tried in order; the first one set wins. @example ['JITPOOL_GITHUB_TOKEN', 'GH_PAT'] */
    env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default([]),
    /** A file holding the secret (whitespace trimmed). Used when no listed variable is set. */
    file: z.string().optional(),
  })
  .strict();

const patAuth = z
  .object({
    kind: z.literal('pat'),
    /** Where the token comes from. @default env: [JITPOOL_GITHUB_TOKEN, GH_PAT, GITHUB_TOKEN] */
    token: secretSource.default({ env: ['JITPOOL_GITHUB_TOKEN', 'GH_PAT', 'GITHUB_TOKEN'] }),
  })
  .strict();

const appAuth = z
  .object({
    kind: z.literal('app'),
    /** The GitHub App's id. */
    appId: z.number().int().positive(),
    /** The installation id; `jitpool app installation-id` finds it. */
    installationId: z.number().int().positive(),
    /** PEM private key file of the App (keep it outside any repository, mode 0600). */
    privateKeyFile: z.string(),
  })
  .strict();

const githubSchema = z
  .object({
    /** REST API base URL; for GitHub Enterprise Server use `https://HOST/api/v3`. @default https://api.github.com */
    apiUrl: z.url().default('https://api.github.com'),
    /** How jitpool authenticates. @default { kind: pat } */
    auth: z.discriminatedUnion('kind', [patAuth, appAuth]).default({ kind: 'pat', token: { env: ['JITPOOL_GITHUB_TOKEN', 'GH_PAT', 'GITHUB_TOKEN'] } }),
    /** Mutating requests (JIT configs, deletes) in flight at once. @default 4 */
    writeConcurrency: z.number().int().positive().max(64).default(4),
    /** Least time between mutating requests; GitHub advises 1000 for bulk writes by one client. @default 0 */
    writeMinIntervalMs: z.number().int().min(0).default(0),
  })
  .strict();

const webhookSchema = z
  .object({
    /** Accept webhooks at all (poll-only mode when false). @default true */
    enabled: z.boolean().default(true),
    /** Path of the receiver. @default /webhook */
    path: z.string().startsWith('/').default('/webhook'),
    /** The webhook secret. @default env: [JITPOOL_WEBHOOK_SECRET] */
    secret: secretSource.default({ env: ['JITPOOL_WEBHOOK_SECRET'] }),
    /** Largest accepted body; GitHub caps payloads at 25 MB, workflow_job ones are a few KB. @default 1048576 */
    maxBodyBytes: z.number().int().positive().default(1024 * 1024),
  })
  .strict();

const processProvider = z
  .object({
    kind: z.literal('process'),
    /** The runner command; the JIT config reaches it via ACTIONS_RUNNER_INPUT_JITCONFIG, never argv. @example ['/opt/actions-runner/bin/Runner.Listener', 'run'] */
    command: z.array(z.string()).min(1),
    /** Parent of the per-runner work directories. @default <stateDir>/work */
    workRoot: z.string().optional(),
    /** Extra environment for the runner (no secrets here: use the runner's own secret store). */
    env: z.record(z.string(), z.string()).default({}),
    /** Seconds to wait after SIGTERM before SIGKILL on delete. @default 10 */
    killGraceSeconds: seconds.default(10),
  })
  .strict();

/** Provider settings; `kind` picks the provider. Other kinds are added by later issues. */
const providerSchema = z.discriminatedUnion('kind', [processProvider]);

const repoScope = z.object({ kind: z.literal('repo'), owner, repo }).strict();
const orgScope = z.object({ kind: z.literal('org'), org: owner }).strict();

const poolSchema = z
  .object({
    /** Pool name: lowercase letters, digits, dashes; part of runner names (`jp-<pool>-<id>`). */
    name: z.string().refine(isSafePoolName, { message: 'pool names use a-z, 0-9 and -, 1-32 chars' }),
    /** Where runners register: one repository or an organisation. */
    scope: z.discriminatedUnion('kind', [repoScope, orgScope]),
    /** Runner group id (org scope); 1 is the Default group. @default 1 */
    runnerGroupId: z.number().int().positive().default(1),
    /** Labels every runner of the pool carries; a job is served when its `runs-on` labels are a subset. */
    labels: z.array(label).min(1),
    /** Compute the runners run on. */
    provider: providerSchema,
    /** Idle runners kept warm when nothing is queued. @default 0 */
    minIdle: z.number().int().min(0).default(0),
    /** Most runners alive at once (booting, idle and busy together). @default 4 */
    max: z.number().int().positive().default(4),
    /** A runner not online after this long is destroyed and replaced. @default 300 */
    bootTimeoutSeconds: seconds.default(300),
    /** A busy runner past this is stopped (the one case a busy runner is killed). @default 7200 */
    jobTimeoutSeconds: seconds.default(7200),
    /** An idle runner beyond demand is kept this long before scale-down (absorbs bursts). @default 30 */
    idleGraceSeconds: z.number().int().min(0).default(30),
  })
  .strict()
  .refine((pool) => pool.minIdle <= pool.max, { message: 'minIdle must not exceed max', path: ['minIdle'] });

const storeSchema = z
  .object({
    /** Directory for the database and runner work directories. @default ./.state */
    stateDir: z.string().default('./.state'),
    /** SQLite file. @default <stateDir>/jitpool.sqlite */
    sqlitePath: z.string().optional(),
  })
  .strict();

const apiSchema = z
  .object({
    /** Listen address. @default 127.0.0.1 */
    host: z.string().default('127.0.0.1'),
    /** Listen port (0 picks a free one). @default 8080 */
    port: z.number().int().min(0).max(65535).default(8080),
  })
  .strict();

const controllerSchema = z
  .object({
    /** Timer between reconciles when no event arrives. @default 15 */
    reconcileIntervalSeconds: seconds.default(15),
    /** How often the controller compares its store with GitHub's runner list. @default 60 */
    githubSyncIntervalSeconds: seconds.default(60),
    /** Provider and API calls in flight at once. @default 8 */
    concurrency: z.number().int().positive().max(256).default(8),
  })
  .strict();

const guardThresholdsSchema = z
  .object({
    /** Roll back after this many consecutive trusted runs failed before their first step because a runner did not boot or register. @default 2 */
    consecutiveBootFailures: z.number().int().positive().default(2),
    /** Roll back when the p95 queue wait of the latest trusted runs exceeds this. @default 120 */
    queueWaitP95Seconds: seconds.default(120),
    /** How many of the latest trusted runs the p95 queue wait covers. @default 10 */
    queueWaitWindowRuns: z.number().int().positive().max(1000).default(10),
    /** Roll back when a pool's runner stays offline this long (counted from the last `jitpool recover`, if later). @default 600 */
    offlineSeconds: seconds.default(600),
    /** Roll back on any route mismatch (an untrusted run on a self-hosted pool). @default true */
    routeMismatch: z.boolean().default(true),
  })
  .strict();

const canarySchema = z
  .object({
    /** Roll out in stages: routing stays on while a stage's budget of trusted PRs lasts, then holds. @default false */
    enabled: z.boolean().default(false),
    /** Trusted PRs per stage before the last one (seed 001: 1, then 10, then 25; the stage after them is all PRs). @default [1, 10, 25] */
    stages: z.array(z.number().int().positive()).min(1).max(10).default([1, 10, 25]),
    /** Advance by itself at the end of a stage when no rollback trigger fired during it (else `jitpool canary advance`). @default false */
    autoAdvance: z.boolean().default(false),
  })
  .strict();

const guardSchema = z
  .object({
    /** Run the guard in the daemon: evaluate the rollback triggers periodically and set the routing variable to false when one holds. @default false */
    enabled: z.boolean().default(false),
    /** Repositories whose routing variable the guard controls. @example [{ owner: acme, repo: app }] */
    repositories: z.array(z.object({ owner, repo }).strict()).default([]),
    /** Time between checks. @default 60 */
    intervalSeconds: seconds.default(60),
    /** Audit each run that reaches a self-hosted pool against the routing policy (one cached API call per run, two for a PR). @default true */
    routeAudit: z.boolean().default(true),
    /** Rollback triggers (seed 001 §7). */
    thresholds: guardThresholdsSchema.prefault({}),
    /** Canary stages (seed 001 §6). */
    canary: canarySchema.prefault({}),
  })
  .strict()
  .refine((guard) => !guard.enabled || guard.repositories.length > 0, { message: 'guard.enabled needs at least one repository', path: ['repositories'] });

/** The whole `jitpool.yaml`. */
export const configSchema = z
  .object({
    /** Identifies this controller; every runner carries the label `jitpool-<id>`. @default default */
    controllerId: z.string().refine(isSafeControllerId, { message: 'a-z, 0-9 and -, 1-24 chars' }).default('default'),
    github: githubSchema.default({
      apiUrl: 'https://api.github.com',
      auth: { kind: 'pat', token: { env: ['JITPOOL_GITHUB_TOKEN', 'GH_PAT', 'GITHUB_TOKEN'] } },
      writeConcurrency: 4,
      writeMinIntervalMs: 0,
    }),
    webhook: webhookSchema.default({ enabled: true, path: '/webhook', secret: { env: ['JITPOOL_WEBHOOK_SECRET'] }, maxBodyBytes: 1024 * 1024 }),
    pools: z.array(poolSchema).min(1),
    store: storeSchema.default({ stateDir: './.state' }),
    api: apiSchema.default({ host: '127.0.0.1', port: 8080 }),
    controller: controllerSchema.default({ reconcileIntervalSeconds: 15, githubSyncIntervalSeconds: 60, concurrency: 8 }),
    /** The trusted-routing policy the route audit and the guard judge with (the same rules as the Action). */
    routing: routingPolicySchema.prefault({}),
    /** The routing guard: automatic rollback on SLO triggers and canary stages. */
    guard: guardSchema.prefault({}),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).strict().default({ level: 'info' }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.pools.forEach((pool, index) => {
      if (seen.has(pool.name)) ctx.addIssue({ code: 'custom', message: `duplicate pool name "${pool.name}"`, path: ['pools', index, 'name'] });
      seen.add(pool.name);
    });
  });

/** A validated configuration. */
export type Config = z.infer<typeof configSchema>;
/** One pool's validated configuration. */
export type PoolConfig = Config['pools'][number];
/** A pool's scope. */
export type PoolScope = PoolConfig['scope'];
/** A pool's provider settings. */
export type ProviderConfig = PoolConfig['provider'];
/** The guard's validated configuration. */
export type GuardConfig = Config['guard'];
/** A secret source as written in the config. */
export type SecretSource = z.infer<typeof secretSource>;
