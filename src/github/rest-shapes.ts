import type { GitHubJob, GitHubRepository, GitHubRun, GitHubRunner, GitHubRunnerGroup, RepoRef } from './types.ts';

/** GitHub's REST shapes (the fields jitpool reads) and their mapping to the client's types. */

/** A runner as GitHub lists it. */
export interface RawRunner {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  ephemeral?: boolean;
  labels: Array<{ name: string }>;
}

/** A listed runner, as the client returns it. */
export function toRunner(raw: RawRunner): GitHubRunner {
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status === 'online' ? 'online' : 'offline',
    busy: raw.busy,
    ephemeral: raw.ephemeral ?? false,
    labels: raw.labels.map((label) => label.name),
  };
}

/** A workflow job as GitHub returns it. */
export interface RawJob {
  id: number;
  run_id: number;
  name: string;
  status: GitHubJob['status'];
  conclusion: string | null;
  labels: string[];
  runner_name: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  head_branch?: string | null;
}

/** A job, as the client returns it. */
export function toJob(raw: RawJob): GitHubJob {
  return {
    id: raw.id,
    runId: raw.run_id,
    name: raw.name,
    status: raw.status,
    conclusion: raw.conclusion,
    labels: raw.labels,
    runnerName: raw.runner_name,
    createdAt: raw.created_at,
    startedAt: raw.started_at,
    completedAt: raw.completed_at,
    headBranch: raw.head_branch ?? null,
  };
}

/** A workflow run, as the client returns it. */
export function toRun(raw: { id: number; status: string; event: string; head_branch: string | null }): GitHubRun {
  return { id: raw.id, status: raw.status, event: raw.event, headBranch: raw.head_branch };
}

/** A repository as GitHub returns or lists it. */
export interface RawRepository {
  id: number;
  name: string;
  owner: { login: string };
  private?: boolean;
  visibility?: string;
}

/** `visibility`, or `private` read from the older boolean. */
export function visibilityOf(raw: RawRepository): 'public' | 'private' | 'internal' {
  if (raw.visibility === 'public' || raw.visibility === 'private' || raw.visibility === 'internal') return raw.visibility;
  return raw.private === false ? 'public' : 'private';
}

/** A listed repository, with its visibility when the listing carries it. */
export function toRepoRef(raw: RawRepository): RepoRef {
  return { owner: raw.owner.login, repo: raw.name, ...(raw.private === undefined && raw.visibility === undefined ? {} : { visibility: visibilityOf(raw) }) };
}

/** A repository, as the client returns it. */
export function toRepository(raw: RawRepository): GitHubRepository {
  return { owner: raw.owner.login, repo: raw.name, visibility: visibilityOf(raw) };
}

/** An organisation runner group as GitHub returns it. */
export interface RawRunnerGroup {
  id: number;
  name: string;
  visibility: string;
  default?: boolean;
  allows_public_repositories?: boolean;
}

/** A runner group, as the client returns it. */
export function toRunnerGroup(raw: RawRunnerGroup): GitHubRunnerGroup {
  const visibility = raw.visibility === 'selected' || raw.visibility === 'private' ? raw.visibility : 'all';
  // GitHub omits the flag on some servers; its default is false.
  return { id: raw.id, name: raw.name, visibility, allowsPublicRepositories: raw.allows_public_repositories === true, isDefault: raw.default === true };
}
