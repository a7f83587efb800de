import type { FastifyInstance, FastifyRequest } from 'fastify';
import { repositoryResource, stableId } from './github-shapes.ts';
import { paginate, sendCacheable, sendNotFound } from './http-helpers.ts';
import type { SimContext } from './sim-context.ts';

/** Workflow files per repository (`owner/repo` lowercased → path → text), for repository discovery. */
export class WorkflowFiles {
  readonly #files = new Map<string, { owner: string; repo: string; byPath: Map<string, string> }>();

  /** Sets (or, with null, removes) a workflow file. */
  set(owner: string, repo: string, path: string, text: string | null): void {
    const key = `${owner}/${repo}`.toLowerCase();
    const entry = this.#files.get(key) ?? { owner, repo, byPath: new Map<string, string>() };
    if (text === null) entry.byPath.delete(path);
    else entry.byPath.set(path, text);
    this.#files.set(key, entry);
  }

  /** The files of a repository. */
  of(owner: string, repo: string): Map<string, string> {
    return this.#files.get(`${owner}/${repo}`.toLowerCase())?.byPath ?? new Map();
  }

  /** Repositories that have workflow files. */
  repos(): Array<{ owner: string; repo: string }> {
    return [...this.#files.values()].map(({ owner, repo }) => ({ owner, repo }));
  }
}

/** Repositories the simulator knows: those with workflow files or jobs. */
function knownRepos(ctx: SimContext, files: WorkflowFiles): Array<{ owner: string; repo: string }> {
  const repos = new Map<string, { owner: string; repo: string }>();
  for (const ref of files.repos()) repos.set(`${ref.owner}/${ref.repo}`.toLowerCase(), ref);
  for (const job of ctx.state.jobRecords()) repos.set(`${job.owner}/${job.repo}`.toLowerCase(), { owner: job.owner, repo: job.repo });
  return [...repos.values()]
    .filter((ref) => !ctx.state.repos.isDeleted(ref.owner, ref.repo))
    .sort((a, b) => `${a.owner}/${a.repo}`.localeCompare(`${b.owner}/${b.repo}`));
}

/** The endpoints a poller uses to discover which repositories to watch (seed 003's automatic mode). */
export function registerDiscoveryRoutes(app: FastifyInstance, ctx: SimContext, files: WorkflowFiles): void {
  app.get('/orgs/:org/repos', (request, reply) => {
    const { org = '' } = request.params as Record<string, string | undefined>;
    const all = knownRepos(ctx, files).filter((ref) => ref.owner.toLowerCase() === org.toLowerCase());
    const page = paginate(request, reply, all, ctx.baseUrl()).map((ref) => repositoryResource(ref.owner, ref.repo, ctx.baseUrl(), ctx.state.repos.visibility(ref.owner, ref.repo)));
    return sendCacheable(request, reply, page);
  });

  app.get('/installation/repositories', (request, reply) => {
    const all = knownRepos(ctx, files);
    const page = paginate(request, reply, all, ctx.baseUrl()).map((ref) => repositoryResource(ref.owner, ref.repo, ctx.baseUrl(), ctx.state.repos.visibility(ref.owner, ref.repo)));
    return sendCacheable(request, reply, { total_count: all.length, repositories: page });
  });

  app.get('/repos/:owner/:repo/actions/workflows', (request, reply) => {
    const { owner, repo } = repoParams(request);
    const all = [...files.of(owner, repo).keys()].sort();
    const workflows = paginate(request, reply, all, ctx.baseUrl()).map((path) => {
      const id = stableId(`workflow:${owner}/${repo}/${path}`);
      return {
        id, node_id: `W_${id}`, name: path.split('/').pop() ?? path, path, state: 'active', created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-01T00:00:00Z',
        url: `${ctx.baseUrl()}/repos/${owner}/${repo}/actions/workflows/${id}`, html_url: `https://github.com/${owner}/${repo}/blob/main/${path}`,
        badge_url: `https://github.com/${owner}/${repo}/workflows/${id}/badge.svg`,
      };
    });
    return sendCacheable(request, reply, { total_count: all.length, workflows });
  });

  app.get('/repos/:owner/:repo/contents/*', (request, reply) => {
    const { owner, repo } = repoParams(request);
    const path = (request.params as Record<string, string>)['*'] ?? '';
    const text = files.of(owner, repo).get(decodeURIComponent(path));
    if (text === undefined) return sendNotFound(reply);
    const content = Buffer.from(text).toString('base64');
    const url = `${ctx.baseUrl()}/repos/${owner}/${repo}/contents/${path}`;
    return sendCacheable(request, reply, {
      type: 'file', encoding: 'base64', size: Buffer.byteLength(text), name: path.split('/').pop() ?? path, path, content,
      sha: stableId(`${path}:${text}`).toString(16), url, git_url: null, html_url: null, download_url: null,
      _links: { self: url, git: null, html: null },
    });
  });
}

function repoParams(request: FastifyRequest): { owner: string; repo: string } {
  const { owner = '', repo = '' } = request.params as Record<string, string | undefined>;
  return { owner, repo };
}
