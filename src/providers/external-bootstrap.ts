import { JitpoolError } from '../core/index.ts';
import { assertSafeUrl } from './external-install-script.ts';
import { garmArch, type BootstrapInstance, type RunnerTool } from './external-protocol.ts';
import type { ComputeSpec } from './types.ts';

/** What CreateInstance's bootstrap parameters carry besides the instance itself. */
export interface BootstrapSettings {
  token: string;
  /** The metadata listener's base URL. */
  baseUrl: string;
  pool: string;
  image?: string;
  flavor?: string;
  extraSpecs?: Record<string, unknown>;
  osType?: string;
  arch?: string;
  tools?: RunnerTool[];
  sshKeys?: string[];
}

/** garm's `BootstrapInstance` for one runner; never holds the JIT config (the instance fetches it). */
export function buildBootstrap(spec: ComputeSpec, b: BootstrapSettings): BootstrapInstance {
  const baseUrl = b.baseUrl;
  const token = b.token;
  return {
    name: spec.runnerName,
    tools: b.tools ?? [],
    repo_url: registrationUrl(spec.context),
    'callback-url': `${baseUrl}/api/v1/callbacks`,
    'metadata-url': `${baseUrl}/api/v1/metadata`,
    'instance-token': token,
    'ssh-keys': b.sshKeys ?? [],
    extra_specs: b.extraSpecs ?? {},
    'github-runner-group': '',
    'ca-cert-bundle': null,
    arch: b.arch ?? garmArch(),
    os_type: b.osType ?? 'linux',
    flavor: b.flavor ?? '',
    image: b.image ?? '',
    labels: spec.labels,
    pool_id: b.pool,
    user_data_options: { disable_updates_on_boot: false, extra_packages: [], enable_boot_debug: false },
    jit_config_enabled: true,
    proxy_config: { http_proxy: '', https_proxy: '', no_proxy: '' },
  };
}

/**
 * garm's providers paste the bootstrap values into their userdata templates between double
 * quotes (garm-provider-common cloudconfig): every value that reaches a template must be inert
 * there. Names and labels were checked on entry; the URLs and the token are checked here.
 */
export function assertSafeBootstrap(bootstrap: BootstrapInstance): void {
  for (const [what, url] of [['metadata-url', bootstrap['metadata-url']], ['callback-url', bootstrap['callback-url']], ['repo_url', bootstrap.repo_url]] as const) assertSafeUrl(url, what);
  for (const tool of bootstrap.tools) assertSafeUrl(tool.download_url, 'tools download_url');
  if (!/^[A-Za-z0-9_.-]+$/.test(bootstrap['instance-token'])) throw new JitpoolError('JP_INPUT_INVALID', 'instance token is not shell-safe');
}

/** The URL the runner registers at (garm's `repo_url`). */
export function registrationUrl(context: Record<string, string>): string {
  const owner = context.repo_owner ?? context.scope ?? '';
  return `https://github.com/${owner}${context.repo_name ? `/${context.repo_name}` : ''}`;
}

/** garm's service name for the scope: `actions.runner.<owner>[.<repo>]`. */
export function serviceName(context: Record<string, string>): string {
  const owner = context.repo_owner ?? context.scope ?? 'jitpool';
  return `actions.runner.${owner}${context.repo_name ? `.${context.repo_name}` : ''}`;
}
