import { describeError, type Logger } from '../core/index.ts';
import type { GitHubApi, GitHubWorkflowRun } from '../github/index.ts';
import { decideRoute, type RoutingPolicy } from '../routing/index.ts';
import type { JobRecord, RouteAuditRecord, Store } from '../store/index.ts';

/** Options of {@link RouteAuditor}. */
export interface RouteAuditorOptions {
  store: Store;
  github: GitHubApi;
  policy: RoutingPolicy;
  logger: Logger;
  /** Audit only these repositories (`owner/repo`, case-insensitive); every repository when empty. */
  repositories?: ReadonlyArray<{ owner: string; repo: string }>;
  /** Called after each new audit (the canary counts trusted PRs from here); awaited, failures logged. */
  onAudited?: (audit: RouteAuditRecord) => void | Promise<void>;
}

/**
 * Checks that each run reaching a self-hosted pool is trusted by the routing policy. The run's
 * triggering context comes from GitHub (one call per run; a second one for a pull request's
 * author association), cached by run id in memory and in the store, so a run with many jobs costs
 * the same as one. An untrusted run on a self-hosted pool is an incident.
 */
export class RouteAuditor {
  readonly #options: RouteAuditorOptions;
  readonly #inFlight = new Map<number, Promise<RouteAuditRecord | null>>();
  readonly #log: Logger;

  constructor(options: RouteAuditorOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'guard.route-audit' });
  }

  /** Whether jobs of this repository are audited. */
  covers(owner: string, repo: string): boolean {
    const list = this.#options.repositories ?? [];
    return list.length === 0 || list.some((r) => r.owner.toLowerCase() === owner.toLowerCase() && r.repo.toLowerCase() === repo.toLowerCase());
  }

  /** Audits the run of a job on a pool (null for a job no pool serves, or a repository not covered). Never throws: failures are logged. */
  audit(job: JobRecord): Promise<RouteAuditRecord | null> {
    const pool = job.pool;
    if (pool === null || !this.covers(job.owner, job.repo)) return Promise.resolve(null);
    const stored = this.#options.store.guard.getRouteAudit(job.runId);
    if (stored) return Promise.resolve(stored);
    let pending = this.#inFlight.get(job.runId);
    if (!pending) {
      pending = this.#auditRun({ ...job, pool }).catch((err: unknown) => {
        this.#inFlight.delete(job.runId);
        this.#log.warn({ runId: job.runId, jobId: job.id, err: describeError(err) }, 'route audit failed; the next job of the run retries it');
        return null;
      });
      this.#inFlight.set(job.runId, pending);
      // Settled audits live in the store; the map only joins concurrent callers.
      void pending.finally(() => this.#inFlight.delete(job.runId));
    }
    return pending;
  }

  async #auditRun(job: JobRecord & { pool: string }): Promise<RouteAuditRecord> {
    const { github, policy, store } = this.#options;
    const run = await github.getWorkflowRun(job.owner, job.repo, job.runId);
    const payload = await this.#payloadOf(job, run);
    const decision = decideRoute({ name: run.event, payload }, true, policy);
    const prNumber = run.pullRequests[0]?.number ?? null;
    const audit = store.guard.recordRouteAudit({
      runId: job.runId,
      owner: job.owner,
      repo: job.repo,
      jobId: job.id,
      pool: job.pool,
      event: run.event,
      actor: (run.triggeringActor ?? run.actor)?.login ?? null,
      prNumber,
      trusted: decision.trusted,
      rule: decision.rule,
      reason: decision.reason,
      isMismatch: !decision.trusted,
    });
    if (audit.isMismatch) {
      store.guard.recordIncident({
        owner: job.owner,
        repo: job.repo,
        kind: 'route-mismatch',
        triggerCode: 'route-mismatch',
        summary: `untrusted run ${job.runId} (${run.event}: ${decision.reason}) reached self-hosted pool ${job.pool}`,
        evidence: { runId: job.runId, jobId: job.id, pool: job.pool, event: run.event, actor: audit.actor, rule: decision.rule, reason: decision.reason },
        action: 'none',
      });
      this.#log.error({ runId: job.runId, jobId: job.id, pool: job.pool, event: run.event, rule: decision.rule, reason: decision.reason }, 'ROUTE MISMATCH: an untrusted run reached a self-hosted pool');
    } else {
      this.#log.debug({ runId: job.runId, rule: decision.rule }, 'route audited');
    }
    try {
      await this.#options.onAudited?.(audit);
    } catch (err) {
      this.#log.warn({ runId: job.runId, err: describeError(err) }, 'after-audit hook failed');
    }
    return audit;
  }

  /** The event payload the policy reads, rebuilt from the run (and its pull request). */
  async #payloadOf(job: JobRecord, run: GitHubWorkflowRun): Promise<Record<string, unknown>> {
    const actor = run.triggeringActor ?? run.actor;
    const sender = actor ? { login: actor.login, type: actor.type } : undefined;
    const repoRef = (ref: { id: number; fullName: string; fork: boolean }) => ({ id: ref.id, full_name: ref.fullName, fork: ref.fork });
    const payload: Record<string, unknown> = { sender, repository: repoRef(run.repository) };
    if (run.event === 'merge_group') payload.merge_group = { head_ref: run.headBranch };
    if (run.event === 'schedule') payload.schedule = '';
    if (!(this.#options.policy.pullRequestEvents as readonly string[]).includes(run.event)) return payload;
    const isFork = run.headRepository === null || run.headRepository.id !== run.repository.id;
    const number = run.pullRequests[0]?.number;
    // GitHub leaves `pull_requests` empty for fork PRs; the head repository already says enough.
    if (isFork || number === undefined) {
      payload.pull_request = {
        author_association: 'NONE',
        user: sender,
        head: { repo: run.headRepository ? repoRef(run.headRepository) : null },
        base: { repo: repoRef(run.repository) },
      };
      return payload;
    }
    const pr = await this.#options.github.getPullRequest(job.owner, job.repo, number);
    payload.pull_request = {
      number,
      author_association: pr.authorAssociation,
      user: pr.user ? { login: pr.user.login, type: pr.user.type } : null,
      head: { repo: pr.head ? repoRef(pr.head) : null },
      base: { repo: repoRef(pr.base) },
    };
    return payload;
  }
}
