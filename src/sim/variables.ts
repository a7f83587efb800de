import type { FastifyInstance } from 'fastify';
import { paginate, sendCacheable, sendError, sendNotFound } from './http-helpers.ts';
import type { SimContext } from './sim-context.ts';

/** A repository variable as the simulator keeps it. */
interface StoredVariable {
  name: string;
  value: string;
  createdAtMs: number;
  updatedAtMs: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

/**
 * Repository Actions variables (`vars.NAME`): one store per repository, names case-insensitive
 * and upper-cased as GitHub stores them, with every change kept for assertions.
 */
export class SimVariables {
  readonly #byRepo = new Map<string, Map<string, StoredVariable>>();
  readonly #history = new Map<string, Array<{ value: string; at: string }>>();

  #repo(owner: string, repo: string): Map<string, StoredVariable> {
    const key = `${owner}/${repo}`.toLowerCase();
    let vars = this.#byRepo.get(key);
    if (!vars) this.#byRepo.set(key, (vars = new Map()));
    return vars;
  }

  /** The variable, if set. */
  get(owner: string, repo: string, name: string): StoredVariable | undefined {
    return this.#repo(owner, repo).get(name.toUpperCase());
  }

  /** Every variable of a repository, by name. */
  list(owner: string, repo: string): StoredVariable[] {
    return [...this.#repo(owner, repo).values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Creates or updates a variable. */
  set(owner: string, repo: string, name: string, value: string, nowMs = Date.now()): void {
    const vars = this.#repo(owner, repo);
    const key = name.toUpperCase();
    const current = vars.get(key);
    vars.set(key, { name: key, value, createdAtMs: current?.createdAtMs ?? nowMs, updatedAtMs: nowMs });
    const historyKey = `${owner}/${repo}/${key}`.toLowerCase();
    const history = this.#history.get(historyKey) ?? [];
    history.push({ value, at: new Date(nowMs).toISOString() });
    this.#history.set(historyKey, history);
  }

  /** Deletes a variable; false when it did not exist. */
  delete(owner: string, repo: string, name: string): boolean {
    return this.#repo(owner, repo).delete(name.toUpperCase());
  }

  /** Every value the variable took, oldest first. */
  history(owner: string, repo: string, name: string): Array<{ value: string; at: string }> {
    return [...(this.#history.get(`${owner}/${repo}/${name}`.toLowerCase()) ?? [])];
  }
}

function resource(variable: StoredVariable) {
  return {
    name: variable.name,
    value: variable.value,
    created_at: new Date(variable.createdAtMs).toISOString(),
    updated_at: new Date(variable.updatedAtMs).toISOString(),
  };
}

function parseBody(body: unknown, isNameRequired: boolean): { name?: string; value?: string } | string {
  const b = (body ?? {}) as Record<string, unknown>;
  if (isNameRequired && (typeof b.name !== 'string' || !NAME.test(b.name))) return 'name is missing or invalid';
  if (b.name !== undefined && (typeof b.name !== 'string' || !NAME.test(b.name))) return 'name is invalid';
  if (isNameRequired && typeof b.value !== 'string') return 'value is missing or not a string';
  if (b.value !== undefined && typeof b.value !== 'string') return 'value is not a string';
  return { name: b.name as string | undefined, value: b.value as string | undefined };
}

/** GitHub's repository variable endpoints: list, get, create (201, 409 on a duplicate), update (204), delete (204). */
export function registerVariableRoutes(app: FastifyInstance, ctx: SimContext, variables: SimVariables): void {
  const params = (p: unknown) => p as { owner: string; repo: string; name?: string };

  app.get('/repos/:owner/:repo/actions/variables', (request, reply) => {
    const { owner, repo } = params(request.params);
    const all = variables.list(owner, repo);
    return sendCacheable(request, reply, { total_count: all.length, variables: paginate(request, reply, all, ctx.baseUrl()).map(resource) });
  });

  app.get('/repos/:owner/:repo/actions/variables/:name', (request, reply) => {
    const { owner, repo, name = '' } = params(request.params);
    const variable = variables.get(owner, repo, name);
    return variable ? sendCacheable(request, reply, resource(variable)) : sendNotFound(reply);
  });

  app.post('/repos/:owner/:repo/actions/variables', (request, reply) => {
    const { owner, repo } = params(request.params);
    const body = parseBody(request.body, true);
    if (typeof body === 'string') return sendError(reply, 422, 'Validation Failed', { errors: [body] });
    if (variables.get(owner, repo, body.name!)) return sendError(reply, 409, 'Already exists - Variable already exists');
    variables.set(owner, repo, body.name!, body.value!);
    ctx.log.info({ owner, repo, name: body.name, value: body.value }, 'variable created');
    return reply.code(201).send({});
  });

  app.patch('/repos/:owner/:repo/actions/variables/:name', (request, reply) => {
    const { owner, repo, name = '' } = params(request.params);
    const current = variables.get(owner, repo, name);
    if (!current) return sendNotFound(reply);
    const body = parseBody(request.body, false);
    if (typeof body === 'string') return sendError(reply, 422, 'Validation Failed', { errors: [body] });
    if (body.name && body.name.toUpperCase() !== current.name) {
      variables.delete(owner, repo, current.name);
      variables.set(owner, repo, body.name, body.value ?? current.value);
    } else {
      variables.set(owner, repo, current.name, body.value ?? current.value);
    }
    ctx.log.info({ owner, repo, name, value: body.value }, 'variable updated');
    return reply.code(204).send();
  });

  app.delete('/repos/:owner/:repo/actions/variables/:name', (request, reply) => {
    const { owner, repo, name = '' } = params(request.params);
    return variables.delete(owner, repo, name) ? reply.code(204).send() : sendNotFound(reply);
  });
}
