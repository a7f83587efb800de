import type { GitHubRunner } from '../github/index.ts';
import type { ComputeInfo } from '../providers/index.ts';
import type { RunnerRecord, RunnerState } from '../store/index.ts';

/** One runner name seen by the store, the provider and GitHub, side by side. */
export interface RunnerViewRow {
  name: string;
  pool: string | null;
  store: RunnerState | null;
  compute: ComputeInfo['state'] | null;
  github: { status: GitHubRunner['status']; busy: boolean } | null;
  /** What disagrees; empty when the three views agree. */
  problems: string[];
  /** True when the runner is mid-transition (launch or cleanup), where views legitimately differ. */
  isSettling: boolean;
}

/** The three views compared (`jitpool status`). */
export interface ViewComparison {
  rows: RunnerViewRow[];
  isAgreed: boolean;
  mismatches: number;
  /** Registrations of ours GitHub reports offline although the store has them online (counted only with `strict`). */
  offline: number;
}

const SETTLING: readonly RunnerState[] = ['requested', 'stopping', 'finished', 'failed', 'lost'];

/**
 * Compares the store's live runners, the provider's compute and GitHub's registrations carrying
 * our label, by runner name. Pure. A runner mid-launch or mid-cleanup is shown but not counted
 * as a mismatch; `strict` also counts registrations GitHub reports offline for runners the store
 * believes online (seed 001 §8's `--strict-gh`).
 */
export function compareViews(input: {
  runners: readonly RunnerRecord[];
  compute: readonly ComputeInfo[];
  registrations: readonly GitHubRunner[];
  strict?: boolean;
}): ViewComparison {
  const names = new Set<string>();
  const byStore = new Map(input.runners.map((r) => [r.name, r]));
  const byCompute = new Map(input.compute.map((c) => [c.runnerName, c]));
  const byGitHub = new Map(input.registrations.map((g) => [g.name, g]));
  for (const map of [byStore, byCompute, byGitHub]) for (const name of map.keys()) names.add(name);
  let offline = 0;
  const rows = [...names].sort().map((name): RunnerViewRow => {
    const runner = byStore.get(name);
    const compute = byCompute.get(name);
    const registration = byGitHub.get(name);
    const problems: string[] = [];
    const isSettling = runner !== undefined && SETTLING.includes(runner.state);
    if (!runner) {
      if (compute) problems.push('compute unknown to the store (orphan)');
      if (registration) problems.push('registration unknown to the store (ghost)');
    } else if (!isSettling) {
      if (!compute) problems.push('store has it, the provider has no compute');
      else if (compute.state === 'exited') problems.push('compute exited, store still has it ' + runner.state);
      if (!registration) problems.push('store has it, GitHub has no registration');
      else {
        if (registration.busy && runner.state !== 'busy') problems.push(`GitHub says busy, store says ${runner.state}`);
        if (!registration.busy && runner.state === 'busy' && registration.status === 'online') problems.push('store says busy, GitHub says idle');
        if (registration.status === 'offline' && (runner.state === 'idle' || runner.state === 'busy')) {
          offline += 1;
          if (input.strict) problems.push(`GitHub reports it offline, store says ${runner.state}`);
        }
      }
    }
    return {
      name,
      pool: runner?.pool ?? compute?.pool ?? null,
      store: runner?.state ?? null,
      compute: compute?.state ?? null,
      github: registration ? { status: registration.status, busy: registration.busy } : null,
      problems,
      isSettling,
    };
  });
  const mismatches = rows.filter((row) => row.problems.length > 0).length;
  return { rows, isAgreed: mismatches === 0, mismatches, offline };
}
