export * from './types.ts';
export { createGitHubClient, describeScope, toJitpoolError, type GitHubClientOptions } from './client.ts';
export { staticToken, appInstallationToken, type TokenProvider, type AppTokenOptions } from './token-provider.ts';
export { assertPrivateKey, createAppClient, type AppClientOptions, type AppInfo, type AppInstallation, type GitHubAppClient, type InstallationToken } from './app-client.ts';
export { configUrl, createScaleSetClient, openSession, MessageSession, type ScaleSetClient, type ScaleSetClientOptions, type OpenSessionOptions } from './scaleset/index.ts';
export type { RunnerScaleSet, RunnerScaleSetMessage, ScaleSetStatistics, JobStarted, JobCompleted, JobAvailable, RunnerReference } from './scaleset/index.ts';
