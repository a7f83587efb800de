import { basename, join } from 'node:path';
import type { Logger } from '../core/index.ts';
import type { ProviderConfig } from '../config/index.ts';
import { resolveDockerEndpoint } from './docker-engine.ts';
import { DockerProvider } from './docker-provider.ts';
import { NspawnProvider } from './nspawn-provider.ts';
import { ExternalProvider } from './external-provider.ts';
import { resolveRunnerPackageSpec } from '../runner/index.ts';
import { ProcessProvider } from './process-provider.ts';
import { VmProvider } from './vm-provider.ts';
import type { Provider } from './types.ts';

/** What {@link createProvider} needs besides the pool's provider settings. */
export interface ProviderContext {
  controllerId: string;
  stateDir: string;
  pool: string;
  logger: Logger;
  /** Host paths no runner may see (state dir, config file, secret files): the process sandbox hides them. @default [] */
  hiddenPaths?: readonly string[];
  /** Where DOCKER_HOST is read from when the settings name no engine. @default {} */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Builds the provider a pool's settings describe. */
export function createProvider(config: ProviderConfig, context: ProviderContext): Provider {
  switch (config.kind) {
    case 'process':
      return new ProcessProvider({
        controllerId: context.controllerId,
        command: config.command,
        runnerPackage: config.runner ? { ...config.runner, cacheDir: config.runner.cacheDir ?? join(context.stateDir, 'runner-cache') } : undefined,
        workRoot: config.workRoot ?? join(context.stateDir, 'work'),
        env: config.env,
        killGraceSeconds: config.killGraceSeconds,
        sandbox: { kind: config.sandbox, network: config.network, readOnlyPaths: config.readOnlyPaths, runnerUids: config.runnerUids, hiddenPaths: context.hiddenPaths },
        logger: context.logger,
      });
    case 'docker':
      return new DockerProvider({
        controllerId: context.controllerId,
        endpoint: resolveDockerEndpoint({ socketPath: config.socketPath, host: config.host }, context.env ?? {}),
        image: config.image,
        pullPolicy: config.pullPolicy,
        command: config.command,
        env: config.env,
        cpus: config.cpus,
        memoryMb: config.memoryMb,
        pidsLimit: config.pidsLimit,
        user: config.user,
        cacheVolumes: config.cacheVolumes,
        mounts: config.mounts,
        dockerInDocker: config.dockerInDocker,
        network: config.network,
        killGraceSeconds: config.killGraceSeconds,
        apiTimeoutSeconds: config.apiTimeoutSeconds,
        logger: context.logger,
      }).servePool(context.pool);
    case 'nspawn':
      return new NspawnProvider({
        controllerId: context.controllerId,
        image: config.image,
        workRoot: config.workRoot ?? join(context.stateDir, 'machines'),
        network: config.network,
        privateNetwork: { subnetPool: config.subnet.pool, prefixLength: config.subnet.prefixLength, nat: config.nat },
        cpus: config.cpus,
        memoryMb: config.memoryMb,
        pidsLimit: config.pidsLimit,
        env: config.env,
        killGraceSeconds: config.killGraceSeconds,
        logger: context.logger,
      });
    case 'vm':
      return new VmProvider({
        controllerId: context.controllerId,
        image: config.image,
        workRoot: config.workRoot ?? join(context.stateDir, 'vm'),
        accel: config.accel,
        cpus: config.cpus,
        memoryMb: config.memoryMb,
        diskGb: config.diskGb ?? null,
        init: config.init,
        killGraceSeconds: config.killGraceSeconds,
        qemuBinary: config.qemuBinary,
        logger: context.logger,
      });
    case 'external': {
      const tool = config.runner ? resolveRunnerPackageSpec(config.runner) : null;
      return new ExternalProvider({
        controllerId: context.controllerId,
        pool: context.pool,
        executable: config.command,
        configFile: config.configFile,
        interfaceVersion: config.interfaceVersion,
        env: config.env,
        timeouts: { createMs: config.timeouts.create * 1000, deleteMs: config.timeouts.delete * 1000, queryMs: config.timeouts.query * 1000 },
        killGraceMs: config.killGraceSeconds * 1000,
        retries: config.retries,
        recordDir: join(context.stateDir, 'external', context.pool),
        metadata: { host: config.metadata.host, port: config.metadata.port, publicUrl: config.metadata.publicUrl, tokenTtlMs: config.metadata.tokenTtlSeconds * 1000 },
        bootstrap: {
          image: config.image,
          flavor: config.flavor,
          extraSpecs: config.extraSpecs,
          tools: tool ? [{ os: 'linux', architecture: tool.arch, download_url: tool.url, filename: basename(new URL(tool.url).pathname), sha256_checksum: tool.sha256 }] : [],
        },
        path: context.env?.PATH,
        logger: context.logger,
      });
    }
  }
}
