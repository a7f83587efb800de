export * from './types.ts';
export { ProcessProvider, fillPlaceholders, type ProcessProviderOptions } from './process-provider.ts';
export { tailFile } from './process-bookkeeping.ts';
export { DEFAULT_RUNNER_UIDS, SANDBOX_HOME, type ProcessSandboxOptions, type SandboxKind, type SandboxNetwork } from './process-sandbox.ts';
export { MemoryProvider } from './memory-provider.ts';
export { DockerProvider, type DockerProviderOptions } from './docker-provider.ts';
export { DOCKER_LABELS, resolveDockerEndpoint, describeEndpoint, type DockerEndpoint } from './docker-engine.ts';
export { pickSubnet, subnetsOverlap } from './docker-network.ts';
export { createProvider, type ProviderContext } from './create-provider.ts';
