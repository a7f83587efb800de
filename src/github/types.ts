/** Where runners register: a repository, an organisation or an enterprise. */
export type GitHubScope =
  | { kind: 'repo'; owner: string; repo: string }
  | { kind: 'org'; org: string }
  | { kind: 'enterprise'; enterprise: string };

/** A self-hosted runner registration as GitHub lists it. */
export interface GitHubRunner {
  id: number;
  name: string;
  status: 'online' | 'offline';
  busy: boolean;
  ephemeral: boolean;
  labels: string[];
}

/** What GitHub answers to a JIT config request. The encoded config is a secret: never log it. */
export interface JitConfig {
  runnerId: number;
  runnerName: string;
  encodedJitConfig: string;
}

/** Parameters of a JIT config request. */
export interface JitConfigRequest {
  name: string;
  runnerGroupId: number;
  labels: string[];
  workFolder: string;
}

/** A registration token for `config.sh --token`. A secret: never log it. */
export interface RegistrationToken {
  token: string;
  /** ISO timestamp. */
  expiresAt: string;
}

/** Which jobs {@link GitHubApi.listWorkflowJobs} returns. */
export interface WorkflowJobFilter {
  /** Job status wanted; runs that can hold such jobs are listed first. */
  status: 'queued' | 'in_progress';
  /** Only runs of this branch (`head_branch`). */
  branch?: string;
  /** Most runs read (newest first). @default 100 */
  maxRuns?: number;
}

/** A workflow job as the REST API returns it (the fields jitpool uses). */
export interface GitHubJob {
  id: number;
  runId: number;
  name: string;
  status: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
  conclusion: string | null;
  labels: string[];
  runnerName: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  /** The branch of the job's run, when GitHub reports it. */
  headBranch?: string | null;
}

/** A workflow run as the REST API lists it (the fields the poller uses). */
export interface GitHubRun {
  id: number;
  status: string;
  event: string;
  headBranch: string | null;
}

/** A list read with a conditional request: `notModified` when GitHub answered 304 (free). */
export interface Conditional<T> {
  items: T[];
  notModified: boolean;
}

/** A repository, by owner and name. */
export interface RepoRef {
  owner: string;
  repo: string;
  /** Its visibility, when the listing said (discovery lists carry it). */
  visibility?: 'public' | 'private' | 'internal';
}

/** An organisation runner group: which repositories its runners may serve. */
export interface GitHubRunnerGroup {
  id: number;
  name: string;
  visibility: 'all' | 'selected' | 'private';
  allowsPublicRepositories: boolean;
  isDefault: boolean;
}

/** A repository as `GET /repos/{owner}/{repo}` describes it (the fields jitpool uses). */
export interface GitHubRepository {
  owner: string;
  repo: string;
  visibility: 'public' | 'private' | 'internal';
}

/** A repository Actions variable (`vars.NAME` in workflows). */
export interface RepositoryVariable {
  name: string;
  value: string;
  updatedAt: string | null;
}

/** An account as a run or pull request names it. */
export interface GitHubAccount {
  login: string;
  type: string;
}

/** A repository as a run or pull request names it. */
export interface GitHubRepositoryRef {
  id: number;
  fullName: string;
  fork: boolean;
}

/** A workflow run: the context that triggered it (for the route audit). */
export interface GitHubWorkflowRun {
  id: number;
  /** The triggering event, e.g. `pull_request`, `merge_group`, `push`. */
  event: string;
  status: string | null;
  conclusion: string | null;
  actor: GitHubAccount | null;
  triggeringActor: GitHubAccount | null;
  repository: GitHubRepositoryRef;
  /** Where the head commit lives (a fork for fork PRs); null when the repository was deleted. */
  headRepository: GitHubRepositoryRef | null;
  headBranch: string | null;
  /** Pull requests of the run's head in this repository (GitHub leaves this empty for fork PRs). */
  pullRequests: Array<{ number: number }>;
  createdAt: string;
}

/** A pull request: the fields the routing policy reads. */
export interface GitHubPullRequest {
  number: number;
  authorAssociation: string;
  user: GitHubAccount | null;
  head: GitHubRepositoryRef | null;
  base: GitHubRepositoryRef;
}

/** API calls made so far, as counted by the client. */
export interface ApiCallStats {
  /** Every request sent (retries included). */
  total: number;
  /** Answers 304 (free against the rate limit). */
  notModified: number;
  /** Calls per route template, e.g. `POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig`. */
  byEndpoint: Record<string, number>;
}

/** The rate-limit budget as GitHub last reported it. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  resetAtMs: number;
}

/** The GitHub operations the controller needs; the one seam between jitpool and GitHub. */
export interface GitHubApi {
  /** Registers a JIT runner and returns its one-time config. */
  generateJitConfig(scope: GitHubScope, request: JitConfigRequest): Promise<JitConfig>;
  /** Every registration in a scope (all pages; conditional requests make unchanged pages free). */
  listRunners(scope: GitHubScope): Promise<GitHubRunner[]>;
  /** Deletes a registration: `deleted`, or `not-found` when it was already gone. Throws `JP_GITHUB_RUNNER_BUSY` while it runs a job. */
  deleteRunner(scope: GitHubScope, runnerId: number): Promise<'deleted' | 'not-found'>;
  /** One workflow job. */
  getJob(owner: string, repo: string, jobId: number): Promise<GitHubJob>;
  /** Workflow runs of a repository with a status (conditional). */
  listWorkflowRuns(owner: string, repo: string, status: 'queued' | 'in_progress' | 'waiting'): Promise<Conditional<GitHubRun>>;
  /** The latest attempt's jobs of a run (conditional). */
  listRunJobs(owner: string, repo: string, runId: number): Promise<Conditional<GitHubJob>>;
  /** Repositories an org scope can serve: the App installation's, or the org's for a token (conditional). */
  listScopeRepos(org: string): Promise<Conditional<RepoRef>>;
  /** Paths of a repository's workflow files (conditional). */
  listWorkflowPaths(owner: string, repo: string): Promise<Conditional<string>>;
  /** A file's text at the default branch, or null when it does not exist (conditional). */
  getFileText(owner: string, repo: string, path: string): Promise<{ text: string | null; notModified: boolean }>;
  /** A registration token for `config.sh` (the non-JIT path; about one hour of validity). The token is a secret. */
  createRegistrationToken(scope: GitHubScope): Promise<RegistrationToken>;
  /** The registration named `name` in the scope, or null (GitHub's `?name=` filter: one call). */
  getRunnerByName(scope: GitHubScope, name: string): Promise<GitHubRunner | null>;
  /** Jobs of a repository's workflow runs that have the given status, optionally on one branch. */
  listWorkflowJobs(owner: string, repo: string, filter: WorkflowJobFilter): Promise<GitHubJob[]>;
  /** A repository variable, or null when it does not exist. */
  getVariable(owner: string, repo: string, name: string): Promise<RepositoryVariable | null>;
  /** Sets a repository variable: updates it (PATCH), or creates it (POST) when it does not exist. */
  setVariable(owner: string, repo: string, name: string, value: string): Promise<'updated' | 'created'>;
  /** One workflow run with its triggering context. */
  getWorkflowRun(owner: string, repo: string, runId: number): Promise<GitHubWorkflowRun>;
  /** One pull request. */
  getPullRequest(owner: string, repo: string, pullNumber: number): Promise<GitHubPullRequest>;
  /**
   * An organisation runner group (optional: fakes may leave it out; jitpool then assumes the
   * group serves every repository). Throws `JP_GITHUB_NOT_FOUND` / `JP_GITHUB_AUTH` like any call.
   */
  getRunnerGroup?(org: string, groupId: number): Promise<GitHubRunnerGroup>;
  /** `owner/repo` names of the repositories a `selected` runner group serves (optional, conditional). */
  listRunnerGroupRepositories?(org: string, groupId: number): Promise<Conditional<string>>;
  /** A repository, or null when GitHub answers 404 (deleted, or not visible to the token). Optional. */
  getRepository?(owner: string, repo: string): Promise<GitHubRepository | null>;
  /** Calls made so far. */
  stats(): ApiCallStats;
  /** The last rate-limit figures seen, or null before the first call. */
  rateLimit(): RateLimitState | null;
}
