import { join } from 'node:path';
import type { Logger } from '../core/index.ts';
import type { ProviderConfig } from '../config/index.ts';
import { ProcessProvider } from './process-provider.ts';
import type { Provider } from './types.ts';

/** Builds the provider a pool's settings describe. */
export function createProvider(config: ProviderConfig, context: { controllerId: string; stateDir: string; pool: string; logger: Logger }): Provider {
  switch (config.kind) {
    case 'process':
      return new ProcessProvider({
        controllerId: context.controllerId,
        command: config.command,
        runnerPackage: config.runner ? { ...config.runner, cacheDir: config.runner.cacheDir ?? join(context.stateDir, 'runner-cache') } : undefined,
        workRoot: config.workRoot ?? join(context.stateDir, 'work'),
        env: config.env,
        killGraceSeconds: config.killGraceSeconds,
        logger: context.logger,
      });
  }
}
