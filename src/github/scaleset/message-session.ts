import { JitpoolError, registerSecret } from '../../core/index.ts';
import { sendServiceRequest, serviceError, type ServiceHttpOptions, type ServiceRequest, type ServiceResponse } from './http.ts';
import type { JobAssigned, JobAvailable, JobCompleted, JobStarted, RunnerScaleSetMessage, RunnerScaleSetSession, ScaleSetStatistics } from './types.ts';

/** The header the reference sends the set's capacity in with every poll. */
export const MAX_CAPACITY_HEADER = 'X-ScaleSetMaxCapacity';
/** The service holds a poll up to about 50 s; the request may take a little longer. */
const LONG_POLL_TIMEOUT_MS = 90_000;

/** Options of {@link MessageSession} (made by `ScaleSetClient.createSession`). */
export interface MessageSessionOptions {
  scaleSetId: number;
  session: RunnerScaleSetSession;
  http: ServiceHttpOptions;
  /** PATCHes the session: a fresh queue token. */
  refresh(sessionId: string): Promise<RunnerScaleSetSession>;
  /** DELETEs the session. */
  close(sessionId: string): Promise<'deleted' | 'not-found'>;
  /** The Actions service URL (acquire goes there, with the queue token). */
  serviceUrl(): Promise<string>;
}

/** The queue token expired: refresh the session and try once more (the reference's `MessageQueueTokenExpiredError`). */
class QueueTokenExpired extends Error {}

/**
 * One message session of a scale set, as the reference's `MessageSessionClient`: get a message
 * (long poll; 202 → null), delete it (the acknowledgement: an undeleted message is delivered
 * again), acquire offered jobs, and close. Each call that meets 401 refreshes the session's queue
 * token once and retries.
 */
export class MessageSession {
  readonly #options: MessageSessionOptions;
  #session: RunnerScaleSetSession;

  constructor(options: MessageSessionOptions) {
    this.#options = options;
    this.#session = options.session;
    registerSecret(options.session.messageQueueAccessToken);
  }

  /** The session id (not a secret; it lets a restart delete a session it left behind). */
  get sessionId(): string {
    return this.#session.sessionId;
  }

  /** The statistics the session was opened (or last refreshed) with. */
  get statistics(): ScaleSetStatistics | null {
    return this.#session.statistics;
  }

  /** The next message after `lastMessageId` (0: the oldest undeleted), or null when the poll ended with none (202). `signal` ends the long poll (`JP_GITHUB_ABORTED`). */
  async getMessage(lastMessageId: number, maxCapacity: number, signal?: AbortSignal): Promise<RunnerScaleSetMessage | null> {
    return this.#withRefresh(async () => {
      const url = new URL(this.#session.messageQueueUrl);
      if (lastMessageId > 0) url.searchParams.set('lastMessageId', String(lastMessageId));
      const request: ServiceRequest = {
        method: 'GET', url: url.toString(), endpoint: 'GET /broker/messages', authorization: `Bearer ${this.#session.messageQueueAccessToken}`,
        headers: { accept: 'application/json; api-version=6.0-preview', [MAX_CAPACITY_HEADER]: String(Math.max(0, Math.floor(maxCapacity))) },
        timeoutMs: LONG_POLL_TIMEOUT_MS,
        signal,
      };
      const response = await sendServiceRequest(this.#options.http, request);
      if (response.status === 202) return null;
      if (response.status === 401) throw new QueueTokenExpired();
      if (response.status !== 200) throw serviceError(request, response);
      return parseMessage(request, response);
    });
  }

  /** Deletes (acknowledges) a message. */
  async deleteMessage(messageId: number): Promise<void> {
    await this.#withRefresh(async () => {
      const url = new URL(this.#session.messageQueueUrl);
      url.pathname = `${url.pathname.replace(/\/+$/, '')}/${messageId}`;
      const request: ServiceRequest = { method: 'DELETE', url: url.toString(), endpoint: 'DELETE /broker/messages/{messageId}', authorization: `Bearer ${this.#session.messageQueueAccessToken}` };
      const response = await sendServiceRequest(this.#options.http, request);
      if (response.status === 401) throw new QueueTokenExpired();
      if (response.status !== 204) throw serviceError(request, response);
    });
  }

  /** Acquires offered jobs by runner request id; resolves with the ids the set got. */
  async acquireJobs(requestIds: readonly number[]): Promise<number[]> {
    return this.#withRefresh(async () => {
      const url = new URL(`${await this.#options.serviceUrl()}/_apis/runtime/runnerscalesets/${this.#options.scaleSetId}/acquirejobs`);
      url.searchParams.set('api-version', '6.0-preview');
      const request: ServiceRequest = {
        method: 'POST', url: url.toString(), endpoint: 'POST /_apis/runtime/runnerscalesets/{id}/acquirejobs',
        authorization: `Bearer ${this.#session.messageQueueAccessToken}`, body: requestIds,
      };
      const response = await sendServiceRequest(this.#options.http, request);
      if (response.status === 401) throw new QueueTokenExpired();
      if (response.status !== 200) throw serviceError(request, response);
      const value = (response.body as { value?: unknown } | undefined)?.value;
      return Array.isArray(value) ? value.filter((id): id is number => typeof id === 'number') : [];
    });
  }

  /** Deletes the session, so the next listener does not conflict. */
  async close(): Promise<'deleted' | 'not-found'> {
    return this.#options.close(this.#session.sessionId);
  }

  async #withRefresh<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof QueueTokenExpired)) throw err;
    }
    const refreshed = await this.#options.refresh(this.#session.sessionId);
    registerSecret(refreshed.messageQueueAccessToken);
    this.#session = { ...this.#session, ...refreshed };
    try {
      return await call();
    } catch (err) {
      if (err instanceof QueueTokenExpired) throw new JitpoolError('JP_GITHUB_AUTH', 'the message queue refused a freshly refreshed session token', { details: { scaleSetId: this.#options.scaleSetId } });
      throw err;
    }
  }
}

/** Parses a `RunnerScaleSetJobMessages` message; job messages of unknown kinds are skipped, as the reference does. */
function parseMessage(request: ServiceRequest, response: ServiceResponse): RunnerScaleSetMessage {
  const raw = (response.body ?? {}) as { messageId?: unknown; messageType?: unknown; body?: unknown; statistics?: unknown };
  if (raw.messageType !== 'RunnerScaleSetJobMessages' || typeof raw.messageId !== 'number') {
    throw new JitpoolError('JP_GITHUB_REQUEST', `${request.endpoint}: unsupported message type ${String(raw.messageType)}`);
  }
  const message: RunnerScaleSetMessage = {
    messageId: raw.messageId, statistics: (raw.statistics ?? null) as ScaleSetStatistics | null, jobAvailable: [], jobAssigned: [], jobStarted: [], jobCompleted: [],
  };
  let batch: unknown = [];
  if (typeof raw.body === 'string' && raw.body !== '') {
    try {
      batch = JSON.parse(raw.body);
    } catch (err) {
      throw new JitpoolError('JP_GITHUB_REQUEST', `${request.endpoint}: message ${raw.messageId} has a body that is not JSON`, { cause: err });
    }
  }
  for (const item of Array.isArray(batch) ? batch : []) {
    const type = (item as { messageType?: unknown } | null)?.messageType;
    if (type === 'JobAvailable') message.jobAvailable.push(item as JobAvailable);
    else if (type === 'JobAssigned') message.jobAssigned.push(item as JobAssigned);
    else if (type === 'JobStarted') message.jobStarted.push(item as JobStarted);
    else if (type === 'JobCompleted') message.jobCompleted.push(item as JobCompleted);
  }
  return message;
}
