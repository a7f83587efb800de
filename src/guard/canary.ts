import type { GuardConfig } from '../config/index.ts';
import type { Clock } from '../core/index.ts';
import type { CanaryRecord, Store } from '../store/index.ts';

/** Where a repository's canary stands, for `jitpool canary status`. */
export interface CanaryStatus {
  owner: string;
  repo: string;
  stage: number;
  /** `smoke`, `light`, `broader`, `steady` (seed 001 §6), or `stage N` beyond those. */
  stageName: string;
  /** Trusted PRs this stage allows; null for the last stage (all PRs). */
  budget: number | null;
  used: number;
  /** True when the stage's budget is used and routing is held off until the stage is advanced. */
  isHolding: boolean;
  isFinal: boolean;
  stageStartedAt: string;
}

const STAGE_NAMES = ['smoke', 'light', 'broader'];

/** The budget of a stage: `stages[i]` trusted PRs, then unlimited. */
export function stageBudget(stages: readonly number[], stage: number): number | null {
  return stage < stages.length ? stages[stage]! : null;
}

/** A stage's name. */
export function stageName(stages: readonly number[], stage: number): string {
  if (stage >= stages.length) return 'steady';
  return stages.length === 3 ? STAGE_NAMES[stage]! : `stage ${stage}`;
}

/**
 * The canary rollout of seed 001 §6, persisted in the store: stage 0 (1 trusted PR), 1 (the next
 * 10), 2 (the next 25), 3 (all). Trusted PRs reaching self-hosted pools are counted once each;
 * when a stage's budget is used, the canary holds (the guard turns routing off) until the stage
 * is advanced.
 */
export class Canary {
  readonly #store: Store;
  readonly #config: GuardConfig['canary'];
  readonly #clock: Clock;

  constructor(store: Store, config: GuardConfig['canary'], clock: Clock) {
    this.#store = store;
    this.#config = config;
    this.#clock = clock;
  }

  /** The repository's canary record, created at stage 0 on first use. */
  record(owner: string, repo: string): CanaryRecord {
    return this.#store.guard.getCanary(owner, repo) ?? this.#store.guard.saveCanary({ owner, repo, stage: 0, stageUsed: 0, isHolding: false, stageStartedAtMs: this.#now() });
  }

  /** The status shown by `jitpool canary status`. */
  status(owner: string, repo: string): CanaryStatus {
    const record = this.record(owner, repo);
    const budget = stageBudget(this.#config.stages, record.stage);
    return {
      owner, repo,
      stage: record.stage,
      stageName: stageName(this.#config.stages, record.stage),
      budget,
      used: record.stageUsed,
      isHolding: record.isHolding,
      isFinal: budget === null,
      stageStartedAt: new Date(record.stageStartedAtMs).toISOString(),
    };
  }

  /**
   * Counts a trusted PR (`prKey`: the PR number, or the run id when there is none) in the current
   * stage, once; returns true when this made the stage's budget run out (the canary now holds).
   */
  countTrustedPullRequest(owner: string, repo: string, prKey: string): boolean {
    const record = this.record(owner, repo);
    if (!this.#store.guard.countCanaryPullRequest(owner, repo, prKey, record.stage)) return false;
    const budget = stageBudget(this.#config.stages, record.stage);
    const stageUsed = record.stageUsed + 1;
    const isHolding = budget !== null && stageUsed >= budget;
    this.#store.guard.saveCanary({ ...record, stageUsed, isHolding: record.isHolding || isHolding });
    return isHolding && !record.isHolding;
  }

  /** Moves to the next stage (no-op at the last one): budget reset, hold released. */
  advance(owner: string, repo: string): CanaryStatus {
    const record = this.record(owner, repo);
    const stage = Math.min(record.stage + 1, this.#config.stages.length);
    this.#store.guard.saveCanary({ owner, repo, stage, stageUsed: stage === record.stage ? record.stageUsed : 0, isHolding: false, stageStartedAtMs: stage === record.stage ? record.stageStartedAtMs : this.#now() });
    return this.status(owner, repo);
  }

  #now(): number {
    return this.#clock.now();
  }
}
