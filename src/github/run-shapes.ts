import type { GitHubAccount, GitHubPullRequest, GitHubRepositoryRef, GitHubWorkflowRun } from './types.ts';

/** The fields of GitHub's `workflow-run` resource jitpool reads. */
export interface RawWorkflowRun {
  id: number;
  event: string;
  status: string | null;
  conclusion: string | null;
  actor?: RawAccount | null;
  triggering_actor?: RawAccount | null;
  repository: RawRepository;
  head_repository?: RawRepository | null;
  head_branch: string | null;
  pull_requests?: Array<{ number: number }> | null;
  created_at: string;
}

/** The fields of GitHub's `pull-request` resource jitpool reads. */
export interface RawPullRequest {
  number: number;
  author_association: string;
  user: RawAccount | null;
  head: { repo: RawRepository | null };
  base: { repo: RawRepository };
}

interface RawAccount {
  login: string;
  type?: string;
}

interface RawRepository {
  id: number;
  full_name: string;
  fork?: boolean;
}

function toAccount(raw: RawAccount | null | undefined): GitHubAccount | null {
  return raw ? { login: raw.login, type: raw.type ?? 'User' } : null;
}

function toRepository(raw: RawRepository): GitHubRepositoryRef {
  return { id: raw.id, fullName: raw.full_name, fork: raw.fork ?? false };
}

/** A workflow run as the client returns it. */
export function toWorkflowRun(raw: RawWorkflowRun): GitHubWorkflowRun {
  return {
    id: raw.id,
    event: raw.event,
    status: raw.status,
    conclusion: raw.conclusion,
    actor: toAccount(raw.actor),
    triggeringActor: toAccount(raw.triggering_actor),
    repository: toRepository(raw.repository),
    headRepository: raw.head_repository ? toRepository(raw.head_repository) : null,
    headBranch: raw.head_branch,
    pullRequests: (raw.pull_requests ?? []).map((pr) => ({ number: pr.number })),
    createdAt: raw.created_at,
  };
}

/** A pull request as the client returns it. */
export function toPullRequest(raw: RawPullRequest): GitHubPullRequest {
  return {
    number: raw.number,
    authorAssociation: raw.author_association,
    user: toAccount(raw.user),
    head: raw.head.repo ? toRepository(raw.head.repo) : null,
    base: toRepository(raw.base.repo),
  };
}
