import { validateFaultSpec, type ApiFaults, type FaultSpec, type WebhookFaults } from './fault-spec.ts';
import { mulberry32 } from './workload.ts';

/** How many faults the simulator injected, by kind (`Simulator.stats().faults`). */
export interface FaultCounts {
  /** Injected 500/502/503 answers. */
  errors: number;
  /** Injected 429 secondary-rate-limit answers. */
  throttled: number;
  /** Webhook deliveries never sent. */
  dropped: number;
  /** Webhook deliveries sent twice. */
  duplicated: number;
  /** Webhook deliveries sent after the job's next delivery. */
  reordered: number;
  /** Webhook deliveries held back for `delay`. */
  delayed: number;
  /** Registrations that never came online. */
  noBoot: number;
  /** Runners made to die mid-job. */
  died: number;
}

/** What the gate answers instead of handling one API request, if anything. */
export type ApiFaultDecision = { kind: 'none' } | { kind: 'error'; status: 500 | 502 | 503 } | { kind: 'throttle' };

/** What the sender does to one webhook delivery. */
export interface WebhookFaultDecision {
  isDropped: boolean;
  isDuplicated: boolean;
  isReordered: boolean;
  delayMs: number;
}

const ERROR_STATUSES = [500, 502, 503] as const;

/**
 * Decides the faults of a {@link FaultSpec} with seeded PRNGs, one stream per family (API,
 * webhooks, runners), so a run's fault pattern depends only on the seed and on the order of
 * requests within each family, and counts what it injected.
 */
export class FaultInjector {
  #spec: FaultSpec = {};
  readonly #randomApi: () => number;
  readonly #randomWebhook: () => number;
  readonly #randomRunner: () => number;
  #burstLeft = 0;
  #endpointBurstLeft = new Map<string, number>();
  readonly #counts: FaultCounts = { errors: 0, throttled: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0, noBoot: 0, died: 0 };

  constructor(seed: number) {
    this.#randomApi = mulberry32(seed ^ 0x5bd1e995);
    this.#randomWebhook = mulberry32(seed ^ 0x27d4eb2f);
    this.#randomRunner = mulberry32(seed ^ 0x165667b1);
  }

  /** Replaces the faults in force and arms their 429 bursts. Throws `JP_INPUT_INVALID` on a bad spec. */
  set(spec: FaultSpec): void {
    validateFaultSpec(spec);
    this.#spec = structuredClone(spec);
    this.#burstLeft = spec.api?.throttleBurst ?? 0;
    this.#endpointBurstLeft = new Map(
      Object.entries(spec.apiByEndpoint ?? {})
        .filter(([, faults]) => faults.throttleBurst !== undefined)
        .map(([endpoint, faults]) => [endpoint, faults.throttleBurst ?? 0]),
    );
  }

  /** The faults in force. */
  spec(): FaultSpec {
    return structuredClone(this.#spec);
  }

  /** The latency added to a request to `endpoint` (`METHOD /templated/path`), in ms. */
  latencyMs(endpoint: string): number {
    return this.#spec.apiByEndpoint?.[endpoint]?.latencyMs ?? this.#spec.api?.latencyMs ?? 0;
  }

  /** True when this list answer must paginate endlessly (see `ApiFaults.endlessPagesRate`). */
  endlessPages(endpoint: string): boolean {
    const rate = this.#spec.apiByEndpoint?.[endpoint]?.endlessPagesRate ?? this.#spec.api?.endlessPagesRate ?? 0;
    return rate > 0 && this.#randomApi() < rate;
  }

  /** The fault (if any) for one authenticated request to `endpoint` (`METHOD /templated/path`). */
  apiFault(endpoint: string): ApiFaultDecision {
    const faults: ApiFaults = { ...this.#spec.api, ...this.#spec.apiByEndpoint?.[endpoint] };
    const endpointBurst = this.#endpointBurstLeft.get(endpoint);
    if (endpointBurst !== undefined && endpointBurst > 0) {
      this.#endpointBurstLeft.set(endpoint, endpointBurst - 1);
      this.#counts.throttled++;
      return { kind: 'throttle' };
    }
    if (endpointBurst === undefined && this.#burstLeft > 0) {
      this.#burstLeft--;
      this.#counts.throttled++;
      return { kind: 'throttle' };
    }
    const errorRate = faults.errorRate ?? 0;
    if (errorRate > 0 && this.#randomApi() < errorRate) {
      this.#counts.errors++;
      const status = ERROR_STATUSES[Math.floor(this.#randomApi() * ERROR_STATUSES.length)] ?? 500;
      return { kind: 'error', status };
    }
    return { kind: 'none' };
  }

  /** The faults for one `workflow_job` delivery of `action` (drop wins over the others). */
  webhookFault(action: string): WebhookFaultDecision {
    const faults: WebhookFaults = { ...this.#spec.webhooks, ...this.#spec.webhooksByAction?.[action] };
    const roll = (rate: number | undefined): boolean => (rate ?? 0) > 0 && this.#randomWebhook() < (rate ?? 0);
    if (roll(faults.dropRate)) {
      this.#counts.dropped++;
      return { isDropped: true, isDuplicated: false, isReordered: false, delayMs: 0 };
    }
    const isDuplicated = roll(faults.duplicateRate);
    const isReordered = roll(faults.reorderRate);
    const delayMs = faults.delayMs ?? 0;
    if (isDuplicated) this.#counts.duplicated++;
    if (delayMs > 0) this.#counts.delayed++;
    return { isDropped: false, isDuplicated, isReordered, delayMs };
  }

  /** Counts a held-back delivery that was really sent after a later one. */
  noteReordered(): void {
    this.#counts.reordered++;
  }

  /** True when a new registration must never come online. */
  shouldNotBoot(): boolean {
    const rate = this.#spec.runners?.noBootRate ?? 0;
    const isNoBoot = rate > 0 && this.#randomRunner() < rate;
    if (isNoBoot) this.#counts.noBoot++;
    return isNoBoot;
  }

  /** True when the runner that just took a job must die halfway through it. */
  shouldDie(): boolean {
    const rate = this.#spec.runners?.dieRate ?? 0;
    const isDying = rate > 0 && this.#randomRunner() < rate;
    if (isDying) this.#counts.died++;
    return isDying;
  }

  /** What was injected so far. */
  counts(): FaultCounts {
    return { ...this.#counts };
  }
}
