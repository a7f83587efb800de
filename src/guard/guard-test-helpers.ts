import { configSchema, type GuardConfig } from '../config/index.ts';
import { ManualClock, silentLogger, type Logger } from '../core/index.ts';
import { createGitHubClient, staticToken, type GitHubApi } from '../github/index.ts';
import { DEFAULT_ROUTING_POLICY } from '../routing/index.ts';
import { startSimulator, type SimRunContext, type Simulator } from '../sim/index.ts';
import { Store, type JobRecord } from '../store/index.ts';
import { Guard, type GuardPool } from './guard.ts';
import { RouteAuditor } from './route-audit.ts';

/** Test and script helpers for the guard: a simulator-backed world where runs are recorded as the intake would. Not part of the guard's surface. */

export const OWNER = 'acme';
export const REPO = 'app';
export const CONTROLLER_ID = 'test';
export const POOL: GuardPool & { labels: string[] } = { name: 'linux', scope: { kind: 'repo', owner: OWNER, repo: REPO }, labels: ['self-hosted', 'linux', 'x64'] };
const VARIABLE = DEFAULT_ROUTING_POLICY.variableName;

/** A guard wired to a simulator (GitHub, with its variable store), an in-memory store and a manual clock. */
export interface GuardWorld {
  sim: Simulator;
  store: Store;
  clock: ManualClock;
  github: GitHubApi;
  guard: Guard;
  auditor: RouteAuditor;
  /** The routing variable as the simulator's variable store holds it. */
  variable(): string | undefined;
  /** Records one run the way intake and the controller would, then audits it (as the runtime's hook does). */
  recordRun(options: RecordRunOptions): Promise<JobRecord>;
  close(): Promise<void>;
}

/** How a recorded run goes. */
export interface RecordRunOptions {
  /** The run's triggering context. @default a trusted PR (MEMBER) numbered by `pr` */
  context?: SimRunContext;
  /** Pull request number for the default context. */
  pr?: number;
  /** `ok`: a runner takes the job after `waitMs`; `boot-failed`: the pool's runner fails to boot and the job fails before its first step. */
  outcome?: 'ok' | 'boot-failed';
  /** Queue wait of an `ok` run. @default 5000 */
  waitMs?: number;
}

/** A guard config with overrides. */
export function guardConfig(overrides: Record<string, unknown> = {}): GuardConfig {
  return configSchema.parse({
    pools: [{ name: POOL.name, scope: POOL.scope, labels: POOL.labels, provider: { kind: 'process', command: ['true'] } }],
    guard: { enabled: true, repositories: [{ owner: OWNER, repo: REPO }], ...overrides },
  }).guard;
}

/** A trusted pull request context. */
export function trustedPr(number: number, association = 'MEMBER'): SimRunContext {
  return { event: 'pull_request', actor: { login: 'maintainer' }, pullRequest: { number, authorAssociation: association } };
}

/** Starts the world: simulator, store, client and guard; the routing variable starts `true`. */
export async function startGuardWorld(options: { guard?: Record<string, unknown>; logger?: Logger } = {}): Promise<GuardWorld> {
  const sim = await startSimulator();
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9));
  const store = Store.open(':memory:', clock);
  const logger = options.logger ?? silentLogger();
  const github = createGitHubClient({ baseUrl: sim.url, tokens: staticToken('ghp_guard_test_token'), logger, retries: 0 });
  const config = guardConfig(options.guard);
  const guard = new Guard({ store, github, config, policy: DEFAULT_ROUTING_POLICY, pools: [POOL], controllerId: CONTROLLER_ID, logger, clock });
  const auditor = new RouteAuditor({ store, github, policy: DEFAULT_ROUTING_POLICY, logger, onAudited: (audit) => guard.onAudited(audit) });
  sim.setVariable(OWNER, REPO, VARIABLE, 'true');
  let nextRunner = 1;

  async function recordRun(run: RecordRunOptions): Promise<JobRecord> {
    const simJob = sim.queueJob({ owner: OWNER, repo: REPO, labels: ['jitpool-sim-unserved'], durationMs: 1000, run: run.context ?? trustedPr(run.pr ?? 1) });
    const base = { id: simJob.id, runId: simJob.runId, owner: OWNER, repo: REPO, name: 'build', labels: POOL.labels, conclusion: null, runnerName: null, startedAtMs: null, completedAtMs: null };
    const queuedAtMs = clock.now();
    let job = store.observeJob({ ...base, state: 'queued', queuedAtMs }, POOL.name, 'webhook').job;
    await auditor.audit(job);
    const runnerId = `r${nextRunner++}`;
    const name = `jp-${POOL.name}-${runnerId}`;
    store.insertRunner({ id: runnerId, name, pool: POOL.name, labels: [...POOL.labels, `jitpool-${CONTROLLER_ID}`] }, 'controller');
    store.updateRunner(runnerId, { state: 'provisioning', githubRunnerId: nextRunner }, 'controller');
    if (run.outcome === 'boot-failed') {
      clock.advance(300_000);
      store.updateRunner(runnerId, { state: 'failed', lastError: 'not online after 300 s (boot timeout)' }, 'controller', 'boot timeout');
      store.updateRunner(runnerId, { state: 'removed' }, 'controller');
      job = store.observeJob({ ...base, state: 'completed', conclusion: 'failure', queuedAtMs, completedAtMs: clock.now() }, POOL.name, 'webhook').job;
      return job;
    }
    clock.advance(run.waitMs ?? 5000);
    store.updateRunner(runnerId, { state: 'busy', jobId: simJob.id }, 'controller');
    store.observeJob({ ...base, state: 'in_progress', runnerName: name, queuedAtMs, startedAtMs: clock.now() }, POOL.name, 'webhook');
    clock.advance(60_000);
    job = store.observeJob({ ...base, state: 'completed', conclusion: 'success', runnerName: name, queuedAtMs, startedAtMs: queuedAtMs + (run.waitMs ?? 5000), completedAtMs: clock.now() }, POOL.name, 'webhook').job;
    store.updateRunner(runnerId, { state: 'finished' }, 'controller');
    store.updateRunner(runnerId, { state: 'removed' }, 'controller');
    return job;
  }

  return {
    sim, store, clock, github, guard, auditor,
    variable: () => sim.variable(OWNER, REPO, VARIABLE),
    recordRun,
    async close() {
      await guard.stop();
      store.close();
      await sim.close();
    },
  };
}
