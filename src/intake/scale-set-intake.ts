import { JitpoolError, isJitpoolError } from '../core/index.ts';
import type { PoolRegistrar } from '../controller/index.ts';
import type { ScaleSetClient } from '../github/index.ts';
import { ScaleSetListener, type ScaleSetListenerOptions, type ScaleSetListenerStatus, type ScaleSetPool } from './scale-set-listener.ts';

/** Options of {@link ScaleSetIntake}: those of each pool's {@link ScaleSetListener}, for every pool in scale-set mode. */
export type ScaleSetIntakeOptions = Omit<ScaleSetListenerOptions, 'pool' | 'client'> & {
  /** The pools in scale-set mode, each with the client of its scope. */
  pools: ReadonlyArray<ScaleSetPool & { client: ScaleSetClient }>;
};

/**
 * The scale-set intake of every pool in `intake.mode: scale-set`: one listener per pool, the
 * desired-count level they report (`totalAssignedJobs` per pool, for the planner), and each pool's
 * registrar — runners registered through the set's JIT config endpoint, removed through the
 * Actions service (which refuses a busy one: `JobStillRunningException`).
 */
export class ScaleSetIntake {
  readonly #listeners = new Map<string, { listener: ScaleSetListener; client: ScaleSetClient }>();
  #stopping: AbortController | null = null;
  #running: Promise<void>[] = [];

  constructor(options: ScaleSetIntakeOptions) {
    for (const pool of options.pools) {
      const { pools: _pools, ...shared } = options;
      const listener = new ScaleSetListener({ ...shared, pool, client: pool.client });
      this.#listeners.set(pool.name, { listener, client: pool.client });
    }
  }

  /** Starts every listener. */
  start(): void {
    if (this.#stopping) return;
    this.#stopping = new AbortController();
    const signal = this.#stopping.signal;
    const listeners = [...this.#listeners.values()].map(({ listener }) => listener);
    // The sets are registered one after the other, in configuration order: where several sets could
    // serve a job, the order they were created in is the order jitpool's own routing prefers pools.
    const registered = (async () => {
      for (const listener of listeners) {
        if (signal.aborted) return;
        await listener.ensureScaleSet().catch(() => undefined); // its run loop retries and logs
      }
    })();
    this.#running = listeners.map(async (listener) => {
      await registered;
      await listener.run(signal);
    });
  }

  /** Stops the listeners and deletes their sessions. */
  async stop(): Promise<void> {
    this.#stopping?.abort();
    await Promise.all(this.#running);
    this.#running = [];
  }

  /** `totalAssignedJobs` per pool whose statistics are known (the planner's demand for scale-set pools). */
  demand(): Record<string, number> {
    const demand: Record<string, number> = {};
    for (const [pool, { listener }] of this.#listeners) {
      const assigned = listener.assignedJobs;
      if (assigned !== null) demand[pool] = assigned;
    }
    return demand;
  }

  /** Every listener's state. */
  status(): ScaleSetListenerStatus[] {
    return [...this.#listeners.values()].map(({ listener }) => listener.status);
  }

  /** The registrar of a scale-set pool. Throws `JP_POOL_NOT_FOUND` for a pool not in scale-set mode. */
  registrar(pool: string): PoolRegistrar {
    const entry = this.#listeners.get(pool);
    if (!entry) throw new JitpoolError('JP_POOL_NOT_FOUND', `pool ${pool} is not in scale-set mode`, { details: { pool } });
    const { listener, client } = entry;
    const setId = async (): Promise<number> => listener.scaleSetId ?? (await listener.ensureScaleSet()).id;
    return {
      async generateJitConfig(request) {
        try {
          return await client.generateJitConfig(await setId(), { name: request.name, workFolder: request.workFolder });
        } catch (err) {
          // The set vanished between two messages: re-establish it now, the launch is retried.
          if (isJitpoolError(err, 'JP_GITHUB_NOT_FOUND')) await listener.ensureScaleSet();
          throw err;
        }
      },
      getRunnerByName: (name) => client.getRunnerByName(name),
      deleteRunner: (runnerId) => client.removeRunner(runnerId),
    };
  }
}
