import { z } from 'zod';
import { isSafeControllerId, isSafeLabel, isSafeOwner, isSafePoolName, isSafeRepo } from '../core/index.ts';
import { compareVersions, DEFAULT_RUNNER_VERSION, DEFAULT_URL_TEMPLATE, MIN_RUNNER_VERSION } from '../runner/index.ts';
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

/** The actions runner package jitpool downloads, verifies, caches and gives each runner as a hard-linked root. */
const runnerPackageSchema = z
  .object({
    /** Runner version; GitHub refuses runners older than 2.329.0 (since March 2026). @default 2.330.0 */
    version: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/, { message: 'expected MAJOR.MINOR.PATCH' })
      .refine((v) => compareVersions(v, MIN_RUNNER_VERSION) >= 0, { message: `older than ${MIN_RUNNER_VERSION}, the oldest runner GitHub accepts` })
      .default(DEFAULT_RUNNER_VERSION),
    /**
     * SHA-256 of the archive, from the release notes. A mismatch deletes the download and fails.
     * @default the digest GitHub published for `version`, which jitpool ships for 2.330.0 (linux x64, arm64; docs/runner-package.md)
     */
    sha256: z
      .string()
      .regex(/^(sha256:)?[0-9a-fA-F]{64}$/, { message: 'expected a SHA-256 digest (64 hex characters)' })
      .refine((v) => !/^(sha256:)?0+$/i.test(v), { message: 'a placeholder, not a digest: remove it to use the digest jitpool ships for its pinned version, or copy the real one from the release notes' })
      .optional(),
    /**
     * Download URL; `{version}`, `{os}` (linux) and `{arch}` (x64, arm64, arm) are filled in. Point it at a mirror for air-gapped hosts.
     * @default https://github.com/actions/runner/releases/download/v{version}/actions-runner-{os}-{arch}-{version}.tar.gz
     */
    urlTemplate: z.string().default(DEFAULT_URL_TEMPLATE),
    /** Where archives and extracted packages are kept. @default <stateDir>/runner-cache */
    cacheDir: z.string().optional(),
  })
  .strict();

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'environment variable names use letters, digits and _' });
const absolutePath = z.string().startsWith('/', { message: 'must be an absolute path' });

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
    /**
     * How each runner is isolated (docs/providers/process.md). `bwrap`: a bubblewrap sandbox —
     * own PID, mount, IPC and UTS namespaces, an unprivileged uid, the system read-only, a private
     * /tmp, only its work dir writable, nothing of jitpool visible. `none`: jobs run as jitpool's
     * own user and can read its secrets and other runners' credentials (logged as a warning). @default bwrap
     */
    sandbox: z.enum(['bwrap', 'none']).default('bwrap'),
    /**
     * `host`: the host's network (CI jobs need it). `none`: a network namespace with only loopback —
     * the runner itself cannot reach GitHub then, so only for runner commands that need no network. @default host
     */
    network: z.enum(['host', 'none']).default('host'),
    /** Extra host directories shown read-only in the sandbox, at the same path (tool caches, SDKs). @default [] @example ['/srv/toolchains'] */
    readOnlyPaths: z
      .array(absolutePath.refine((path) => path !== '/' && !/^\/(proc|sys|dev)(\/|$)/.test(path), { message: 'not /, /proc, /sys or /dev (they would show the host through the sandbox)' }))
      .default([]),
    /** Host uids handed to runners (one per live runner) when jitpool runs as root. @default { first: 1879048192, count: 65536 } */
    runnerUids: z
      .object({
        /** The first uid; keep the range clear of accounts and of other tools' uid ranges. */
        first: z.number().int().min(1000).max(0xfffffffe),
        /** How many uids (the most runners alive at once on this host). */
        count: z.number().int().positive().max(1 << 24),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((p) => (p.command === undefined) !== (p.runner === undefined), { message: 'exactly one of `command` or `runner` is required', path: ['command'] })
  .refine((p) => p.sandbox === 'bwrap' || (p.network === 'host' && p.readOnlyPaths.length === 0), { message: '`network: none` and `readOnlyPaths` need the sandbox (remove `sandbox: none`)', path: ['sandbox'] });

const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, { message: 'must be an IPv4 CIDR such as 10.213.0.0/16' });

const cacheVolume = z
  .object({
    /** Named Docker volume, shared by every runner that mounts it (created on first use, never deleted by jitpool). @example pnpm-store */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, { message: 'volume names use letters, digits and _ . -' }),
    /** Where it appears in the container. @example /home/runner/.local/share/pnpm/store */
    target: absolutePath,
    /** Mount it read-only. @default false */
    readOnly: z.boolean().default(false),
  })
  .strict();

const bindMount = z
  .object({
    /** Host path. @example /opt/hostedtoolcache */
    source: absolutePath,
    /** Where it appears in the container. @example /opt/hostedtoolcache */
    target: absolutePath,
    /** Mount it read-only. @default true */
    readOnly: z.boolean().default(true),
  })
  .strict();

const dockerProvider = z
  .object({
    kind: z.literal('docker'),
    /** The runner image (see examples/Dockerfile). @example ghcr.io/acme/actions-runner:2.330.0 */
    image: z.string().min(1),
    /** When to pull the image: `missing` pulls only if absent, `never` fails with JP_PROVIDER_IMAGE_MISSING. @default missing */
    pullPolicy: z.enum(['missing', 'never', 'always']).default('missing'),
    /** Replaces the image's CMD (seed 003's RUNNER_COMMAND); the JIT config still comes through the environment. @example ['./bin/Runner.Listener', 'run'] */
    command: z.array(z.string()).min(1).optional(),
    /** Extra environment; values may use {runner_name} {pool} {scope} {repo_owner} {repo_name} {timestamp} {hostname} {controller_id}. No secrets here. @default {} */
    env: z.record(envName, z.string()).default({}),
    /** CPU quota in CPUs (CpuQuota / CpuPeriod). @default 2 */
    cpus: z.number().positive().max(512).default(2),
    /** Memory limit in MiB; swap is disabled (MemorySwap = Memory). @default 4096 */
    memoryMb: z.number().int().min(6).default(4096),
    /** Most processes/threads in the container (fork bombs stop here). @default 4096 */
    pidsLimit: z.number().int().positive().default(4096),
    /** User the runner runs as; non-root by default. "" uses the image's USER; "0:0" is root (not advised). @default 1001:1001 */
    user: z.string().regex(/^[A-Za-z0-9_.-]*(:[A-Za-z0-9_.-]+)?$/, { message: 'a user such as 1001:1001 or runner' }).default('1001:1001'),
    /** Named volumes kept between jobs (seed 002's pnpm store and uv cache). @default [] */
    cacheVolumes: z.array(cacheVolume).default([]),
    /** Extra host directories bind-mounted into every runner. @default [] */
    mounts: z.array(bindMount).default([]),
    /** Runs the container privileged so the job can start its own Docker daemon (seed 004). Grants near-root on the host: see docs/providers/docker.md. @default false */
    dockerInDocker: z.boolean().default(false),
    /** Docker socket of the engine. @default /var/run/docker.sock (or DOCKER_HOST when set) */
    socketPath: absolutePath.optional(),
    /** Engine address instead of a socket, like DOCKER_HOST. @example tcp://10.0.0.5:2376 */
    host: z.string().regex(/^(tcp|http|https|unix|ssh):\/\/.+/, { message: 'a URL such as tcp://host:2376 or unix:///var/run/docker.sock' }).optional(),
    /** Each runner gets its own bridge network with a subnet carved from this pool (seed 004). */
    network: z
      .object({
        /** Address pool the per-runner subnets come from; keep it clear of your LAN. @default 10.213.0.0/16 */
        subnetPool: cidr.default('10.213.0.0/16'),
        /** Prefix length of each runner's subnet. @default 24 */
        prefixLength: z.number().int().min(16).max(29).default(24),
      })
      .strict()
      .default({ subnetPool: '10.213.0.0/16', prefixLength: 24 }),
    /** Seconds between SIGTERM and SIGKILL when a container is stopped. @default 10 */
    killGraceSeconds: seconds.default(10),
    /** Timeout of one Engine API call (streams excepted). @default 60 */
    apiTimeoutSeconds: seconds.default(60),
  })
  .strict()
  .superRefine((provider, ctx) => {
    const [base, bits] = provider.network.subnetPool.split('/');
    if (Number(bits) > provider.network.prefixLength) ctx.addIssue({ code: 'custom', path: ['network', 'prefixLength'], message: `must be at least the pool's prefix (/${bits})` });
    if (base!.split('.').some((octet) => Number(octet) > 255)) ctx.addIssue({ code: 'custom', path: ['network', 'subnetPool'], message: 'not a valid IPv4 address' });
    if (provider.socketPath && provider.host) ctx.addIssue({ code: 'custom', path: ['host'], message: 'set socketPath or host, not both' });
  });

const nspawnProvider = z
  .object({
    kind: z.literal('nspawn'),
    /** Image directory made by `jitpool image build` (manifest.json + rootfs); each machine boots from an overlay of it. @example /var/lib/jitpool/images/debian */
    image: absolutePath,
    /** The image's recipe (YAML, see docs/providers/nspawn.md): `jitpool image build -c <this config>` builds it into `image`. @example /etc/jitpool/debian.yaml */
    recipe: absolutePath.optional(),
    /** Parent of the per-machine overlay directories and of the provider's records. No commas, colons or spaces. @default <stateDir>/machines */
    workRoot: absolutePath.optional(),
    /** `private`: each machine gets its own network namespace, veth pair and subnet (seed 004). `host`: the host's network. @default private */
    network: z.enum(['private', 'host']).default('private'),
    /** Per-machine subnets for `network: private`, carved from this pool; keep it clear of your LAN. */
    subnet: z
      .object({
        /** @default 10.216.0.0/16 */
        pool: cidr.default('10.216.0.0/16'),
        /** @default 30 */
        prefixLength: z.number().int().min(16).max(30).default(30),
      })
      .strict()
      .default({ pool: '10.216.0.0/16', prefixLength: 30 }),
    /** Masquerade each private subnet so the runner reaches GitHub (needs net.ipv4.ip_forward=1; the rules are the machine's and go with it). @default true */
    nat: z.boolean().default(true),
    /** CPU quota in CPUs. @default 2 */
    cpus: z.number().positive().max(512).default(2),
    /** Memory limit in MiB, swap disabled. @default 4096 */
    memoryMb: z.number().int().min(32).default(4096),
    /** Most processes/threads in the machine. @default 4096 */
    pidsLimit: z.number().int().positive().default(4096),
    /** Extra environment; values may use {runner_name} {pool} … like the Docker provider's. It is on nspawn's command line: no secrets. @default {} */
    env: z.record(envName, z.string()).default({}),
    /** Seconds between SIGTERM and SIGKILL when a machine is stopped. @default 10 */
    killGraceSeconds: seconds.default(10),
  })
  .strict();

/** A QEMU virtual machine per runner (docs/providers/vm.md). */
const vmProvider = z
  .object({
    kind: z.literal('vm'),
    /** The image directory holding `disk.img`, `vmlinux` and `initrd.img` (jitpool image build); its disk is never written. @example /var/lib/jitpool/images/debian-runner */
    image: absolutePath,
    /** `kvm` on real hosts; `tcg` is software emulation (hosts without nested virtualisation: slow but works); `auto` takes KVM when /dev/kvm opens. @default auto */
    accel: z.enum(['kvm', 'tcg', 'auto']).default('auto'),
    /** vCPUs per VM. @default 2 */
    cpus: z.number().int().positive().max(256).default(2),
    /** Memory per VM in MiB (no swap in the guest unless the image adds some). @default 2048 */
    memoryMb: z.number().int().min(128).default(2048),
    /** Virtual size of each VM's disk in GiB (a copy-on-write overlay; only what the job writes takes space); unset keeps the image's size. @example 20 */
    diskGb: z.number().positive().max(65536).optional(),
    /** PID 1 of the guest (the guest agent, which powers the VM off when the runner exits). @default /usr/local/bin/jitpool-agent */
    init: absolutePath.default('/usr/local/bin/jitpool-agent'),
    /** Parent of the per-VM directories (overlay, QMP socket, console log); keep it short (unix socket paths). @default <stateDir>/vm */
    workRoot: absolutePath.optional(),
    /** Seconds a guest gets to power off after the ACPI power button before QEMU is told to quit. @default 10 */
    killGraceSeconds: seconds.default(10),
    /** The QEMU system emulator. @default qemu-system-x86_64 */
    qemuBinary: z.string().min(1).default('qemu-system-x86_64'),
  })
  .strict();

/** The operator's own command, speaking garm's external-provider protocol (docs/providers/external.md). */
const externalProvider = z
  .object({
    kind: z.literal('external'),
    /** The executable (a garm provider binary or a script), run with no arguments; the operation is in GARM_COMMAND. @example /usr/local/bin/garm-provider-lxd */
    command: absolutePath,
    /** GARM_PROVIDER_CONFIG_FILE: the provider's own configuration (its credentials live there, not in jitpool's config). */
    configFile: absolutePath,
    /** GARM_INTERFACE_VERSION. @default v0.1.1 */
    interfaceVersion: z.enum(['v0.1.0', 'v0.1.1']).default('v0.1.1'),
    /** Extra environment for the command (no secrets). @default {} */
    env: z.record(envName, z.string()).default({}),
    /** Hard deadlines in seconds; at a deadline the command's process group is killed. @default { create: 300, delete: 300, query: 60 } */
    timeouts: z
      .object({ create: seconds.default(300), delete: seconds.default(300), query: seconds.default(60) })
      .strict()
      .default({ create: 300, delete: 300, query: 60 }),
    /** Seconds between SIGTERM and SIGKILL of a command that passed its deadline. @default 5 */
    killGraceSeconds: seconds.default(5),
    /** Further attempts of a failed query or delete (creates are retried by the controller). @default 2 */
    retries: z.number().int().min(0).max(10).default(2),
    /** The listener instances call back to (metadata-url, callback-url). One port per external pool. */
    metadata: z
      .object({
        /** Address to bind; instances must reach it (a bridge address for local VMs, 0.0.0.0 behind a firewall). @default 127.0.0.1 */
        host: z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, { message: 'a host name or IP address' }).default('127.0.0.1'),
        /** Port; 0 picks a free one (only useful when instances run on this host). @default 0 */
        port: z.number().int().min(0).max(65535).default(0),
        /** Base URL given to instances when the bound address is not what they reach. @example http://10.10.0.1:9997 */
        publicUrl: z.string().regex(/^https?:\/\/[A-Za-z0-9.:[\]-]+(:\d+)?\/?$/, { message: 'a base URL such as http://10.10.0.1:9997' }).optional(),
        /** Lifetime of an instance token; keep it above the pool's bootTimeoutSeconds. @default 900 */
        tokenTtlSeconds: seconds.default(900),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 0, tokenTtlSeconds: 900 }),
    /** Bootstrap parameters passed through to the provider (garm's pool image, flavor and extra_specs). */
    image: z.string().max(512).default(''),
    flavor: z.string().max(256).default(''),
    extraSpecs: z.record(z.string(), z.unknown()).default({}),
    /** The runner package listed in `tools` for providers that install the runner on boot (garm's userdata does). */
    runner: runnerPackageSchema.optional(),
  })
  .strict();

/** Provider settings; `kind` picks the provider. Other kinds are added by later issues. */
const providerSchema = z.discriminatedUnion('kind', [processProvider, dockerProvider, nspawnProvider, vmProvider, externalProvider]);

const repoScope = z.object({ kind: z.literal('repo'), owner, repo }).strict();
const orgScope = z.object({ kind: z.literal('org'), org: owner }).strict();

/** How a pool learns about jobs (docs/scale-set.md). */
const poolIntakeSchema = z
  .object({
    /**
     * `webhook`: `workflow_job` webhooks with the poller as backstop (or polling alone), jobs matched
     * by labels. `scale-set`: GitHub's runner scale set protocol, as actions-runner-controller's
     * listener speaks it — jitpool registers a scale set with the pool's runner group and labels,
     * long-polls its message session and GitHub assigns jobs to the set; no webhook endpoint needed. @default webhook
     */
    mode: z.enum(['webhook', 'scale-set']).default('webhook'),
    /** The scale set's name (unique in its runner group). @default jp-<pool> */
    scaleSetName: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, { message: 'letters, digits, . _ - (max 100 chars)' }).optional(),
  })
  .strict();
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'expected HH:MM (24 h)' });
const timeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, { message: 'not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)' });

/** A time window with its own warm floor (scheduled warm pools). */
const warmWindowSchema = z
  .object({
    /** Days the window starts on. @default every day @example [mon, tue, wed, thu, fri] */
    days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']),
    /** Start, local time. @example 08:00 */
    from: hhmm,
    /** End, local time; earlier than `from` runs past midnight. @example 19:00 */
    to: hhmm,
    /** IANA time zone of `from` and `to`. @default UTC */
    timeZone: timeZone.default('UTC'),
    /** Idle runners kept warm while the window is open. */
    minIdle: z.number().int().min(0),
  })
  .strict()
  .refine((w) => w.from !== w.to, { message: 'from and to are the same time: the window would be empty', path: ['to'] });

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
    /**
     * Warm floors by time window: while a window is open its `minIdle` applies (the largest of
     * the open ones), otherwise the pool's. `jitpool pool scale` overrides both. @default []
     * @example [{ days: [mon, tue, wed, thu, fri], from: '08:00', to: '19:00', timeZone: Europe/Berlin, minIdle: 2 }]
     */
    warmSchedule: z.array(warmWindowSchema).default([]),
    /** Most runners alive at once (booting, idle and busy together). @default 4 */
    max: z.number().int().positive().default(4),
    /** A runner not online after this long is destroyed and replaced. @default 300 */
    bootTimeoutSeconds: seconds.default(300),
    /** A busy runner past this is stopped (the one case a busy runner is killed). @default 7200 */
    jobTimeoutSeconds: seconds.default(7200),
    /** An idle runner beyond demand is kept this long before scale-down (absorbs bursts). @default 30 */
    idleGraceSeconds: z.number().int().min(0).default(30),
    /** How the pool learns about jobs: webhooks + polling, or a runner scale set. @default { mode: webhook } */
    intake: poolIntakeSchema.default({ mode: 'webhook' }),
  })
  .strict()
  .refine((pool) => pool.minIdle <= pool.max, { message: 'minIdle must not exceed max', path: ['minIdle'] })
  .superRefine((pool, ctx) => {
    pool.warmSchedule.forEach((window, index) => {
      if (window.minIdle > pool.max) ctx.addIssue({ code: 'custom', message: `minIdle ${window.minIdle} exceeds the pool's max (${pool.max})`, path: ['warmSchedule', index, 'minIdle'] });
    });
  });

const pollSchema = z
  .object({
    /** Poll GitHub for queued jobs at all (the backstop for lost webhooks and downtime). @default true */
    enabled: z.boolean().default(true),
    /** Poll interval when webhooks are off (poll-only mode, seed 004's 10 s). @default 10 */
    intervalSeconds: seconds.default(10),
    /** Poll interval as a backstop when webhooks are on. @default 60 */
    backstopIntervalSeconds: seconds.default(60),
    /** How often org-scope pools rediscover which repositories use their labels (seed 003). @default 1800 */
    discoveryIntervalSeconds: seconds.default(1800),
    /** Repositories (`owner/name`) to watch for org-scope pools instead of discovering them. @example ['acme/api'] */
    repos: z.array(z.string().regex(/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/, 'owner/name')).optional(),
  })
  .strict();

const storeSchema = z
  .object({
    /** Directory for the database and runner work directories. @default ./.state */
    stateDir: z.string().default('./.state'),
    /** SQLite file. @default <stateDir>/jitpool.sqlite */
    sqlitePath: z.string().optional(),
    /**
     * Days kept of webhook deliveries, the transition log, finished jobs and removed runners;
     * older rows are pruned in small batches on a timer. @default 14
     */
    retentionDays: z.number().int().min(1).max(3650).default(14),
  })
  .strict();

const listenAddress = z
  .object({
    /** Listen address. @example 127.0.0.1 */
    host: z.string().min(1),
    /** Listen port (0 picks a free one). @example 9090 */
    port: z.number().int().min(0).max(65535),
  })
  .strict();

const apiSchema = z
  .object({
    /** Listen address (webhook receiver, health, and the admin API unless `admin` is set). @default 127.0.0.1 */
    host: z.string().default('127.0.0.1'),
    /** Listen port (0 picks a free one). @default 8080 */
    port: z.number().int().min(0).max(65535).default(8080),
    /**
     * Bearer token of the admin API (everything but /healthz, /readyz and the webhook path).
     * Required whenever the HTTP server runs. @default env: [JITPOOL_API_TOKEN]
     */
    auth: z
      .object({
        /** Where the admin token comes from (at least 16 characters). @default env: [JITPOOL_API_TOKEN] */
        token: secretSource.default({ env: ['JITPOOL_API_TOKEN'] }),
      })
      .strict()
      .default({ token: { env: ['JITPOOL_API_TOKEN'] } }),
    /** Browser origins allowed to call the admin API (CORS). Empty: no cross-origin access. @default [] @example ['https://ops.example.com'] */
    corsOrigins: z.array(z.url()).default([]),
    /** Rate limit of the admin API per client address (the webhook path and health checks are exempt). */
    rateLimit: z
      .object({
        /** Requests allowed per window. @default 600 */
        max: z.number().int().positive().default(600),
        /** The window. @default 60 */
        windowSeconds: seconds.default(60),
      })
      .strict()
      .default({ max: 600, windowSeconds: 60 }),
    /**
     * A separate listen address for the admin API (REST, /status, /metrics, /events, the
     * dashboard, /docs). When set, `host`/`port` serve only the webhook path and health checks,
     * so the webhook can face GitHub while the admin API stays on a private interface. @default unset
     */
    admin: listenAddress.optional(),
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
    /** A registration with this controller's label but unknown to the store is removed once listed this long. @default 600 */
    ghostMinAgeSeconds: z.number().int().min(0).default(600),
    /**
     * The store lease's lifetime without a heartbeat: a holder on another host (or whose process
     * cannot be checked) is considered gone after this long. A holder on this host whose process
     * exited is gone at once. @default 15
     */
    leaseTtlSeconds: z.number().int().min(3).max(300).default(15),
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
    /**
     * Audit each run that reaches a self-hosted pool against the routing policy (one cached API
     * call per run, two for a PR). Only meaningful with trusted routing in your workflows (the
     * route Action), so it is off unless asked for. @default false
     */
    routeAudit: z.boolean().default(false),
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
    poll: pollSchema.default({ enabled: true, intervalSeconds: 10, backstopIntervalSeconds: 60, discoveryIntervalSeconds: 1800 }),
    store: storeSchema.default({ stateDir: './.state', retentionDays: 14 }),
    api: apiSchema.default({
      host: '127.0.0.1',
      port: 8080,
      auth: { token: { env: ['JITPOOL_API_TOKEN'] } },
      corsOrigins: [],
      rateLimit: { max: 600, windowSeconds: 60 },
    }),
    controller: controllerSchema.default({ reconcileIntervalSeconds: 15, githubSyncIntervalSeconds: 60, concurrency: 8, ghostMinAgeSeconds: 600, leaseTtlSeconds: 15 }),
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
    for (const issue of poolLabelIssues(config.pools)) ctx.addIssue({ code: 'custom', ...issue });
    for (const issue of listenerIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
  });

/**
 * GitHub compares labels case-insensitively: `Linux` twice in one pool is a mistake, and two
 * pools with the same labels in the same scope leave the second one without a job ever.
 */
function poolLabelIssues(pools: ReadonlyArray<{ name: string; labels: readonly string[]; scope: Record<string, unknown>; runnerGroupId: number }>): Array<{ message: string; path: PropertyKey[] }> {
  const issues: Array<{ message: string; path: PropertyKey[] }> = [];
  const bySet = new Map<string, string>();
  pools.forEach((pool, index) => {
    const firstAt = new Map<string, number>();
    pool.labels.forEach((name, at) => {
      const folded = name.toLowerCase();
      const earlier = firstAt.get(folded);
      if (earlier === undefined) firstAt.set(folded, at);
      else issues.push({ path: ['pools', index, 'labels', at], message: `duplicate label "${name}" (labels are case-insensitive: the same as labels[${earlier}] "${pool.labels[earlier]}"); remove one` });
    });
    const scope = JSON.stringify(Object.entries(pool.scope).map(([key, value]) => [key, typeof value === 'string' ? value.toLowerCase() : value]).sort());
    // Different runner groups may serve different repositories: only the same group competes.
    const key = `${scope}|${pool.runnerGroupId}|${[...firstAt.keys()].sort().join(',')}`;
    const other = bySet.get(key);
    if (other !== undefined) issues.push({ path: ['pools', index, 'labels'], message: `the same labels, scope and runner group as pool "${other}" (labels are case-insensitive): every job would go to "${other}" and this pool would never run one; give one of them a label of its own` });
    else bySet.set(key, pool.name);
  });
  return issues;
}

/** Routes of the HTTP server a webhook path must not shadow. */
const API_ROUTE_PREFIXES = ['/health', '/healthz', '/readyz', '/status', '/metrics', '/events', '/docs', '/redoc', '/api', '/dashboard'];

/** A webhook path on an API route, or the admin API on the webhook's own port, fails at start: refuse it here. */
function listenerIssues(config: { webhook: { enabled: boolean; path: string }; api: { host: string; port: number; admin?: { host: string; port: number } } }): Array<{ message: string; path: PropertyKey[] }> {
  const issues: Array<{ message: string; path: PropertyKey[] }> = [];
  const path = config.webhook.path.replace(/\/+$/, '') || '/';
  const taken = path === '/' ? '/' : API_ROUTE_PREFIXES.find((prefix) => path === prefix || path.startsWith(`${prefix}/`));
  if (config.webhook.enabled && taken !== undefined) {
    issues.push({ path: ['webhook', 'path'], message: `${JSON.stringify(config.webhook.path)} is ${taken === '/' ? 'the dashboard' : `the API route ${taken}`}; use a path of its own, e.g. /webhook` });
  }
  const admin = config.api.admin;
  const isWildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '';
  if (admin && admin.port !== 0 && admin.port === config.api.port && (admin.host === config.api.host || isWildcard(admin.host) || isWildcard(config.api.host))) {
    issues.push({ path: ['api', 'admin', 'port'], message: `the same address as api.port (${config.api.port}): the admin API needs a port of its own (or leave api.admin out to serve both on one)` });
  }
  return issues;
}

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
