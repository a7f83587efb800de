import type { FastifyInstance } from 'fastify';
import { repositoryResource } from './github-shapes.ts';
import { idParam, paginate, sendCacheable, sendNotFound } from './http-helpers.ts';
import type { SimRunnerGroup } from './runner-groups.ts';
import type { SimContext } from './sim-context.ts';

/**
 * Repositories and organisation runner groups: `GET /repos/{owner}/{repo}` (visibility), the
 * runner-group endpoints jitpool reads to know which repositories a group serves, and the 404
 * every path under a deleted repository answers.
 */
export function registerRepositoryRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.addHook('onRequest', async (request, reply) => {
    const { owner, repo } = (request.params ?? {}) as Record<string, string | undefined>;
    if (owner !== undefined && repo !== undefined && ctx.state.repos.isDeleted(owner, repo)) return sendNotFound(reply);
  });

  app.get('/repos/:owner/:repo', (request, reply) => {
    const { owner = '', repo = '' } = request.params as Record<string, string | undefined>;
    const base = repositoryResource(owner, repo, ctx.baseUrl(), ctx.state.repos.visibility(owner, repo));
    return sendCacheable(request, reply, { ...base, network_count: 0, subscribers_count: 0 });
  });

  app.get('/orgs/:org/actions/runner-groups', (request, reply) => {
    const { org = '' } = request.params as Record<string, string | undefined>;
    const all = ctx.state.groups.list();
    const groups = paginate(request, reply, all, ctx.baseUrl()).map((group) => groupResource(group, org, ctx.baseUrl()));
    return sendCacheable(request, reply, { total_count: all.length, runner_groups: groups });
  });

  app.get('/orgs/:org/actions/runner-groups/:runner_group_id', (request, reply) => {
    const { org = '' } = request.params as Record<string, string | undefined>;
    const id = idParam(request.params, 'runner_group_id');
    const group = id === null ? undefined : ctx.state.groups.get(id);
    return group ? sendCacheable(request, reply, groupResource(group, org, ctx.baseUrl())) : sendNotFound(reply);
  });

  app.get('/orgs/:org/actions/runner-groups/:runner_group_id/repositories', (request, reply) => {
    const id = idParam(request.params, 'runner_group_id');
    const group = id === null ? undefined : ctx.state.groups.get(id);
    if (!group) return sendNotFound(reply);
    const all = group.selectedRepositories
      .filter((name) => !ctx.state.repos.isDeleted(...splitName(name)))
      .map(splitName);
    const page = paginate(request, reply, all, ctx.baseUrl()).map(([owner, repo]) => repositoryResource(owner, repo, ctx.baseUrl(), ctx.state.repos.visibility(owner, repo)));
    return sendCacheable(request, reply, { total_count: all.length, repositories: page });
  });
}

function splitName(name: string): [string, string] {
  const [owner = '', repo = ''] = name.split('/');
  return [owner, repo];
}

/** A group as `runner-groups-org`. */
function groupResource(group: SimRunnerGroup, org: string, apiUrl: string): Record<string, unknown> {
  const url = `${apiUrl}/orgs/${org}/actions/runner-groups/${group.id}`;
  return {
    id: group.id,
    name: group.name,
    visibility: group.visibility,
    default: group.isDefault,
    ...(group.visibility === 'selected' ? { selected_repositories_url: `${url}/repositories` } : {}),
    runners_url: `${url}/runners`,
    inherited: false,
    allows_public_repositories: group.allowsPublicRepositories,
    restricted_to_workflows: false,
    selected_workflows: [],
    workflow_restrictions_read_only: false,
  };
}
