import { verify } from '@octokit/webhooks-methods';
import { registerSecret, type Logger } from '../core/index.ts';
import { matchJob, type JobMatch, type PoolMatchSpec, type RepositoryVisibility } from '../routing/index.ts';
import { sqliteTrouble, type JobRecord, type JobState, type Store } from '../store/index.ts';
import type { RunnerAccess } from './runner-access.ts';
import { parseWorkflowJob } from './workflow-job.ts';

/** A webhook request reduced to what matters, whatever the HTTP framework. */
export interface WebhookRequest {
  deliveryId: string | undefined;
  event: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
}

/** What to answer: the HTTP status and a small JSON body. */
export interface WebhookResponse {
  status: 200 | 202 | 400 | 401 | 503;
  body: { ok: boolean; code?: string; message: string };
}

/** Options of {@link WebhookIntake}. */
export interface WebhookIntakeOptions {
  secret: string;
  store: Store;
  pools: readonly PoolMatchSpec[];
  /** Runner-group access (which pool may serve which repository); without it only labels and scopes are matched. */
  access?: RunnerAccess;
  logger: Logger;
  /** Called after a state change that may change demand (the controller's `kick`). */
  onChange: (pool: string | null) => void;
  /** Called after a job's state was recorded (not for stale or duplicate events): the route audit hooks in here. */
  onJobRecorded?: (job: JobRecord, previousState: JobState | null) => void;
  /** Counters hook (metrics). */
  onOutcome?: (outcome: 'accepted' | 'duplicate' | 'ignored' | 'rejected' | 'failed', code?: string) => void;
}

type WebhookJob = Parameters<Store['observeJob']>[0] & { visibility: RepositoryVisibility | null };

/** GitHub's delivery ids are GUIDs. */
const DELIVERY_ID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const EVENT_NAME = /^[a-z_]{1,64}$/;

/**
 * The webhook receiver's core, free of HTTP: verify the signature (constant time) before
 * anything else, then parse, deduplicate by delivery id and record — all in one transaction —
 * and answer at once. The reconcile that follows runs after the answer (GitHub gives 10 s).
 * A rejected request changes no state.
 */
export class WebhookIntake {
  readonly #options: WebhookIntakeOptions;

  constructor(options: WebhookIntakeOptions) {
    registerSecret(options.secret);
    this.#options = options;
  }

  async handle(request: WebhookRequest): Promise<WebhookResponse> {
    const reject = (status: 400 | 401, code: string, message: string): WebhookResponse => {
      this.#options.onOutcome?.('rejected', code);
      this.#options.logger.warn({ component: 'intake.webhook', deliveryId: safeId(request.deliveryId), code }, message);
      return { status, body: { ok: false, code, message } };
    };
    if (!request.signature || !request.signature.startsWith('sha256=') || request.signature.length !== 71) {
      return reject(401, 'JP_WEBHOOK_SIGNATURE', 'missing or malformed X-Hub-Signature-256');
    }
    let valid = false;
    try {
      valid = await verify(this.#options.secret, request.rawBody.toString('utf8'), request.signature);
    } catch {
      valid = false;
    }
    if (!valid) return reject(401, 'JP_WEBHOOK_SIGNATURE', 'signature does not match');
    if (!request.deliveryId || !DELIVERY_ID.test(request.deliveryId)) return reject(400, 'JP_WEBHOOK_MALFORMED', 'missing or invalid X-GitHub-Delivery');
    if (!request.event || !EVENT_NAME.test(request.event)) return reject(400, 'JP_WEBHOOK_MALFORMED', 'missing or invalid X-GitHub-Event');
    let body: unknown;
    try {
      body = JSON.parse(request.rawBody.toString('utf8'));
    } catch {
      return reject(400, 'JP_WEBHOOK_MALFORMED', 'body is not JSON');
    }
    if (request.event === 'ping') return this.#ignored('ping');
    if (request.event !== 'workflow_job') return this.#ignored(`event ${request.event} is not handled`);

    const parsed = parseWorkflowJob(body);
    if (parsed.kind === 'invalid') return reject(400, 'JP_WEBHOOK_MALFORMED', parsed.reason);
    if (parsed.kind === 'ignored') return this.#ignored(parsed.reason);
    const observation = { ...parsed.observation, visibility: parsed.visibility };
    const match = this.#match(observation);
    let outcome;
    try {
      outcome = this.#record(request, observation, match);
    } catch (err) {
      // Nothing was written (one transaction): refuse, so GitHub shows the delivery failed and the poller finds the job.
      if (sqliteTrouble(err) === null) throw err;
      this.#options.onOutcome?.('failed', 'JP_STORE_UNAVAILABLE');
      this.#options.logger.error({ component: 'intake.webhook', deliveryId: safeId(request.deliveryId), err: (err as Error).message }, 'store cannot record the delivery; refused');
      return { status: 503, body: { ok: false, code: 'JP_STORE_UNAVAILABLE', message: 'the delivery could not be recorded; it is refused and the job will be found by polling' } };
    }
    if (outcome.kind === 'ignored') return this.#ignored('no pool serves these labels');
    if (outcome.kind === 'duplicate') {
      this.#options.onOutcome?.('duplicate');
      return { status: 200, body: { ok: true, message: 'duplicate delivery' } };
    }
    this.#options.onOutcome?.('accepted');
    if (outcome.kind === 'changed') {
      this.#options.onChange(outcome.pool);
      this.#options.onJobRecorded?.(outcome.result.job, outcome.result.previousState);
    }
    return { status: 202, body: { ok: true, message: outcome.kind === 'changed' ? 'recorded' : 'stale event ignored' } };
  }

  /** Which pool serves the job (or why none can), from the labels, scopes and runner-group access known now. */
  #match(job: WebhookJob): JobMatch<PoolMatchSpec> {
    return this.#options.access ? this.#options.access.match(job) : matchJob(this.#options.pools, job, () => null);
  }

  /** Dedupe and record in one transaction: either everything of the delivery is written, or nothing. */
  #record(request: WebhookRequest, observation: WebhookJob, match: JobMatch<PoolMatchSpec>) {
    const { store } = this.#options;
    return store.transaction(() => {
      const known = store.getJob(observation.id);
      if (!known && match.kind === 'ignored') return { kind: 'ignored' as const, pool: null };
      const pool = known ? known.pool : match.kind === 'ignored' ? null : (match.pool?.name ?? null);
      if (!store.recordDelivery(request.deliveryId!, request.event!, observation.state)) return { kind: 'duplicate' as const, pool };
      const { visibility: _visibility, ...fields } = observation;
      const result = store.observeJob(fields, pool, 'webhook');
      // A job no runner of jitpool may take is recorded with the reason, and never counted as demand.
      if (!known && match.kind === 'unservable') store.setJobMatch(observation.id, pool, match.reason, 'webhook');
      return { kind: result.changed ? ('changed' as const) : ('stale' as const), pool, result };
    });
  }

  #ignored(message: string): WebhookResponse {
    this.#options.onOutcome?.('ignored');
    return { status: 202, body: { ok: true, message } };
  }
}

function safeId(id: string | undefined): string | undefined {
  return id && DELIVERY_ID.test(id) ? id : undefined;
}
