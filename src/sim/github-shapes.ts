import { createHash } from 'node:crypto';
import type { components } from '@octokit/openapi-types';
import { type JobRecord, type RunRecord, type RunnerRecord, type SimState } from './sim-state.ts';

/**
 * Renders the simulator's records in GitHub's REST and webhook shapes. The return types come
 * from GitHub's OpenAPI description (`@octokit/openapi-types`), so a missing or misspelt field is
 * a type error, not a surprise in production. API links point at the simulator; html links at
 * github.com, as GitHub's own do.
 */

type Schemas = components['schemas'];

/** Labels GitHub adds itself (`read-only`); every other label is `custom`. */
const READ_ONLY_LABELS = new Set(['self-hosted', 'linux', 'windows', 'macos', 'x64', 'arm', 'arm64', 'x86']);

/** A stable positive id derived from a name (repository, owner and label ids). */
export function stableId(name: string): number {
  return createHash('sha256').update(name.toLowerCase()).digest().readUInt32BE(0) % 900_000_000 + 100_000;
}

const nodeId = (prefix: string, id: number): string => `${prefix}_${Buffer.from(String(id)).toString('base64url')}`;

/** The runner OS GitHub would report, from its labels. */
function runnerOs(labels: readonly string[]): string {
  const lower = labels.map((label) => label.toLowerCase());
  if (lower.includes('windows')) return 'windows';
  if (lower.includes('macos')) return 'macos';
  return 'linux';
}

/** A runner registration as `GET /…/actions/runners/{id}` returns it. */
export function runnerResource(runner: RunnerRecord): Schemas['runner'] {
  return {
    id: runner.id,
    name: runner.name,
    os: runnerOs(runner.labels),
    status: runner.status,
    busy: runner.isBusy,
    ephemeral: true,
    runner_group_id: runner.groupId,
    labels: runner.labels.map((name) => ({
      id: stableId(`label:${name}`),
      name,
      type: READ_ONLY_LABELS.has(name.toLowerCase()) ? 'read-only' : 'custom',
    })),
  };
}

/** An owner (every simulated owner is an organisation) as `simple-user`. */
export function ownerResource(login: string, type: 'Organization' | 'User' = 'Organization'): Schemas['simple-user'] {
  const id = stableId(`owner:${login}`);
  const api = `https://api.github.com/users/${login}`;
  return {
    login,
    id,
    node_id: nodeId(type === 'Organization' ? 'O' : 'U', id),
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: `https://github.com/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type,
    site_admin: false,
    user_view_type: 'public',
  };
}

/** The organisation block of a webhook payload. */
export function organizationResource(login: string): Schemas['organization-simple-webhooks'] {
  const id = stableId(`owner:${login}`);
  const api = `https://api.github.com/orgs/${login}`;
  return {
    login,
    id,
    node_id: nodeId('O', id),
    url: api,
    repos_url: `${api}/repos`,
    events_url: `${api}/events`,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues`,
    members_url: `${api}/members{/member}`,
    public_members_url: `${api}/public_members{/member}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    description: null,
  };
}

/** A repository as webhook payloads carry it (a superset of `minimal-repository`). */
export function repositoryResource(
  owner: string,
  repo: string,
  apiUrl: string,
  visibility: 'public' | 'private' | 'internal' = 'private',
): Schemas['repository-webhooks'] & Schemas['minimal-repository'] {
  const id = stableId(`repo:${owner}/${repo}`);
  const api = `${apiUrl}/repos/${owner}/${repo}`;
  const html = `https://github.com/${owner}/${repo}`;
  const created = '2024-01-01T00:00:00Z';
  return {
    id,
    node_id: nodeId('R', id),
    name: repo,
    full_name: `${owner}/${repo}`,
    private: visibility !== 'public',
    owner: ownerResource(owner),
    html_url: html,
    description: null,
    fork: false,
    url: api,
    archive_url: `${api}/{archive_format}{/ref}`,
    assignees_url: `${api}/assignees{/user}`,
    blobs_url: `${api}/git/blobs{/sha}`,
    branches_url: `${api}/branches{/branch}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    comments_url: `${api}/comments{/number}`,
    commits_url: `${api}/commits{/sha}`,
    compare_url: `${api}/compare/{base}...{head}`,
    contents_url: `${api}/contents/{+path}`,
    contributors_url: `${api}/contributors`,
    deployments_url: `${api}/deployments`,
    downloads_url: `${api}/downloads`,
    events_url: `${api}/events`,
    forks_url: `${api}/forks`,
    git_commits_url: `${api}/git/commits{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_url: `git://github.com/${owner}/${repo}.git`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    issue_events_url: `${api}/issues/events{/number}`,
    issues_url: `${api}/issues{/number}`,
    keys_url: `${api}/keys{/key_id}`,
    labels_url: `${api}/labels{/name}`,
    languages_url: `${api}/languages`,
    merges_url: `${api}/merges`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    pulls_url: `${api}/pulls{/number}`,
    releases_url: `${api}/releases{/id}`,
    ssh_url: `git@github.com:${owner}/${repo}.git`,
    stargazers_url: `${api}/stargazers`,
    statuses_url: `${api}/statuses/{sha}`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    tags_url: `${api}/tags`,
    teams_url: `${api}/teams`,
    trees_url: `${api}/git/trees{/sha}`,
    clone_url: `${html}.git`,
    mirror_url: null,
    hooks_url: `${api}/hooks`,
    svn_url: html,
    homepage: null,
    language: null,
    forks_count: 0,
    stargazers_count: 0,
    watchers_count: 0,
    size: 0,
    default_branch: 'main',
    open_issues_count: 0,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: true,
    has_wiki: true,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: false,
    disabled: false,
    visibility,
    pushed_at: created,
    created_at: created,
    updated_at: created,
    forks: 0,
    open_issues: 0,
    watchers: 0,
    license: null,
    allow_forking: true,
    web_commit_signoff_required: false,
    custom_properties: {},
  };
}

/** A job step, with the fields both the REST job and the webhook's `workflow_job` require (a type, not an interface: the webhook schema wants an index-signature-compatible record). */
type JobStep = {
  name: string;
  number: number;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: 'success' | 'failure' | 'cancelled' | null;
  started_at: string | null;
  completed_at: string | null;
};

/** The steps GitHub would show for a job in its current state. */
function jobSteps(job: JobRecord): JobStep[] {
  if (job.status === 'queued' || job.startedAtMs === null) return [];
  const started = new Date(job.startedAtMs).toISOString();
  const completed = job.completedAtMs === null ? null : new Date(job.completedAtMs).toISOString();
  const isDone = job.status === 'completed';
  return [
    { name: 'Set up job', number: 1, status: 'completed', conclusion: 'success', started_at: started, completed_at: started },
    {
      name: 'Run simulated work',
      number: 2,
      status: isDone ? 'completed' : 'in_progress',
      conclusion: isDone ? job.conclusion : null,
      started_at: started,
      completed_at: completed,
    },
  ];
}

/** A job as `GET /repos/{owner}/{repo}/actions/jobs/{job_id}` returns it. */
export function jobResource(job: JobRecord, run: RunRecord | undefined, apiUrl: string): Schemas['job'] & { run_attempt: number; steps: JobStep[] } {
  const api = `${apiUrl}/repos/${job.owner}/${job.repo}`;
  return {
    id: job.id,
    run_id: job.runId,
    run_url: `${api}/actions/runs/${job.runId}`,
    run_attempt: 1,
    node_id: nodeId('CR', job.id),
    head_sha: run?.headSha ?? '0'.repeat(40),
    url: `${api}/actions/jobs/${job.id}`,
    html_url: `https://github.com/${job.owner}/${job.repo}/actions/runs/${job.runId}/job/${job.id}`,
    status: job.status,
    conclusion: job.conclusion,
    created_at: new Date(job.createdAtMs).toISOString(),
    // GitHub sets started_at to the creation time while a job is still queued.
    started_at: new Date(job.startedAtMs ?? job.createdAtMs).toISOString(),
    completed_at: job.completedAtMs === null ? null : new Date(job.completedAtMs).toISOString(),
    name: job.name,
    steps: jobSteps(job),
    check_run_url: `${api}/check-runs/${job.id}`,
    labels: [...job.labels],
    runner_id: job.runnerId,
    runner_name: job.runnerName,
    runner_group_id: job.runnerGroupId,
    runner_group_name: job.runnerGroupName,
    workflow_name: run?.workflowName ?? null,
    head_branch: run?.headBranch ?? 'main',
  };
}

/** A workflow run as `GET /repos/{owner}/{repo}/actions/runs` lists it. */
export function runResource(run: RunRecord, state: SimState, apiUrl: string): Schemas['workflow-run'] {
  const api = `${apiUrl}/repos/${run.owner}/${run.repo}`;
  const runApi = `${api}/actions/runs/${run.id}`;
  const { status, conclusion } = state.runStatus(run);
  const repository = repositoryResource(run.owner, run.repo, apiUrl, state.repos.visibility(run.owner, run.repo));
  const actor = ownerResource(run.owner);
  const workflowId = stableId(`workflow:${run.owner}/${run.repo}`);
  const created = new Date(run.createdAtMs).toISOString();
  return {
    id: run.id,
    name: run.workflowName,
    node_id: nodeId('WFR', run.id),
    check_suite_id: run.id,
    check_suite_node_id: nodeId('CS', run.id),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    path: '.github/workflows/ci.yml',
    display_title: `${run.workflowName} #${run.runNumber}`,
    run_number: run.runNumber,
    run_attempt: 1,
    referenced_workflows: [],
    event: 'push',
    status,
    conclusion,
    workflow_id: workflowId,
    url: runApi,
    html_url: `https://github.com/${run.owner}/${run.repo}/actions/runs/${run.id}`,
    pull_requests: [],
    created_at: created,
    updated_at: new Date(run.updatedAtMs).toISOString(),
    actor,
    triggering_actor: actor,
    run_started_at: created,
    jobs_url: `${runApi}/jobs`,
    logs_url: `${runApi}/logs`,
    check_suite_url: `${api}/check-suites/${run.id}`,
    artifacts_url: `${runApi}/artifacts`,
    cancel_url: `${runApi}/cancel`,
    rerun_url: `${runApi}/rerun`,
    previous_attempt_url: null,
    workflow_url: `${api}/actions/workflows/${workflowId}`,
    head_commit: {
      id: run.headSha,
      tree_id: run.headSha,
      message: `simulated commit for run ${run.runNumber}`,
      timestamp: created,
      author: { name: 'Sim User', email: 'sim@example.com' },
      committer: { name: 'Sim User', email: 'sim@example.com' },
    },
    repository,
    head_repository: repository,
  };
}

/** The `workflow_job` webhook payload for a job's current status. */
export function workflowJobPayload(
  job: JobRecord,
  run: RunRecord | undefined,
  apiUrl: string,
  visibility: 'public' | 'private' | 'internal' = 'private',
): Schemas['webhook-workflow-job-waiting'] | Schemas['webhook-workflow-job-queued'] | Schemas['webhook-workflow-job-in-progress'] | Schemas['webhook-workflow-job-completed'] {
  const resource = jobResource(job, run, apiUrl);
  const common = {
    repository: repositoryResource(job.owner, job.repo, apiUrl, visibility),
    organization: organizationResource(job.owner),
    sender: ownerResource('sim-user', 'User'),
  };
  const workflowJob = {
    ...resource,
    id: job.id,
    run_id: job.runId,
    html_url: resource.html_url ?? '',
  };
  switch (job.status) {
    case 'waiting':
      return { action: 'waiting', workflow_job: { ...workflowJob, status: 'waiting', conclusion: null }, ...common };
    case 'queued':
      return { action: 'queued', workflow_job: { ...workflowJob, status: 'queued', conclusion: null }, ...common };
    case 'in_progress':
      return { action: 'in_progress', workflow_job: { ...workflowJob, status: 'in_progress', conclusion: null }, ...common };
    case 'completed':
      return {
        action: 'completed',
        workflow_job: {
          ...workflowJob,
          status: 'completed',
          conclusion: job.conclusion ?? 'success',
          completed_at: resource.completed_at ?? new Date().toISOString(),
        },
        ...common,
      };
  }
}
