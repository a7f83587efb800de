import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GitHubSyncStatus, ReconcileResult } from '../controller/index.ts';
import { secretRegistrySize } from '../core/index.ts';
import type { GitHubApi } from '../github/index.ts';
import type { Store, TransitionRecord } from '../store/index.ts';
import { registerWorkloadMetrics, type PoolLimits } from './workload-metrics.ts';

/** Options of {@link ApiMetrics}. */
export interface ApiMetricsOptions {
  store: Store;
  github: GitHubApi;
  /** The last comparison with GitHub (the controller's), for `jitpool_github_sync_ok`. */
  githubSync?: () => GitHubSyncStatus;
  /** The pools' limits as applied (config plus overrides), for desired/actual runners. @default none */
  pools?: () => readonly PoolLimits[];
}

const WAIT_BUCKETS_SECONDS = [1, 2, 5, 10, 20, 30, 60, 120, 180, 300, 600, 1800];

/**
 * jitpool's Prometheus metrics in their own registry (never prom-client's global one, so two
 * runtimes in one process — tests, the demo — never collide). Histograms are fed by the store's
 * transition log; gauges and API counters are read from the store and the GitHub client at scrape time.
 */
export class ApiMetrics {
  /** The registry `/metrics` serialises. */
  readonly registry = new Registry();
  readonly #store: Store;
  readonly #queueWait: Histogram<'pool'>;
  readonly #launchLatency: Histogram<'pool'>;
  readonly #reconcileDuration: Histogram<'github_sync'>;
  readonly #reconcileActions: Counter<'kind'>;
  readonly #webhooks: Counter<'outcome'>;
  readonly #webhooksRejected: Counter<'code'>;
  readonly #jobsGone: Counter<'pool'>;
  readonly #jobsUnservable: Counter<'pool'>;
  readonly #unsubscribe: () => void;

  constructor(options: ApiMetricsOptions) {
    const { store, github, githubSync } = options;
    this.#store = store;
    const registers = [this.registry];
    this.#queueWait = new Histogram({
      name: 'jitpool_queue_wait_seconds', help: 'Time a job waited between queued and started, per pool.', labelNames: ['pool'], buckets: WAIT_BUCKETS_SECONDS, registers,
    });
    this.#launchLatency = new Histogram({
      name: 'jitpool_launch_latency_seconds', help: 'Time from a launch decision to the runner online (or busy), per pool.', labelNames: ['pool'], buckets: WAIT_BUCKETS_SECONDS, registers,
    });
    this.#reconcileDuration = new Histogram({
      name: 'jitpool_reconcile_duration_seconds', help: 'Duration of one reconcile (observe, plan, dispatch).', labelNames: ['github_sync'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    });
    this.#reconcileActions = new Counter({ name: 'jitpool_reconcile_actions_total', help: 'Actions planned by reconciles, per kind.', labelNames: ['kind'], registers });
    this.#webhooks = new Counter({ name: 'jitpool_webhooks_received_total', help: 'Webhook deliveries received, per outcome.', labelNames: ['outcome'], registers });
    this.#webhooksRejected = new Counter({ name: 'jitpool_webhooks_rejected_total', help: 'Webhook deliveries rejected or refused (store unavailable), per error code.', labelNames: ['code'], registers });
    this.#jobsGone = new Counter({ name: 'jitpool_jobs_gone_total', help: 'Jobs retired because GitHub answers 404 for them (or nothing was heard of them within the retention).', labelNames: ['pool'], registers });
    this.#jobsUnservable = new Counter({ name: 'jitpool_jobs_unservable_total', help: 'Jobs found unservable (runner-group access, public repository, labels), per pool ("" when no pool has their labels).', labelNames: ['pool'], registers });
    new Gauge({
      name: 'jitpool_jobs_unservable', help: 'Open jobs no pool can serve right now, per pool.', labelNames: ['pool'], registers,
      collect() {
        this.reset();
        for (const row of store.countUnservableJobs()) this.set({ pool: row.pool ?? '' }, row.count);
      },
    });
    new Gauge({
      name: 'jitpool_store_healthy', help: '1 while the store reports no storage trouble (damaged file, full disk, I/O errors), else 0.', registers,
      collect() {
        this.set(store.health().ok ? 1 : 0);
      },
    });
    new Gauge({
      name: 'jitpool_store_bytes', help: 'Size of the store: database file plus its -wal and -shm.', registers,
      collect() {
        this.set(store.maintenance.fileBytes());
      },
    });
    new Gauge({
      name: 'jitpool_github_sync_ok', help: '1 when the last comparison with GitHub succeeded, 0 when it failed, -1 before the first.', registers,
      collect() {
        const ok = githubSync?.().ok ?? null;
        this.set(ok === null ? -1 : ok ? 1 : 0);
      },
    });
    new Gauge({
      name: 'jitpool_redaction_secrets', help: 'Secrets the redaction registry holds (bounded: a runner\'s are forgotten with it).', registers,
      collect() {
        this.set(secretRegistrySize().secrets);
      },
    });
    new Gauge({
      name: 'jitpool_runners', help: 'Runners per pool and state (removed ones included).', labelNames: ['pool', 'state'], registers,
      collect() {
        this.reset();
        for (const row of store.countRunnersByState()) this.set({ pool: row.pool ?? '', state: row.state }, row.count);
      },
    });
    new Gauge({
      name: 'jitpool_jobs', help: 'Workflow jobs per pool and state (pool "" when no pool serves them).', labelNames: ['pool', 'state'], registers,
      collect() {
        this.reset();
        for (const row of store.countJobsByState()) this.set({ pool: row.pool ?? '', state: row.state }, row.count);
      },
    });
    const apiCalls = new Map<string, number>();
    new Counter({
      name: 'jitpool_github_api_calls_total', help: 'GitHub REST calls made, per route template (retries included).', labelNames: ['endpoint'], registers,
      collect() {
        for (const [endpoint, total] of Object.entries(github.stats().byEndpoint)) {
          const delta = total - (apiCalls.get(endpoint) ?? 0);
          if (delta > 0) this.inc({ endpoint }, delta);
          apiCalls.set(endpoint, total);
        }
      },
    });
    let notModifiedSeen = 0;
    new Counter({
      name: 'jitpool_github_api_not_modified_total', help: 'GitHub answers 304 (free against the rate limit).', registers,
      collect() {
        const total = github.stats().notModified;
        if (total > notModifiedSeen) this.inc(total - notModifiedSeen);
        notModifiedSeen = total;
      },
    });
    new Gauge({
      name: 'jitpool_github_rate_limit_remaining', help: 'Requests left in the GitHub rate-limit window, as last reported (-1 before the first call).', registers,
      collect() {
        this.set(github.rateLimit()?.remaining ?? -1);
      },
    });
    new Gauge({
      name: 'jitpool_github_rate_limit_limit', help: 'Size of the GitHub rate-limit window, as last reported (-1 before the first call).', registers,
      collect() {
        this.set(github.rateLimit()?.limit ?? -1);
      },
    });
    const observeWorkload = registerWorkloadMetrics(this.registry, { store, pools: options.pools ?? (() => []) });
    this.#unsubscribe = store.onTransition((transition) => {
      this.#observeTransition(transition);
      observeWorkload(transition);
    });
  }

  /** Counts a webhook outcome (the intake's `onOutcome` hook). */
  observeWebhook(outcome: 'accepted' | 'duplicate' | 'ignored' | 'rejected' | 'failed', code?: string): void {
    this.#webhooks.inc({ outcome });
    if (outcome === 'rejected' || outcome === 'failed') this.#webhooksRejected.inc({ code: code ?? 'unknown' });
  }

  /** Records one reconcile (the controller's `onReconcile` hook). */
  observeReconcile(result: ReconcileResult): void {
    this.#reconcileDuration.observe({ github_sync: String(result.syncedWithGitHub) }, result.durationMs / 1000);
    for (const action of result.actions) this.#reconcileActions.inc({ kind: action.kind });
  }

  /** The exposition text. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops listening to the store. */
  close(): void {
    this.#unsubscribe();
  }

  #observeTransition(transition: TransitionRecord): void {
    if (transition.entity === 'job' && (transition.toState === 'gone' || transition.toState === 'unservable')) {
      const pool = this.#store.getJob(Number(transition.entityId))?.pool ?? '';
      (transition.toState === 'gone' ? this.#jobsGone : this.#jobsUnservable).inc({ pool });
      return;
    }
    if (transition.entity === 'job' && (transition.toState === 'in_progress' || transition.toState === 'completed')) {
      if (transition.fromState !== 'queued' && transition.fromState !== 'waiting') return;
      const job = this.#store.getJob(Number(transition.entityId));
      if (!job || job.pool === null) return;
      const startedAtMs = job.startedAtMs ?? (transition.toState === 'in_progress' ? transition.atMs : null);
      if (startedAtMs !== null) this.#queueWait.observe({ pool: job.pool }, Math.max(0, startedAtMs - job.queuedAtMs) / 1000);
      return;
    }
    if (transition.entity === 'runner' && transition.fromState === 'provisioning' && (transition.toState === 'idle' || transition.toState === 'busy')) {
      const runner = this.#store.getRunner(transition.entityId);
      this.#launchLatency.observe({ pool: runner.pool }, Math.max(0, transition.atMs - runner.createdAtMs) / 1000);
    }
  }
}
