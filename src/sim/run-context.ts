import type { components } from '@octokit/openapi-types';
import type { FastifyInstance } from 'fastify';
import { ownerResource, repositoryResource, stableId } from './github-shapes.ts';
import { idParam, sendCacheable, sendNotFound } from './http-helpers.ts';
import type { SimContext } from './sim-context.ts';
import type { RunRecord } from './sim-state.ts';
import type { SimRunContext } from './types.ts';

type Schemas = components['schemas'];

/**
 * Runs' triggering context (event, actor, head repository, pull request) in GitHub's shapes,
 * and `GET /repos/{owner}/{repo}/pulls/{pull_number}` for the pull requests runs name.
 */

function account(login: string, type: 'User' | 'Bot' = 'User'): Schemas['simple-user'] {
  return { ...ownerResource(login, 'User'), type };
}

/** The context fields of a workflow run resource: what `runResource` fills for a push by the owner, replaced by the run's context. */
export function runContextFields(run: RunRecord, apiUrl: string): Pick<Schemas['workflow-run'], 'event' | 'actor' | 'triggering_actor' | 'head_repository' | 'pull_requests'> | null {
  const context = run.context;
  if (!context) return null;
  const actor = account(context.actor?.login ?? run.owner, context.actor?.type);
  const head = context.headRepository ? forkResource(context.headRepository, apiUrl) : repositoryResource(run.owner, run.repo, apiUrl);
  const isFork = context.headRepository !== undefined;
  const repoId = stableId(`repo:${run.owner}/${run.repo}`);
  const pullRequests: Schemas['pull-request-minimal'][] =
    context.pullRequest && !isFork
      ? [
          {
            id: stableId(`pr:${run.owner}/${run.repo}#${context.pullRequest.number}`),
            number: context.pullRequest.number,
            url: `${apiUrl}/repos/${run.owner}/${run.repo}/pulls/${context.pullRequest.number}`,
            head: { ref: `feature-${context.pullRequest.number}`, sha: run.headSha, repo: { id: repoId, url: `${apiUrl}/repos/${run.owner}/${run.repo}`, name: run.repo } },
            base: { ref: 'main', sha: '0'.repeat(40), repo: { id: repoId, url: `${apiUrl}/repos/${run.owner}/${run.repo}`, name: run.repo } },
          },
        ]
      : [];
  return { event: context.event, actor, triggering_actor: actor, head_repository: head, pull_requests: pullRequests };
}

function forkResource(fork: { owner: string; repo: string }, apiUrl: string): ReturnType<typeof repositoryResource> {
  return { ...repositoryResource(fork.owner, fork.repo, apiUrl), fork: true };
}

/** The run that carries pull request `number` of a repository (the newest one). */
function runOfPullRequest(ctx: SimContext, owner: string, repo: string, number: number): (RunRecord & { context: SimRunContext }) | undefined {
  const runs = ctx.state.runRecords().filter(
    (run) => run.owner.toLowerCase() === owner.toLowerCase() && run.repo.toLowerCase() === repo.toLowerCase() && run.context?.pullRequest?.number === number,
  );
  return runs.at(-1) as (RunRecord & { context: SimRunContext }) | undefined;
}

/** Registers `GET /repos/{owner}/{repo}/pulls/{pull_number}` (the fields a routing audit reads, and GitHub's links). */
export function registerPullRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.get('/repos/:owner/:repo/pulls/:pull_number', (request, reply) => {
    const { owner = '', repo = '' } = request.params as Record<string, string | undefined>;
    const number = idParam(request.params, 'pull_number');
    const run = number === null ? undefined : runOfPullRequest(ctx, owner, repo, number);
    const pr = run?.context.pullRequest;
    if (!run || !pr) return sendNotFound(reply);
    const apiUrl = ctx.baseUrl();
    const base = repositoryResource(run.owner, run.repo, apiUrl);
    const head = run.context.headRepository ? forkResource(run.context.headRepository, apiUrl) : base;
    const user = account(pr.author?.login ?? run.context.actor?.login ?? run.owner, pr.author?.type ?? run.context.actor?.type);
    return sendCacheable(request, reply, {
      id: stableId(`pr:${run.owner}/${run.repo}#${pr.number}`),
      number: pr.number,
      state: 'open',
      title: `Simulated pull request #${pr.number}`,
      url: `${apiUrl}/repos/${run.owner}/${run.repo}/pulls/${pr.number}`,
      html_url: `https://github.com/${run.owner}/${run.repo}/pull/${pr.number}`,
      user,
      author_association: pr.authorAssociation,
      draft: false,
      head: { label: `${head.owner.login}:feature-${pr.number}`, ref: `feature-${pr.number}`, sha: run.headSha, user: head.owner, repo: head },
      base: { label: `${run.owner}:main`, ref: 'main', sha: '0'.repeat(40), user: base.owner, repo: base },
      created_at: new Date(run.createdAtMs).toISOString(),
      updated_at: new Date(run.updatedAtMs).toISOString(),
    });
  });
}
