import { z } from 'zod';

/**
 * garm's external-provider protocol, as its providers (garm-provider-lxd, -incus, -openstack,
 * -aws, -azure, -gcp, -k8s, …) speak it: the operation in `GARM_COMMAND`, its arguments in
 * `GARM_*` variables, the bootstrap parameters as JSON on stdin (CreateInstance only), the
 * instance as JSON on stdout, and exit code 30 for "not found", 31 for "duplicate".
 * See github.com/cloudbase/garm-provider-common (execution/, params/). Written from the protocol,
 * not from their code.
 */

/** The operations jitpool calls (StartInstance / StopInstance are garm's, and never needed for one-job runners). */
export const GARM_COMMANDS = {
  create: 'CreateInstance',
  delete: 'DeleteInstance',
  get: 'GetInstance',
  list: 'ListInstances',
  removeAll: 'RemoveAllInstances',
  version: 'GetVersion',
  interfaceVersions: 'GetSupportedInterfaceVersions',
} as const;

/** One of {@link GARM_COMMANDS}. */
export type GarmCommand = (typeof GARM_COMMANDS)[keyof typeof GARM_COMMANDS];

/** Exit codes with a meaning (garm-provider-common execution/common/commands.go). */
export const GARM_EXIT = { ok: 0, notFound: 30, duplicate: 31 } as const;

/** The interface versions jitpool speaks (`GARM_INTERFACE_VERSION`). */
export const GARM_INTERFACE_VERSIONS = ['v0.1.0', 'v0.1.1'] as const;

/** One of {@link GARM_INTERFACE_VERSIONS}. */
export type GarmInterfaceVersion = (typeof GARM_INTERFACE_VERSIONS)[number];

/** The statuses garm accepts from a provider (runner/providers/util: running, stopped, error, unknown). */
export const PROVIDER_STATUSES = ['running', 'stopped', 'error', 'unknown'] as const;

/**
 * The instance a provider prints (garm's `ProviderInstance`). Unknown fields are ignored, as garm
 * does. `exit_code` is a jitpool extension a provider may add once the runner has exited (the
 * example script does); garm's own providers do not, and then the exit code is unknown (null).
 */
export const providerInstanceSchema = z
  .object({
    provider_id: z.string().min(1, { message: 'missing provider_id' }).max(512),
    name: z.string().min(1, { message: 'missing name' }).max(256),
    os_type: z.string().max(64).optional(),
    os_name: z.string().max(256).optional(),
    os_version: z.string().max(256).optional(),
    os_arch: z.string().max(64).optional(),
    addresses: z.array(z.object({ address: z.string().max(256), type: z.string().max(32).optional() }).loose()).max(64).nullish(),
    status: z.enum(PROVIDER_STATUSES, { message: `status must be one of ${PROVIDER_STATUSES.join(', ')}` }),
    provider_fault: z.unknown().optional(),
    exit_code: z.number().int().min(0).max(255).nullish(),
  })
  .loose();

/** A validated instance. */
export type ProviderInstance = z.infer<typeof providerInstanceSchema>;

/** ListInstances prints an array (or `null`, which Go's encoder prints for an empty slice). */
export const providerInstanceListSchema = z.array(providerInstanceSchema).max(10_000).nullable();

/** A runner package download as garm lists it in `tools` (GitHub's runner-downloads shape). */
export interface RunnerTool {
  os: string;
  architecture: string;
  download_url: string;
  filename: string;
  sha256_checksum?: string;
}

/**
 * The bootstrap parameters on CreateInstance's stdin (garm's `BootstrapInstance`). The JIT config
 * is never in it: the instance fetches its files from `metadata-url` with `instance-token`.
 */
export interface BootstrapInstance {
  name: string;
  tools: RunnerTool[];
  repo_url: string;
  'callback-url': string;
  'metadata-url': string;
  'instance-token': string;
  'ssh-keys': string[];
  extra_specs: Record<string, unknown>;
  'github-runner-group': string;
  'ca-cert-bundle': string | null;
  arch: string;
  os_type: string;
  flavor: string;
  image: string;
  labels: string[];
  pool_id: string;
  user_data_options: { disable_updates_on_boot: boolean; extra_packages: string[]; enable_boot_debug: boolean };
  jit_config_enabled: boolean;
  proxy_config: { http_proxy: string; https_proxy: string; no_proxy: string };
}

/** garm's arch names for Node's `process.arch`. */
export function garmArch(arch: string = process.arch): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: 'i386' } as Record<string, string>)[arch] ?? arch;
}
