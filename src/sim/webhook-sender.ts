import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../core/index.ts';
import type { FaultInjector } from './fault-injector.ts';
import type { WebhookTarget } from './types.ts';

/** GitHub gives a delivery 10 s before it counts it as failed. */
const DELIVERY_TIMEOUT_MS = 10_000;

/** A delivery held back by a `reorder` fault is sent alone if the job has no next delivery by then. */
const REORDER_HOLD_MS = 2000;

interface Delivery {
  target: WebhookTarget;
  event: string;
  body: string;
  deliveryId: string;
  isDuplicated: boolean;
  delayMs: number;
}

/**
 * Delivers webhooks like GitHub: POSTed JSON signed with HMAC-SHA256, asynchronously, in order
 * per key (one job's queued → in_progress → completed), each attempted once — GitHub never
 * redelivers a failed delivery on its own.
 */
export class WebhookSender {
  readonly #log: Logger;
  readonly #faults: FaultInjector;
  readonly #chains = new Map<string, Promise<void>>();
  /** Deliveries held back by a `reorder` fault, by order key, with the timer that flushes them alone. */
  readonly #held = new Map<string, { delivery: Delivery; timer: NodeJS.Timeout }>();
  readonly #closing = new AbortController();
  #sent = 0;
  #failed = 0;

  constructor(log: Logger, faults: FaultInjector) {
    this.#log = log;
    this.#faults = faults;
  }

  /** Deliveries answered 2xx, and deliveries that failed (error, timeout or non-2xx). */
  counts(): { sent: number; failed: number } {
    return { sent: this.#sent, failed: this.#failed };
  }

  /**
   * Queues a delivery to `target` after every earlier delivery with the same `orderKey`, applying
   * the webhook faults in force for `action` (drop, duplicate, reorder, delay).
   */
  enqueue(target: WebhookTarget, event: string, payload: unknown, orderKey: string, action: string): void {
    if (this.#closing.signal.aborted) return;
    const fault = this.#faults.webhookFault(action);
    if (fault.isDropped) {
      this.#log.debug({ event, action, orderKey }, 'webhook delivery dropped (fault)');
      return;
    }
    const delivery: Delivery = { target, event, body: JSON.stringify(payload), deliveryId: randomUUID(), isDuplicated: fault.isDuplicated, delayMs: fault.delayMs };
    const held = this.#held.get(orderKey);
    if (held) {
      // The held-back delivery goes after this later one: e.g. `completed` before `in_progress`.
      clearTimeout(held.timer);
      this.#held.delete(orderKey);
      this.#faults.noteReordered();
      this.#chain(orderKey, delivery);
      this.#chain(orderKey, held.delivery);
      return;
    }
    if (fault.isReordered) {
      const timer = setTimeout(() => {
        this.#held.delete(orderKey);
        this.#chain(orderKey, delivery);
      }, REORDER_HOLD_MS);
      timer.unref();
      this.#held.set(orderKey, { delivery, timer });
      return;
    }
    this.#chain(orderKey, delivery);
  }

  #chain(orderKey: string, delivery: Delivery): void {
    const previous = this.#chains.get(orderKey) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (delivery.delayMs > 0) await delay(delivery.delayMs, undefined, { signal: this.#closing.signal }).catch(() => undefined);
      await this.#deliver(delivery);
      // A duplicate is a redelivery: same body, same X-GitHub-Delivery.
      if (delivery.isDuplicated) await this.#deliver(delivery);
    });
    this.#chains.set(orderKey, next);
    void next.finally(() => {
      if (this.#chains.get(orderKey) === next) this.#chains.delete(orderKey);
    });
  }

  /** Resolves once every queued delivery has been attempted (held-back ones included). */
  async idle(): Promise<void> {
    while (this.#chains.size > 0 || this.#held.size > 0) {
      if (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
      else await delay(50);
    }
  }

  /** Abandons pending, held-back and in-flight deliveries. */
  close(): void {
    this.#closing.abort();
    for (const { timer } of this.#held.values()) clearTimeout(timer);
    this.#held.clear();
  }

  async #deliver({ target, event, body, deliveryId }: Delivery): Promise<void> {
    if (this.#closing.signal.aborted) return;
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
