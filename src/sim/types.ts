import type { Logger } from '../core/index.ts';
import type { FaultCounts } from './fault-injector.ts';
import type { FaultSpec } from './fault-spec.ts';
import type { RunnerGroupSpec, SimRunnerGroup } from './runner-groups.ts';
import type { RunnerTallyStats } from './runner-tally.ts';
import type { ScaleSetStatistics, ScaleSetTimings } from './scale-sets.ts';

/** One REST request and its answer, as {@link SimulatorOptions.onExchange} sees it. */
export interface SimExchange {
  method: string;
  /** GitHub's templated path (`/orgs/{org}/actions/runners`), without a GHES prefix; `(unknown route)` for a 404 of no route. */
  route: string;
  /** The path and query as sent, without a GHES prefix. */
  url: string;
  /** Path parameters by name. */
  params: Record<string, string>;
  /** Query parameters (strings, as sent). */
  query: Record<string, string | string[]>;
  /** The parsed JSON body, undefined when none. */
  requestBody: unknown;
  status: number;
  /** Response headers (lower-case names). */
  responseHeaders: Record<string, string>;
  /** The parsed JSON answer, undefined when none (204, 304). */
  responseBody: unknown;
}

/** Where the simulator sends `workflow_job` webhooks. */
export interface WebhookTarget {
  url: string;
  secret: string;
}

/** Options for {@link startSimulator}. */
export interface SimulatorOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * The host runners are told to reach the simulator at (the `serverUrl` of JIT configs), when
   * they do not see it where it listens: a VM under QEMU user networking reaches the host's
   * loopback at 10.0.2.2. @default the address it listens on
   */
  advertiseHost?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Webhook receiver; none means no deliveries. @default undefined */
  webhook?: WebhookTarget;
  /** Primary rate limit per token. @default { limit: 5000, windowMs: 3_600_000 } */
  rateLimit?: { limit: number; windowMs?: number };
  /** A runner not heard from for this long is offline (and its job, if any, fails). @default 10_000 */
  offlineAfterMs?: number;
  /** Accepted tokens; when absent any non-empty token is accepted. @example ['ghp_test'] */
  tokens?: string[];
  /** Longest a runner's acquire long poll is held before answering 204. @default 25_000 */
  acquirePollMs?: number;
  /** @default silentLogger() */
  logger?: Logger;
  /** Serve the REST API under this path, like GitHub Enterprise Server's `/api/v3`; `url` then ends with it. @example '/api/v3' @default '' */
  pathPrefix?: string;
  /** Seed of the fault PRNGs: the same seed and request order give the same faults. @default 1 */
  seed?: number;
  /** Faults in force from the start (see {@link Simulator.setFaults}). @default {} */
  faults?: FaultSpec;
  /** Called with every REST request and its answer (conformance tests record them). @default undefined */
  onExchange?: (exchange: SimExchange) => void;
  /** Lifetimes of the scale-set service's tokens and sessions, and its long poll. @default admin and queue tokens 1 h, sessions idle 2 min, poll 50 s */
  scaleSets?: Partial<ScaleSetTimings>;
  /** A GitHub App whose JWTs the App endpoints accept (verified with `publicKey`). @default undefined (App endpoints answer 401) */
  app?: SimAppOptions;
}

/** The simulated GitHub App: its id, public key and where it is installed. */
export interface SimAppOptions {
  id: number;
  /** PEM (SPKI) public key matching the App's private key. */
  publicKey: string;
  /** @default 'jitpool-sim' */
  slug?: string;
  /** Installations: an account (user or organisation) and, optionally, the repositories selected. */
  installations: Array<{ id: number; account: string; accountType?: 'Organization' | 'User'; repositories?: string[] }>;
  /** Lifetime of issued installation tokens. @default 3600000 */
  tokenTtlMs?: number;
}

/** The context of the workflow run a job belongs to: what triggered it (for routing audits). */
export interface SimRunContext {
  /** The triggering event. @default 'push' */
  event: string;
  /** Who triggered the run. @default the repository owner, type User */
  actor?: { login: string; type?: 'User' | 'Bot' };
  /** The repository of the head commit when it is not the run's repository (a fork PR). */
  headRepository?: { owner: string; repo: string };
  /** The pull request of a `pull_request` run (GitHub lists it in `pull_requests` unless the head is a fork). */
  pullRequest?: { number: number; authorAssociation: string; author?: { login: string; type?: 'User' | 'Bot' } };
}

/** What {@link Simulator.queueJob} takes. */
export interface QueueJobSpec {
  owner: string;
  repo: string;
  /** The job's `runs-on` labels. */
  labels: string[];
  /** How long the fake runner works on it. */
  durationMs: number;
  /** @default 'job-<id>' */
  name?: string;
  /** The run's branch (`head_branch`). @default 'main' */
  headBranch?: string;
  /** Only runners of this group may take the job; any group when absent. */
  runnerGroupId?: number;
  /** The job waits for an environment approval (webhook `waiting`) and is not assignable until {@link Simulator.approveJob}. @default false */
  waitingForApproval?: boolean;
  /** The result the fake runner reports. @default 'success' */
  conclusion?: 'success' | 'failure';
  /** Put the job in an existing workflow run (same repo) instead of a new one. */
  runId?: number;
  /** The run's triggering context, for a new run. @default a push by the owner */
  run?: SimRunContext;
  /** The fake runner crashes halfway through the job (no completion, no heartbeat). @default false */
  dieMidJob?: boolean;
}

/** A job's lifecycle status (the subset the simulator models). */
export type SimJobStatus = 'waiting' | 'queued' | 'in_progress' | 'completed';

/** A job's conclusion once completed. */
export type SimJobConclusion = 'success' | 'failure' | 'cancelled';

/** A snapshot of one simulated job. */
export interface SimJob {
  id: number;
  runId: number;
  owner: string;
  repo: string;
  name: string;
  workflowName: string;
  labels: string[];
  status: SimJobStatus;
  conclusion: SimJobConclusion | null;
  /** ISO timestamps. */
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number;
  runnerId: number | null;
  runnerName: string | null;
  runnerGroupId: number | null;
  runnerGroupName: string | null;
  /** Group restriction from {@link QueueJobSpec.runnerGroupId}. */
  requiredRunnerGroupId: number | null;
}

/** Where a runner is registered: it serves only this repo, this org's repos, or every repo of the enterprise. */
export type SimScope =
  | { kind: 'repo'; owner: string; repo: string }
  | { kind: 'org'; org: string }
  | { kind: 'enterprise'; enterprise: string };

/** A snapshot of one runner registration. */
export interface SimRunner {
  id: number;
  name: string;
  scope: SimScope;
  groupId: number;
  labels: string[];
  status: 'online' | 'offline';
  isBusy: boolean;
  ephemeral: boolean;
  /** The job it runs, if any. */
  jobId: number | null;
  createdAt: string;
  /** Last poll or heartbeat, ISO; null before the runner first connected. */
  lastSeenAt: string | null;
}

/** Counters for assertions and benchmarks. */
export interface SimStats {
  calls: { total: number; notModified: number; counted: number; byEndpoint: Record<string, number> };
  rateLimit: { remainingMin: number };
  webhooks: { sent: number; failed: number };
  /** Faults injected so far, by kind. */
  faults: FaultCounts;
  /** Most registrations alive at once: overall and by runner-name prefix `jp-<pool>-`. */
  maxConcurrentRunners: RunnerTallyStats['maxConcurrentRunners'];
  /** Registrations removed while busy (must be 0). */
  busyRunnersDeleted: number;
  /** Busy runners that vanished mid-job (heartbeat lost), not counting the `die` faults the simulator injected. */
  busyRunnersKilled: number;
  /** Calls to the Actions service and its message broker (the scale-set protocol), by endpoint. */
  actionsService: { total: number; byEndpoint: Record<string, number> };
}

/** A runner scale set as {@link Simulator.scaleSets} shows it. */
export interface SimScaleSet {
  id: number;
  name: string;
  runnerGroupId: number;
  labels: string[];
  statistics: ScaleSetStatistics;
  /** Live message sessions (at most one). */
  sessions: Array<{ sessionId: string; ownerName: string }>;
  /** Queue messages delivered but not yet deleted (they are delivered again). */
  undeletedMessages: number;
  /** The `X-ScaleSetMaxCapacity` its listener last sent. */
  maxCapacity: number | null;
}

/** A running simulator. */
export interface Simulator {
  /** Base URL of the REST API (octokit `baseUrl`), e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Changes (or removes, with null) the webhook receiver for future deliveries. */
  setWebhookTarget(target: WebhookTarget | null): void;
  /** Queues a job (webhook `queued`) and tries to assign it at once. */
  queueJob(spec: QueueJobSpec): SimJob;
  /** Sets (or removes, with null) a workflow file of a repository, for repository discovery. */
  setWorkflowFile(owner: string, repo: string, path: string, text: string | null): void;
  /** Cancels a queued or waiting job (completed/cancelled), or asks the runner of an in-progress one to cancel. */
  cancelJob(id: number): SimJob;
  /** Approves a job waiting for its environment: webhook `queued`, then it is assignable. */
  approveJob(id: number): SimJob;
  /** Replaces the faults in force (and arms their 429 bursts). Throws `JP_INPUT_INVALID` on a bad spec. */
  setFaults(spec: FaultSpec): void;
  /** Creates a runner group (organisation or enterprise); `visibility: 'selected'` serves only its selected repositories. */
  createRunnerGroup(spec: RunnerGroupSpec): SimRunnerGroup;
  /** Replaces the repositories a runner group serves. */
  setRunnerGroupRepositories(id: number, repositories: string[]): SimRunnerGroup;
  /** Lets public repositories use a runner group (GitHub's default, for every group, is not to). */
  setRunnerGroupAllowsPublic(id: number, isAllowed: boolean): SimRunnerGroup;
  /** Every runner group; group 1 is `Default` and serves every private repository. */
  runnerGroups(): SimRunnerGroup[];
  /** Sets a repository's visibility (repositories are private unless set). */
  setRepository(owner: string, repo: string, settings: { visibility?: 'public' | 'private' | 'internal' }): void;
  /** Deletes a repository: every REST path under it answers 404, its jobs are never assigned and no more webhooks come. */
  deleteRepository(owner: string, repo: string): void;
  /** Every job ever queued, oldest first. */
  jobs(): SimJob[];
  /** Current runner registrations. */
  runners(): SimRunner[];
  /** A repository variable's value (undefined when unset), as the variables API holds it. */
  variable(owner: string, repo: string, name: string): string | undefined;
  /** Sets a repository variable directly (test setup), as if an operator had. */
  setVariable(owner: string, repo: string, name: string, value: string): void;
  /** Every change of a repository variable, oldest first: the value and when (ISO). */
  variableHistory(owner: string, repo: string, name: string): Array<{ value: string; at: string }>;
  /** API call, rate-limit and webhook counters. */
  stats(): SimStats;
  /** Listens to job state changes. */
  on(event: 'job', listener: (job: SimJob) => void): this;
  /** Listens to runner changes (registered, online, busy, offline, deleted). */
  on(event: 'runner', listener: (runner: SimRunner, change: RunnerChange) => void): this;
  /** Removes a listener added with {@link Simulator.on}. */
  off(event: 'job' | 'runner', listener: (...args: never[]) => void): this;
  /** Resolves once `predicate` holds (checked on every change); rejects after `timeoutMs`. */
  waitFor(predicate: (sim: Simulator) => boolean, timeoutMs?: number): Promise<void>;
  /** The runner scale sets registered with the simulated Actions service. */
  scaleSets(): SimScaleSet[];
  /** Deletes a scale set from the GitHub side (its session ends; jobs not yet started are queued again). False when unknown. */
  deleteScaleSet(id: number): boolean;
  /** Fault: every message-queue token expires now (the next queue call answers 401). */
  expireScaleSetQueueTokens(): void;
  /** Fault: the next `count` session creations answer 409 `RunnerScaleSetSessionConflictException`. */
  injectSessionConflicts(count: number): void;
  /** Installation tokens the simulated App issued so far (tests check expiry and use). */
  installationTokens(): Array<{ installationId: number; expiresAt: string }>;
  /** Stops the server, ends long polls, abandons pending webhook deliveries. */
  close(): Promise<void>;
}

/** What happened to a runner in a `runner` event. */
export type RunnerChange = 'registered' | 'online' | 'busy' | 'offline' | 'deleted';
