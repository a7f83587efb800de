import type { Controller } from '../controller/index.ts';
import type { Clock, Logger } from '../core/index.ts';
import type { GitHubApi } from '../github/index.ts';
import type { Store } from '../store/index.ts';
import type { ApiMetrics } from './metrics.ts';
import type { Readiness } from './readiness.ts';

/** What the admin routes read and steer: one running jitpool. */
export interface ApiContext {
  store: Store;
  controller: Controller;
  github: GitHubApi;
  metrics: ApiMetrics;
  logger: Logger;
  clock: Clock;
  controllerId: string;
  /** The reconcile timer (seed 004's "poll interval"). */
  reconcileIntervalSeconds: number;
  /**
   * Runs one of the commands an operator's CLI hands to the running daemon (the one writer):
   * `reconcile`, `recover`, `cleanup`, … Throws `JP_API_NOT_FOUND` for an unknown name and
   * `JP_INPUT_INVALID` for bad input. Absent: this server takes no commands.
   */
  runCommand?: (name: string, input: unknown) => Promise<unknown>;
  /** jitpool's own readiness (store, providers, webhook intake); the store alone when absent. */
  readiness?: Readiness;
}
