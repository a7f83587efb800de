/** The actions runner package: pinned version, SHA-256 verified cache, cheap per-runner roots, the launch contract. */
export { downloadVerified, normalizeSha256, safeUrl, sha256File, type DownloadOptions, type DownloadResult } from './download.ts';
export {
  DEFAULT_RUNNER_VERSION, DEFAULT_URL_TEMPLATE, MIN_RUNNER_VERSION, compareVersions, defaultRunnerCacheDir, ensureRunnerPackage, extractArchive, hostRunnerArch,
  resolveRunnerPackageSpec, PUBLISHED_RUNNER_SHA256, publishedRunnerSha256, type RunnerPackage, type RunnerPackageSpec,
} from './runner-package.ts';
export { COPIED_FILES, createRunnerRoot, prepareMountedRoot, type MountedRootResult, type RunnerRootResult } from './runner-root.ts';
export { listenerCommand, runListener, type RunListenerOptions } from './launch.ts';
export { RUNNER_EXIT, RUNNER_ONLINE_MARKER, interpretRunnerExit, runnerEnvironment, type RunnerEnvironmentInput, type RunnerExitMeaning } from './contract.ts';
export {
  readLocalRegistration, repairBaseRunner, svcShServiceManager,
  type LocalRegistration, type RepairGitHub, type RepairOptions, type RepairReport, type RepairStep, type RepoTarget, type ServiceManager,
} from './base-runner-repair.ts';
