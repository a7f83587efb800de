import { z } from 'zod';
import { isSafeControllerId, isSafeLabel, isSafeOwner, isSafePoolName, isSafeRepo } from '../core/index.ts';
import { compareVersions, DEFAULT_RUNNER_VERSION, DEFAULT_URL_TEMPLATE, MIN_RUNNER_VERSION } from '../runner/index.ts';

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

/** The actions runner package jitpool downloads, verifies, caches and gives each runner as a hard-linked root. */
const runnerPackageSchema = z
  .object({
    /** Runner version; GitHub refuses runners older than 2.329.0 (since March 2026). @default 2.330.0 */
    version: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/, { message: 'expected MAJOR.MINOR.PATCH' })
      .refine((v) => compareVersions(v, MIN_RUNNER_VERSION) >= 0, { message: `older than ${MIN_RUNNER_VERSION}, the oldest runner GitHub accepts` })
      .default(DEFAULT_RUNNER_VERSION),
    /** SHA-256 of the archive, from the release notes (seed 000's CODEX_RUNNER_SHA256). A mismatch deletes the download and fails. */
    sha256: z.string().regex(/^(sha256:)?[0-9a-fA-F]{64}$/, { message: 'expected a SHA-256 digest (64 hex characters)' }),
    /**
     * Download URL; `{version}`, `{os}` (linux) and `{arch}` (x64, arm64, arm) are filled in. Point it at a mirror for air-gapped hosts.
     * @default https://github.com/actions/runner/releases/download/v{version}/actions-runner-{os}-{arch}-{version}.tar.gz
     */
    urlTemplate: z.string().default(DEFAULT_URL_TEMPLATE),
    /** Where archives and extracted packages are kept. @default <stateDir>/runner-cache */
    cacheDir: z.string().optional(),
  })
  .strict();

const processProvider = z
  .object({
    kind: z.literal('process'),
    /** The runner command; the JIT config reaches it via ACTIONS_RUNNER_INPUT_JITCONFIG, never argv. Give `command` or `runner`. @example ['/opt/actions-runner/bin/Runner.Listener', 'run'] */
    command: z.array(z.string()).min(1).optional(),
    /** Or: the pinned runner package; each runner then gets its own hard-linked root and `bin/Runner.Listener run` is launched in it. */
    runner: runnerPackageSchema.optional(),
    /** Parent of the per-runner work directories. @default <stateDir>/work */
    workRoot: z.string().optional(),
    /** Extra environment for the runner (no secrets here: use the runner's own secret store). */
    env: z.record(z.string(), z.string()).default({}),
    /** Seconds to wait after SIGTERM before SIGKILL on delete. @default 10 */
    killGraceSeconds: seconds.default(10),
  })
  .strict()
  .refine((p) => (p.command === undefined) !== (p.runner === undefined), { message: 'exactly one of `command` or `runner` is required', path: ['command'] });

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
/** A secret source as written in the config. */
export type SecretSource = z.infer<typeof secretSource>;
