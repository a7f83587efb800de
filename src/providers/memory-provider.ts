import { EventEmitter } from 'node:events';
import type { ComputeInfo, ComputeSpec, Provider, ProviderCapabilities } from './types.ts';

/**
 * An instant, in-memory provider: compute exists as soon as it is created and does nothing.
 * Used by controller tests and benchmarks; tests drive it with `setOnline` and `exit`.
 */
export class MemoryProvider implements Provider {
  readonly kind = 'memory';
  readonly capabilities: ProviderCapabilities = { ownNetwork: false, reportsOnline: true, pushesExit: true };
  readonly #controllerId: string;
  readonly #compute = new Map<string, ComputeInfo>();
  readonly #specs = new Map<string, ComputeSpec>();
  readonly #events = new EventEmitter();
  /** Every create call, in order (for assertions and benchmarks). */
  readonly created: Array<{ runnerName: string; atMs: number }> = [];
  /** Makes the next `create` calls fail with this error (tests of provider failure). */
  failNextCreates: { count: number; error: Error } | null = null;
  /** Called after each successful create (e.g. to start a fake runner). */
  afterCreate: ((spec: ComputeSpec) => void) | null = null;

  constructor(controllerId: string) {
    this.#controllerId = controllerId;
  }

  async create(spec: ComputeSpec): Promise<ComputeInfo> {
    const existing = this.#compute.get(spec.runnerName);
    if (existing) return { ...existing };
    if (this.failNextCreates && this.failNextCreates.count > 0) {
      this.failNextCreates.count -= 1;
      throw this.failNextCreates.error;
    }
    const info: ComputeInfo = {
      computeId: spec.runnerName,
      runnerId: spec.runnerId,
      runnerName: spec.runnerName,
      pool: spec.pool,
      controllerId: spec.controllerId,
      state: 'running',
      exitCode: null,
      isOnline: false,
      createdAtMs: Date.now(),
    };
    this.#compute.set(info.computeId, info);
    this.#specs.set(info.computeId, spec);
    this.created.push({ runnerName: spec.runnerName, atMs: performance.now() });
    this.afterCreate?.(spec);
    return { ...info };
  }

  async delete(computeId: string): Promise<void> {
    this.#compute.delete(computeId);
    this.#specs.delete(computeId);
  }

  async list(): Promise<ComputeInfo[]> {
    return [...this.#compute.values()].filter((info) => info.controllerId === this.#controllerId).map((info) => ({ ...info }));
  }

  async inspect(computeId: string): Promise<ComputeInfo | null> {
    const info = this.#compute.get(computeId);
    return info ? { ...info } : null;
  }

  async logs(): Promise<string> {
    return '';
  }

  onChange(listener: (info: ComputeInfo) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async close(): Promise<void> {
    this.#events.removeAllListeners();
  }

  /** The spec a runner was created with (tests read the JIT config from it). */
  spec(computeId: string): ComputeSpec | undefined {
    return this.#specs.get(computeId);
  }

  /** Marks compute online, as if the runner printed "Listening for Jobs". */
  setOnline(computeId: string): void {
    this.#update(computeId, { isOnline: true });
  }

  /** Marks compute exited with `exitCode` (null: it exited while nobody could see its code, as after a controller crash). */
  exit(computeId: string, exitCode: number | null): void {
    this.#update(computeId, { state: 'exited', exitCode, isOnline: false });
  }

  /** Makes compute vanish without an exit (a host lost, a container removed by hand). */
  vanish(computeId: string): void {
    this.#compute.delete(computeId);
  }

  /** Adds compute the store does not know (orphan tests). */
  adopt(info: ComputeInfo): void {
    this.#compute.set(info.computeId, { ...info });
  }

  #update(computeId: string, patch: Partial<ComputeInfo>): void {
    const info = this.#compute.get(computeId);
    if (!info) return;
    Object.assign(info, patch);
    this.#events.emit('change', { ...info });
  }
}
