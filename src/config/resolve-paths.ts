import { isAbsolute, join, resolve } from 'node:path';
import type { Config, SecretSource } from './schema.ts';

/**
 * Makes every file path of a validated config absolute, relative to `baseDir` (the config
 * file's directory, so the daemon behaves the same whatever its working directory), and fills
 * the defaults that derive from `store.stateDir`: `store.sqlitePath` (`<stateDir>/jitpool.sqlite`)
 * and each process pool's `provider.workRoot` (`<stateDir>/work`).
 *
 * Paths: `store.stateDir`, `store.sqlitePath`, `github.auth.token.file`,
 * `github.auth.privateKeyFile`, `webhook.secret.file`, `api.auth.token.file`, `pools[].provider.workRoot`, `pools[].provider.runner.cacheDir`.
 * Returns a new object; the input is not modified.
 */
export function resolveConfigPaths(config: Config, baseDir: string): Config {
  const absolute = (path: string): string => (isAbsolute(path) ? path : resolve(baseDir, path));
  const secret = (source: SecretSource): SecretSource =>
    source.file === undefined ? { ...source } : { ...source, file: absolute(source.file) };
  const stateDir = absolute(config.store.stateDir);
  const auth = config.github.auth;
  return {
    ...config,
    github: {
      ...config.github,
      auth: auth.kind === 'pat' ? { ...auth, token: secret(auth.token) } : { ...auth, privateKeyFile: absolute(auth.privateKeyFile) },
    },
    webhook: { ...config.webhook, secret: secret(config.webhook.secret) },
    api: { ...config.api, auth: { ...config.api.auth, token: secret(config.api.auth.token) } },
    store: {
      ...config.store,
      stateDir,
      sqlitePath: config.store.sqlitePath === undefined ? join(stateDir, 'jitpool.sqlite') : absolute(config.store.sqlitePath),
    },
    pools: config.pools.map((pool) => ({
      ...pool,
      // Docker paths (socket, bind mounts) live on the engine's host and must already be absolute.
      provider:
        pool.provider.kind === 'process'
          ? {
              ...pool.provider,
              workRoot: pool.provider.workRoot === undefined ? join(stateDir, 'work') : absolute(pool.provider.workRoot),
              ...(pool.provider.runner
                ? { runner: { ...pool.provider.runner, cacheDir: pool.provider.runner.cacheDir === undefined ? join(stateDir, 'runner-cache') : absolute(pool.provider.runner.cacheDir) } }
                : {}),
            }
          : { ...pool.provider },
    })),
  };
}

/**
 * Every host path of a resolved config that no job may see: the state dir, the SQLite file (and
 * its journal files) when it lives elsewhere, the App's private key, each secret `file:` source,
 * and the config file itself when its path is known. The process sandbox hides them, even when
 * they sit under a directory it shows (the default state dir `./.state` is under the working
 * directory, which may hold the runner command's own files).
 */
export function sensitivePathsOf(config: Config, configFile?: string): string[] {
  const auth = config.github.auth;
  const secretFiles = [auth.kind === 'pat' ? auth.token.file : auth.privateKeyFile, config.webhook.secret.file, config.api.auth.token.file];
  const sqlite = config.store.sqlitePath;
  const paths = [
    config.store.stateDir,
    ...(sqlite === undefined ? [] : [sqlite, `${sqlite}-wal`, `${sqlite}-shm`, `${sqlite}-journal`]),
    ...secretFiles,
    ...(configFile === undefined ? [] : [resolve(configFile)]),
  ];
  return [...new Set(paths.filter((path): path is string => path !== undefined))];
}
