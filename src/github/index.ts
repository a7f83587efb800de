export * from './types.ts';
export { createGitHubClient, describeScope, toJitpoolError, type GitHubClientOptions } from './client.ts';
export { staticToken, appInstallationToken, type TokenProvider, type AppTokenOptions } from './token-provider.ts';
