/** What a provider needs to start one runner. The JIT config is a secret: env or file only, never argv or logs. */
export interface ComputeSpec {
  runnerId: string;
  runnerName: string;
  pool: string;
  controllerId: string;
  labels: string[];
  /** The encoded JIT config (secret). */
  jitConfig: string;
  /** Values for `{placeholders}` in operator settings. */
  context: Record<string, string>;
}

/** Where a piece of compute stands. */
export type ComputeState = 'starting' | 'running' | 'exited';

/** One runner's compute as the provider sees it. */
export interface ComputeInfo {
  computeId: string;
  runnerId: string;
  runnerName: string;
  pool: string;
  controllerId: string;
  state: ComputeState;
  /** Exit code once exited (null when unknown, e.g. it exited while the controller was down). */
  exitCode: number | null;
  /** True once the runner said it is listening for jobs (when the provider can tell). */
  isOnline: boolean;
  createdAtMs: number;
}

/** What a provider can do, declared rather than guessed. */
export interface ProviderCapabilities {
  /** Each runner gets its own network. */
  ownNetwork: boolean;
  /** The provider can tell when the runner is online (from its output). */
  reportsOnline: boolean;
  /** Exits are pushed at once (no need to poll). */
  pushesExit: boolean;
}

/**
 * The small contract every compute provider implements (process, docker, external, kubernetes,
 * and the in-memory one tests use). All methods are idempotent; `delete` of unknown compute is
 * a no-op. Implementations only ever touch compute labelled with their controller id.
 */
export interface Provider {
  readonly kind: string;
  readonly capabilities: ProviderCapabilities;
  /** Starts the runner's compute; resolves once it exists (not once the runner is online). */
  create(spec: ComputeSpec): Promise<ComputeInfo>;
  /** Stops and removes the compute and everything created with it (work dir, network). */
  delete(computeId: string): Promise<void>;
  /** Every piece of compute of this controller this provider can see. */
  list(): Promise<ComputeInfo[]>;
  /** One piece of compute, or null when it does not exist. */
  inspect(computeId: string): Promise<ComputeInfo | null>;
  /** The last `lines` lines of the runner's output. */
  logs(computeId: string, lines: number): Promise<string>;
  /** Called when compute changes state (exit, online); returns an unsubscribe function. */
  onChange(listener: (info: ComputeInfo) => void): () => void;
  /** Releases resources held by the provider itself (watchers, sockets); leaves compute running. */
  close(): Promise<void>;
  /** Proves the provider can launch here (e.g. the process sandbox starts); rejects with a JitpoolError naming the fix. Called before the loop starts. */
  preflight?(): Promise<void>;
}
