import Fastify, { type FastifyError } from 'fastify';
import { JitpoolError, silentLogger } from '../core/index.ts';
import { WorkflowFiles, registerDiscoveryRoutes } from './discovery-routes.ts';
import { INTERNAL_PREFIX, registerApiGate } from './api-gate.ts';
import { FaultInjector } from './fault-injector.ts';
import { registerAppRoutes, type AppRoutesState } from './app-routes.ts';
import { workflowJobPayload } from './github-shapes.ts';
import { sendError } from './http-helpers.ts';
import { RateLimiter } from './rate-limiter.ts';
import { registerRunnerProtocolRoutes } from './runner-protocol-routes.ts';
import { registerRepositoryRoutes } from './repository-routes.ts';
import { registerScaleSetRoutes } from './scale-set-routes.ts';
import { SimScaleSets } from './scale-sets.ts';
import { registerRunnerRoutes } from './runner-routes.ts';
import type { SimContext } from './sim-context.ts';
import { SimState } from './sim-state.ts';
import type { QueueJobSpec, SimJob, Simulator, SimulatorOptions, SimStats, WebhookTarget } from './types.ts';
import { WebhookSender } from './webhook-sender.ts';
import { registerWorkflowRoutes } from './workflow-routes.ts';
import { registerPullRoutes } from './run-context.ts';
import { SimVariables, registerVariableRoutes } from './variables.ts';

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  rateLimit: 5000,
  rateLimitWindowMs: 3_600_000,
  offlineAfterMs: 10_000,
  acquirePollMs: 25_000,
} as const;

/**
 * Starts the GitHub simulator: the REST subset jitpool calls, signed `workflow_job` webhooks,
 * GitHub's assignment rule, and the protocol the fake runner speaks. Listens on loopback.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const log = (options.logger ?? silentLogger()).child({ component: 'sim' });
  const offlineAfterMs = options.offlineAfterMs ?? DEFAULTS.offlineAfterMs;
  const pathPrefix = normalizePrefix(options.pathPrefix ?? '');
  const faults = new FaultInjector(options.seed ?? 1);
  if (options.faults) faults.set(options.faults);
  const state = new SimState(log, faults);
  const scaleSets = new SimScaleSets(state, log, options.scaleSets);
  const webhooks = new WebhookSender(log, faults);
  const rateLimiter = new RateLimiter(options.rateLimit?.limit ?? DEFAULTS.rateLimit, options.rateLimit?.windowMs ?? DEFAULTS.rateLimitWindowMs);
  const closing = new AbortController();
  let webhookTarget: WebhookTarget | null = options.webhook ?? null;
  let origin = '';
  let baseUrl = '';

  const ctx: SimContext = {
    state,
    log,
    baseUrl: () => baseUrl,
    origin: () => origin,
    runnerOrigin: () => (options.advertiseHost ? origin.replace(/^(https?:\/\/)[^:/]+/, `$1${options.advertiseHost}`) : origin),
    acquirePollMs: options.acquirePollMs ?? DEFAULTS.acquirePollMs,
    heartbeatIntervalMs: Math.max(100, Math.floor(offlineAfterMs / 4)),
    registrationTokens: new Map(),
    closing: closing.signal,
  };

  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    bodyLimit: 1024 * 1024,
    // GHES serves the REST API under /api/v3: strip the prefix; anything else but the runner protocol is not found.
    rewriteUrl: (request) => {
      const url = request.url ?? '/';
      if (pathPrefix === '' || url.startsWith(INTERNAL_PREFIX)) return url;
      if (url === pathPrefix || url.startsWith(`${pathPrefix}/`) || url.startsWith(`${pathPrefix}?`)) return url.slice(pathPrefix.length) || '/';
      return `${INTERNAL_PREFIX}unprefixed${url}`;
    },
  });
  // Clients (octokit, the fake runner) POST with a JSON content type and sometimes no body.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('Problems parsing JSON'), { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((err: FastifyError, _request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) log.error({ err: err.message }, 'simulator route failed');
    return sendError(reply, status, status === 400 ? 'Problems parsing JSON' : status >= 500 ? 'Server Error' : err.message);
  });

  let appState: AppRoutesState | null = null;
  const callStats = registerApiGate(app, {
    rateLimiter, tokens: options.tokens, faults, onExchange: options.onExchange, closing: closing.signal,
    isIssuedToken: (token) => appState?.isIssuedToken(token) ?? false,
  });
  appState = registerAppRoutes(app, options.app, () => baseUrl);
  registerRunnerRoutes(app, ctx);
  registerWorkflowRoutes(app, ctx);
  registerRunnerProtocolRoutes(app, ctx);
  registerScaleSetRoutes(app, ctx, scaleSets, ctx.registrationTokens, faults);
  const workflowFiles = new WorkflowFiles();
  registerDiscoveryRoutes(app, ctx, workflowFiles);
  registerRepositoryRoutes(app, ctx);
  const variables = new SimVariables();
  registerVariableRoutes(app, ctx, variables);
  registerPullRoutes(app, ctx);

  // Every job status change is a `workflow_job` webhook, delivered in order per job.
  state.on('job', (job) => {
    if (webhookTarget === null) return;
    const record = state.job(job.id);
    if (!record) return;
    // GitHub sends nothing for a repository that is gone.
    if (state.repos.isDeleted(record.owner, record.repo)) return;
    const payload = workflowJobPayload(record, state.run(record.runId), baseUrl, state.repos.visibility(record.owner, record.repo));
    webhooks.enqueue(webhookTarget, 'workflow_job', payload, `job:${job.id}`, payload.action);
  });

  const sweepEveryMs = Math.min(1000, Math.max(50, Math.floor(offlineAfterMs / 4)));
  let lastSweepMs = Date.now();
  const sweeper = setInterval(() => {
    // When the simulator's own event loop stalled (a loaded test machine), heartbeats may be sitting
    // unread in its sockets: judge runners offline only after a sweep that ran on time.
    const nowMs = Date.now();
    const isLate = nowMs - lastSweepMs > sweepEveryMs * 3;
    lastSweepMs = nowMs;
    if (!isLate) state.sweep(offlineAfterMs);
  }, sweepEveryMs);
  sweeper.unref();

  const address = await app.listen({ host: options.host ?? DEFAULTS.host, port: options.port ?? DEFAULTS.port });
  origin = address.replace('://localhost', '://127.0.0.1');
  baseUrl = `${origin}${pathPrefix}`;
  log.info({ url: baseUrl }, 'simulator listening');

  const simulator: Simulator = {
    url: baseUrl,
    setWebhookTarget(target) {
      webhookTarget = target;
    },
    queueJob(spec: QueueJobSpec): SimJob {
      if (closing.signal.aborted) throw new JitpoolError('JP_INTERNAL', 'simulator is closed');
      return state.snapshotJob(state.queueJob(spec));
    },
    setWorkflowFile(owner, repo, path, text) {
      workflowFiles.set(owner, repo, path, text);
    },
    cancelJob(id) {
      return state.snapshotJob(state.cancelJob(id));
    },
    approveJob(id) {
      return state.snapshotJob(state.approveJob(id));
    },
    setFaults(spec) {
      faults.set(spec);
    },
    createRunnerGroup: (spec) => ({ ...state.groups.create(spec) }),
    setRunnerGroupRepositories: (id, repositories) => ({ ...state.groups.setRepositories(id, repositories) }),
    setRunnerGroupAllowsPublic: (id, isAllowed) => ({ ...state.groups.setAllowsPublicRepositories(id, isAllowed) }),
    setRepository(owner, repo, settings) {
      if (settings.visibility !== undefined) state.repos.setVisibility(owner, repo, settings.visibility);
    },
    deleteRepository(owner, repo) {
      state.repos.delete(owner, repo);
    },
    runnerGroups: () => state.groups.list(),
    variable: (owner, repo, name) => variables.get(owner, repo, name)?.value,
    setVariable: (owner, repo, name, value) => variables.set(owner, repo, name, value),
    variableHistory: (owner, repo, name) => variables.history(owner, repo, name),
    jobs: () => state.jobRecords().map((job) => state.snapshotJob(job)),
    runners: () => state.runnerRecords().map((runner) => state.snapshotRunner(runner)),
    stats(): SimStats {
      return {
        calls: { ...callStats, byEndpoint: { ...callStats.byEndpoint } },
        rateLimit: { remainingMin: rateLimiter.remainingMin() },
        webhooks: webhooks.counts(),
        faults: faults.counts(),
        ...state.tally.stats(),
        actionsService: { total: scaleSets.calls.total, byEndpoint: { ...scaleSets.calls.byEndpoint } },
      };
    },
    scaleSets: () => scaleSets.list().map((set) => ({
      id: set.id, name: set.name, runnerGroupId: set.runnerGroupId, labels: set.labels.map((label) => label.name), statistics: scaleSets.statistics(set),
      sessions: scaleSets.sessions().filter((session) => session.scaleSetId === set.id).map((session) => ({ sessionId: session.sessionId, ownerName: session.ownerName })),
      undeletedMessages: set.messages.length, maxCapacity: set.maxCapacity,
    })),
    deleteScaleSet: (id) => scaleSets.delete(id),
    expireScaleSetQueueTokens: () => scaleSets.expireQueueTokens(),
    injectSessionConflicts: (count) => {
      scaleSets.faults.sessionConflicts = Math.max(0, Math.floor(count));
    },
    on(event: 'job' | 'runner', listener: (...args: never[]) => void) {
      state.on(event, listener as never);
      return simulator;
    },
    off(event, listener) {
      state.off(event, listener as never);
      return simulator;
    },
    installationTokens: () => appState?.issued() ?? [],
    waitFor: (predicate, timeoutMs = 30_000) => waitFor(simulator, state, predicate, timeoutMs),
    async close() {
      if (closing.signal.aborted) return;
      closing.abort();
      clearInterval(sweeper);
      state.endAllPolls();
      scaleSets.endAllPolls();
      webhooks.close();
      await app.close();
    },
  };
  return simulator;
}

/** `/api/v3/` → `/api/v3`; '' stays ''. Throws `JP_INPUT_INVALID` for anything but a plain path. */
function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  if (trimmed === '') return '';
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(trimmed)) throw new JitpoolError('JP_INPUT_INVALID', `pathPrefix must be a path such as /api/v3, got ${JSON.stringify(prefix)}`);
  return trimmed;
}

/** Resolves when `predicate(sim)` holds, re-checked on every change and every 100 ms. */
function waitFor(sim: Simulator, state: SimState, predicate: (sim: Simulator) => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      let isDone: boolean;
      try {
        isDone = predicate(sim);
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (isDone) {
        cleanup();
        resolve();
      }
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      clearInterval(poll);
      state.off('job', check);
      state.off('runner', check);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new JitpoolError('JP_INTERNAL', `simulator waitFor: condition not met within ${timeoutMs} ms`));
    }, timeoutMs);
    const poll = setInterval(check, 100);
    state.on('job', check);
    state.on('runner', check);
    check();
  });
}
