import { JitpoolError, isJitpoolError, sleep, type Logger } from '../../core/index.ts';
import type { MessageSession } from './message-session.ts';
import type { ScaleSetClient } from './scaleset-client.ts';

/** Options of {@link openSession}. */
export interface OpenSessionOptions {
  /** A session this process's predecessor opened and may not have deleted (it crashed): deleted on the first conflict. */
  staleSessionId?: string | null;
  /** Attempts in all; ARC's listener makes 10. @default 10 */
  attempts?: number;
  /** Wait between attempts while another session holds the set; ARC waits 30 s. @default 30000 */
  retryDelayMs?: number;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * Opens the set's message session as ARC's listener does: a 409
 * `RunnerScaleSetSessionConflictException` is retried a bounded number of times, 30 s apart (a
 * session a crashed listener left behind expires on GitHub's side); when jitpool knows the id of
 * the session it left behind, it deletes that one first and tries again at once. Throws
 * `JP_SCALESET_SESSION_CONFLICT` once the attempts are spent.
 */
export async function openSession(client: ScaleSetClient, scaleSetId: number, ownerName: string, options: OpenSessionOptions): Promise<MessageSession> {
  const attempts = Math.max(1, options.attempts ?? 10);
  let stale = options.staleSessionId ?? null;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await client.createSession(scaleSetId, ownerName);
    } catch (err) {
      if (!isJitpoolError(err, 'JP_SCALESET_SESSION_CONFLICT')) throw err;
      if (stale !== null) {
        const outcome = await client.deleteSession(scaleSetId, stale);
        options.logger.info({ component: 'scaleset', scaleSetId, sessionId: stale, outcome }, 'session conflict: deleted the session a previous jitpool left behind');
        stale = null;
        continue;
      }
      if (attempt >= attempts) {
        throw new JitpoolError('JP_SCALESET_SESSION_CONFLICT', `scale set ${scaleSetId} still has another active message session after ${attempts} attempts. Stop the other listener of this scale set (another jitpool, or an ARC listener with the same set), or wait a few minutes for an abandoned session to expire, then restart`, { cause: err, details: { scaleSetId, attempts } });
      }
      options.logger.warn({ component: 'scaleset', scaleSetId, attempt, retryInMs: options.retryDelayMs ?? 30_000 }, 'scale set session held by another listener; retrying');
      await sleep(options.retryDelayMs ?? 30_000, options.signal);
    }
  }
}
