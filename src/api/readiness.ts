import { describeError, type Clock } from '../core/index.ts';
import type { Provider } from '../providers/index.ts';
import type { Store, StoreHealthStatus } from '../store/index.ts';

/** Options of {@link Readiness}. */
export interface ReadinessOptions {
  store: Store;
  /** The providers by pool (one provider may serve several pools). */
  providers: ReadonlyMap<string, Provider>;
  /** Whether the webhook receiver is on. */
  isWebhookEnabled: boolean;
  clock: Clock;
  /** How long a provider check is reused (load balancers probe often). @default 5000 */
  cacheMs?: number;
  /** Longest one provider's `list()` may take before it counts as failing. @default 5000 */
  providerTimeoutMs?: number;
}

/** jitpool's own readiness, with the details only the authenticated `/status` shows. */
export interface ReadinessReport {
  ready: boolean;
  store: StoreHealthStatus;
  providers: { ok: boolean; failing: Array<{ pools: string[]; kind: string; error: string }> };
  /** Webhook intake: accepting deliveries means recording them, so it needs a writable store. */
  webhook: { ok: boolean; enabled: boolean };
}

/**
 * Readiness of jitpool itself — its store, its providers and its webhook intake — never of
 * GitHub: a load balancer must keep delivering webhooks when GitHub's API fails, since that is
 * exactly when a recorded delivery matters. GitHub's health is on `/status` and in metrics.
 */
export class Readiness {
  readonly #options: ReadinessOptions;
  #providers: { atMs: number; result: ReadinessReport['providers'] } | null = null;
  #checking: Promise<ReadinessReport['providers']> | null = null;
  #lastProbeMs = -Infinity;

  constructor(options: ReadinessOptions) {
    this.#options = options;
  }

  /** The current report (providers checked at most once per `cacheMs`). */
  async check(): Promise<ReadinessReport> {
    const { store } = this.#options;
    const alive = store.ping();
    // A quiet store would never learn that space came back: one tiny write while it is unwell, at
    // most once per `cacheMs` (probing on every check would itself fill a small disk's last pages).
    const before = store.health();
    const now = this.#options.clock.now();
    if (alive && !before.ok && before.trouble !== 'corrupt' && now - this.#lastProbeMs >= (this.#options.cacheMs ?? 5000)) {
      this.#lastProbeMs = now;
      store.probeWrite();
    }
    const health = store.health();
    const storeStatus: StoreHealthStatus = alive ? health : { ...health, ok: false, trouble: health.trouble ?? 'unavailable', message: health.message ?? 'the database does not answer' };
    const providers = await this.#checkProviders();
    const webhook = { enabled: this.#options.isWebhookEnabled, ok: !this.#options.isWebhookEnabled || storeStatus.ok };
    return { ready: storeStatus.ok && providers.ok && webhook.ok, store: storeStatus, providers, webhook };
  }

  async #checkProviders(): Promise<ReadinessReport['providers']> {
    const now = this.#options.clock.now();
    if (this.#providers && now - this.#providers.atMs < (this.#options.cacheMs ?? 5000)) return this.#providers.result;
    this.#checking ??= this.#listAll().finally(() => {
      this.#checking = null;
    });
    const result = await this.#checking;
    this.#providers = { atMs: now, result };
    return result;
  }

  async #listAll(): Promise<ReadinessReport['providers']> {
    const pools = new Map<Provider, string[]>();
    for (const [pool, provider] of this.#options.providers) pools.set(provider, [...(pools.get(provider) ?? []), pool]);
    const failing: ReadinessReport['providers']['failing'] = [];
    await Promise.all([...pools].map(async ([provider, names]) => {
      try {
        await withTimeout(provider.list(), this.#options.providerTimeoutMs ?? 5000);
      } catch (err) {
        failing.push({ pools: names, kind: provider.kind, error: describeError(err) });
      }
    }));
    return { ok: failing.length === 0, failing };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
