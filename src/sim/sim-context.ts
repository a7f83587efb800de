import type { Logger } from '../core/index.ts';
import type { SimState } from './sim-state.ts';
import type { SimScope } from './types.ts';

/** What the simulator's route modules share. */
export interface SimContext {
  state: SimState;
  log: Logger;
  /** The REST base URL, with the GHES path prefix if any (known once the server listens). */
  baseUrl(): string;
  /** `http://host:port`, where the runner protocol (`/_sim/`) lives. */
  origin(): string;
  /** Where runners reach the runner protocol (the origin, or `advertiseHost` in its place). */
  runnerOrigin(): string;
  /** Longest an acquire long poll is held. */
  acquirePollMs: number;
  /** How often a busy runner must heartbeat (a fraction of the offline threshold). */
  heartbeatIntervalMs: number;
  /** Registration tokens issued so far (the scale-set client exchanges them at `runner-registration`). */
  registrationTokens: Map<string, { scope: SimScope; expiresAtMs: number }>;
  /** Aborted when the simulator closes: ends long polls. */
  closing: AbortSignal;
}
