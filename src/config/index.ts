/** The public surface of `config/`: the schema, loading with env overrides, secrets, the JSON Schema. */
export { configSchema } from './schema.ts';
export type { Config, GuardConfig, PoolConfig, PoolScope, ProviderConfig, SecretSource } from './schema.ts';
export { checkConfig, deepFreeze, invalidConfigError, loadConfig, parseConfig, readConfigFile } from './load.ts';
export type { ConfigCheckResult, LoadConfigOptions } from './load.ts';
export { formatPath, formatProblem, formatProblems } from './problems.ts';
export type { ConfigProblem } from './problems.ts';
export { camelCaseSegment, parseEnvValue } from './env-overrides.ts';
export { resolveConfigPaths, sensitivePathsOf } from './resolve-paths.ts';
export { readPrivateKey, resolveSecret } from './secrets.ts';
export type { SecretReadOptions } from './secrets.ts';
export { configJsonSchema } from './json-schema.ts';
