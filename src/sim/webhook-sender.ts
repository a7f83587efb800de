import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import type { Logger } from '../core/index.ts';
import type { WebhookTarget } from './types.ts';

/** GitHub gives a delivery 10 s before it counts it as failed. */
const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * Delivers webhooks like GitHub: POSTed JSON signed with HMAC-SHA256, asynchronously, in order
 * per key (one job's queued → in_progress → completed), each attempted once — GitHub never
 * redelivers a failed delivery on its own.
 */
export class WebhookSender {
  readonly #log: Logger;
  readonly #chains = new Map<string, Promise<void>>();
  readonly #closing = new AbortController();
  #sent = 0;
  #failed = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Deliveries answered 2xx, and deliveries that failed (error, timeout or non-2xx). */
  counts(): { sent: number; failed: number } {
    return { sent: this.#sent, failed: this.#failed };
  }

  /** Queues a delivery to `target` after every earlier delivery with the same `orderKey`. */
  enqueue(target: WebhookTarget, event: string, payload: unknown, orderKey: string): void {
    if (this.#closing.signal.aborted) return;
    const body = JSON.stringify(payload);
    const previous = this.#chains.get(orderKey) ?? Promise.resolve();
    const next = previous.then(() => this.#deliver(target, event, body));
    this.#chains.set(orderKey, next);
    void next.finally(() => {
      if (this.#chains.get(orderKey) === next) this.#chains.delete(orderKey);
    });
  }

  /** Resolves once every queued delivery has been attempted. */
  async idle(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  /** Abandons pending and in-flight deliveries. */
  close(): void {
    this.#closing.abort();
  }

  async #deliver(target: WebhookTarget, event: string, body: string): Promise<void> {
    if (this.#closing.signal.aborted) return;
    const deliveryId = randomUUID();
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'GitHub-Hookshot/sim',
          'x-github-event': event,
          'x-github-delivery': deliveryId,
          'x-github-hook-id': '1',
          'x-hub-signature-256': await sign(target.secret, body),
        },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(DELIVERY_TIMEOUT_MS), this.#closing.signal]),
      });
      // Drain the body so the connection is released.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) {
        this.#sent++;
      } else {
        this.#failed++;
        this.#log.info({ deliveryId, event, status: response.status }, 'webhook delivery refused');
      }
    } catch (err) {
      this.#failed++;
      this.#log.info({ deliveryId, event, err: err instanceof Error ? err.message : String(err) }, 'webhook delivery failed');
    }
  }
}
