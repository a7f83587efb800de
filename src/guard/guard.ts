import { controllerLabel, describeError, round, type Clock, type Logger } from '../core/index.ts';
import type { GuardConfig } from '../config/index.ts';
import type { GitHubApi, GitHubScope } from '../github/index.ts';
import { isRoutingVariableOn, scopeCovers, type RoutingPolicy } from '../routing/index.ts';
import type { RouteAuditRecord, Store } from '../store/index.ts';
import { Canary, type CanaryStatus } from './canary.ts';
import { p95QueueWaitMs, trustedRunFigures, type GuardFigures } from './slo.ts';
import { evaluateTriggers, type Trigger } from './triggers.ts';

/** A pool as the guard sees it: where its runners register. */
export interface GuardPool {
  name: string;
  scope: GitHubScope;
}

/** Options of {@link Guard}. */
export interface GuardOptions {
  store: Store;
  github: GitHubApi;
  config: GuardConfig;
  policy: RoutingPolicy;
  pools: readonly GuardPool[];
  controllerId: string;
  logger: Logger;
  clock: Clock;
}

/** What one guard check found and did; `jitpool guard --json` prints it. */
export interface GuardReport {
  owner: string;
  repo: string;
  checkedAt: string;
  isDryRun: boolean;
  variable: { name: string; value: string | null; isOn: boolean };
  figures: {
    windowStart: string;
    trustedRuns: number;
    bootFailedRuns: number;
    pendingRuns: number;
    p95QueueWaitSeconds: number;
    mismatches: number;
    offlineRunners: number;
  };
  triggers: Trigger[];
  /** What the check did (`would-…` in a dry run). */
  action: 'none' | 'rolled-back' | 'would-roll-back' | 'already-off' | 'canary-hold' | 'would-hold' | 'canary-advance' | 'would-advance';
  incidentId: number | null;
  canary: CanaryStatus | null;
}

const restoredKey = (owner: string, repo: string) => `restored:${owner}/${repo}`.toLowerCase();
/** The guard mark `jitpool recover` sets; offline time is counted from it when later. */
export const recoveredKey = (owner: string, repo: string): string => `recovered:${owner}/${repo}`.toLowerCase();

/**
 * The routing guard (seed 001 §7): reads SLO figures from the store and GitHub, evaluates the
 * rollback triggers, and when one holds sets the routing variable to `false`, records an incident
 * with the evidence and logs it loudly. Evidence older than the last restore is ignored, so a
 * restore starts a fresh window. Also drives the canary stages (seed 001 §6).
 */
export class Guard {
  readonly #options: GuardOptions;
  readonly #log: Logger;
  readonly canary: Canary;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;

  constructor(options: GuardOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'guard' });
    this.canary = new Canary(options.store, options.config.canary, options.clock);
  }

  /** Reads the figures of one repository. */
  async figures(owner: string, repo: string): Promise<GuardFigures> {
    const { store, config, clock } = this.#options;
    const nowMs = clock.now();
    const windowStartMs = store.guard.markedAt(restoredKey(owner, repo)) ?? 0;
    const runs = trustedRunFigures(store, owner, repo, { sinceMs: windowStartMs, runs: Math.max(config.thresholds.queueWaitWindowRuns, 50), nowMs });
    const mismatches = store.guard.listRouteAudits({ owner, repo, sinceMs: windowStartMs }).filter((audit) => audit.isMismatch);
    return { owner, repo, windowStartMs, runs, mismatches, offlineRunners: await this.#offlineRunners(owner, repo, nowMs) };
  }

  /** One check of one repository: figures, triggers, then rollback or canary step. */
  async check(owner: string, repo: string, options: { dryRun?: boolean } = {}): Promise<GuardReport> {
    const { store, config, github, policy, clock } = this.#options;
    const isDryRun = options.dryRun ?? false;
    const figures = await this.figures(owner, repo);
    const triggers = evaluateTriggers(figures, config.thresholds);
    const variable = await github.getVariable(owner, repo, policy.variableName);
    const isOn = isRoutingVariableOn(variable?.value);
    let action: GuardReport['action'] = 'none';
    let incidentId: number | null = null;
    if (triggers.length > 0) {
      if (!isOn) action = 'already-off';
      else if (isDryRun) action = 'would-roll-back';
      else {
        await github.setVariable(owner, repo, policy.variableName, 'false');
        const incident = store.guard.recordIncident({
          owner, repo, kind: 'rollback', triggerCode: triggers.map((t) => t.code).join(','),
          summary: triggers.map((t) => t.summary).join('; '),
          evidence: { triggers, variable: { name: policy.variableName, from: variable?.value ?? null, to: 'false' } },
          action: 'variable-set-false',
        });
        incidentId = incident.id;
        action = 'rolled-back';
        this.#log.error(
          { owner, repo, incidentId, triggers: triggers.map((t) => t.code), variable: policy.variableName },
          `ROLLBACK: ${policy.variableName}=false for ${owner}/${repo}: ${incident.summary}`,
        );
      }
    } else if (config.canary.enabled) {
      ({ action, incidentId } = await this.#canaryStep(owner, repo, figures.windowStartMs, isOn, isDryRun));
    }
    return {
      owner, repo,
      checkedAt: new Date(clock.now()).toISOString(),
      isDryRun,
      variable: { name: policy.variableName, value: variable?.value ?? null, isOn },
      figures: {
        windowStart: new Date(figures.windowStartMs).toISOString(),
        trustedRuns: figures.runs.length,
        bootFailedRuns: figures.runs.filter((run) => run.outcome === 'boot-failed').length,
        pendingRuns: figures.runs.filter((run) => run.outcome === 'pending').length,
        p95QueueWaitSeconds: round(p95QueueWaitMs(figures.runs.slice(0, config.thresholds.queueWaitWindowRuns)) / 1000),
        mismatches: figures.mismatches.length,
        offlineRunners: figures.offlineRunners.length,
      },
      triggers,
      action,
      incidentId,
      canary: config.canary.enabled ? this.canary.status(owner, repo) : null,
    };
  }

  /** Sets the routing variable back to `true` and starts a fresh evidence window. */
  async restore(owner: string, repo: string, options: { dryRun?: boolean; reason?: string } = {}): Promise<{ variable: string; action: 'restored' | 'would-restore'; incidentId: number | null }> {
    const { store, github, policy } = this.#options;
    if (options.dryRun) return { variable: policy.variableName, action: 'would-restore', incidentId: null };
    await github.setVariable(owner, repo, policy.variableName, 'true');
    store.guard.mark(restoredKey(owner, repo));
    const incident = store.guard.recordIncident({ owner, repo, kind: 'restore', triggerCode: 'restore', summary: options.reason ?? 'routing restored by an operator', evidence: null, action: 'variable-set-true' });
    this.#log.warn({ owner, repo, variable: policy.variableName }, `routing restored: ${policy.variableName}=true for ${owner}/${repo}`);
    return { variable: policy.variableName, action: 'restored', incidentId: incident.id };
  }

  /** Advances the canary one stage and turns routing back on. */
  async advanceCanary(owner: string, repo: string, options: { dryRun?: boolean } = {}): Promise<CanaryStatus> {
    if (options.dryRun) return this.canary.status(owner, repo);
    const status = this.canary.advance(owner, repo);
    await this.#options.github.setVariable(owner, repo, this.#options.policy.variableName, 'true');
    this.#options.store.guard.recordIncident({ owner, repo, kind: 'canary-advance', triggerCode: 'canary', summary: `canary advanced to stage ${status.stage} (${status.stageName})`, evidence: status, action: 'variable-set-true' });
    this.#log.warn({ owner, repo, stage: status.stage }, `canary advanced to stage ${status.stage} (${status.stageName}); routing on`);
    return status;
  }

  /** Counts a freshly audited trusted run for the canary and holds at once when the stage's budget ran out. */
  async onAudited(audit: RouteAuditRecord): Promise<void> {
    if (!this.#options.config.canary.enabled || audit.isMismatch || !audit.trusted) return;
    if (!this.canary.countTrustedPullRequest(audit.owner, audit.repo, audit.prNumber === null ? `run:${audit.runId}` : `pr:${audit.prNumber}`)) return;
    await this.#options.github.setVariable(audit.owner, audit.repo, this.#options.policy.variableName, 'false');
    this.#recordHold(audit.owner, audit.repo);
  }

  /** Starts periodic checks of the configured repositories. */
  start(): void {
    const intervalMs = this.#options.config.intervalSeconds * 1000;
    this.#timer = setInterval(() => void this.checkAll(), intervalMs);
    this.#timer.unref();
  }

  /** Checks every configured repository once (errors are logged, never thrown). */
  async checkAll(): Promise<GuardReport[]> {
    if (this.#running) return [];
    const reports: GuardReport[] = [];
    const run = (async () => {
      for (const { owner, repo } of this.#options.config.repositories) {
        try {
          reports.push(await this.check(owner, repo));
        } catch (err) {
          this.#log.warn({ owner, repo, err: describeError(err) }, 'guard check failed; retrying at the next interval');
        }
      }
    })();
    this.#running = run;
    await run.finally(() => (this.#running = null));
    return reports;
  }

  /** Stops the periodic checks and waits for a running one. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async #canaryStep(owner: string, repo: string, windowStartMs: number, isOn: boolean, isDryRun: boolean): Promise<{ action: GuardReport['action']; incidentId: number | null }> {
    const { store, config } = this.#options;
    const record = this.canary.record(owner, repo);
    // Count audits the live hook may have missed (the daemon was down, the check runs from the CLI).
    const audits = store.guard.listRouteAudits({ owner, repo, sinceMs: Math.max(windowStartMs, record.stageStartedAtMs) }).reverse();
    for (const audit of audits) {
      if (audit.trusted && !audit.isMismatch) this.canary.countTrustedPullRequest(owner, repo, audit.prNumber === null ? `run:${audit.runId}` : `pr:${audit.prNumber}`);
    }
    const status = this.canary.status(owner, repo);
    if (!status.isHolding) return { action: 'none', incidentId: null };
    const hasRolledBack = store.guard.listIncidents({ owner, repo, limit: 50 }).some((i) => i.kind === 'rollback' && i.atMs >= record.stageStartedAtMs);
    const hasOpenJobs = store.listOpenJobs().some((job) => job.owner === owner && job.repo === repo && job.pool !== null);
    if (config.canary.autoAdvance && !hasRolledBack && !hasOpenJobs) {
      if (isDryRun) return { action: 'would-advance', incidentId: null };
      await this.advanceCanary(owner, repo);
      return { action: 'canary-advance', incidentId: null };
    }
    if (!isOn) return { action: 'none', incidentId: null };
    if (isDryRun) return { action: 'would-hold', incidentId: null };
    await this.#options.github.setVariable(owner, repo, this.#options.policy.variableName, 'false');
    return { action: 'canary-hold', incidentId: this.#recordHold(owner, repo) };
  }

  #recordHold(owner: string, repo: string): number {
    const status = this.canary.status(owner, repo);
    const incident = this.#options.store.guard.recordIncident({
      owner, repo, kind: 'canary-hold', triggerCode: 'canary',
      summary: `canary stage ${status.stage} (${status.stageName}) used its budget of ${status.budget} trusted PRs; holding until advanced`,
      evidence: status, action: 'variable-set-false',
    });
    this.#log.warn({ owner, repo, stage: status.stage, used: status.used }, `canary hold: ${this.#options.policy.variableName}=false until \`jitpool canary advance\``);
    return incident.id;
  }

  async #offlineRunners(owner: string, repo: string, nowMs: number): Promise<GuardFigures['offlineRunners']> {
    const { store, github, pools, controllerId } = this.#options;
    const recoveredAtMs = store.guard.markedAt(recoveredKey(owner, repo)) ?? 0;
    const ours = controllerLabel(controllerId).toLowerCase();
    const out: GuardFigures['offlineRunners'] = [];
    for (const pool of pools.filter((p) => scopeCovers(p.scope, owner, repo))) {
      let registrations;
      try {
        registrations = await github.listRunners(pool.scope);
      } catch (err) {
        this.#log.warn({ pool: pool.name, err: describeError(err) }, 'could not list runners; offline trigger skipped this round');
        continue;
      }
      const offline = registrations
        .filter((r) => r.status === 'offline' && r.name.startsWith(`jp-${pool.name}-`) && r.labels.some((l) => l.toLowerCase() === ours))
        .map((r) => r.name);
      for (const { name, sinceMs } of store.guard.syncOffline(pool.name, offline)) {
        out.push({ pool: pool.name, name, offlineMs: nowMs - Math.max(sinceMs, recoveredAtMs) });
      }
    }
    return out;
  }
}
