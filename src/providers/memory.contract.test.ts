import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFakeRunner } from '../sim/index.ts';
import { MemoryProvider } from './memory-provider.ts';
import { RUNNER_ONLINE_MARKER } from '../runner/index.ts';
import { defineProviderContract } from './provider-contract.ts';

/**
 * The in-memory provider, with the fake runner run in-process for each compute (so online and
 * exit are real events), passes the same contract as the providers with real compute.
 */
class InProcessRunnerProvider extends MemoryProvider {
  readonly #runs = new Map<string, { stop: AbortController; dir: string; isDone: boolean }>();

  constructor(controllerId: string) {
    super(controllerId);
    this.afterCreate = (spec) => {
      const stop = new AbortController();
      const dir = mkdtempSync(join(tmpdir(), 'jitpool-memory-runner-'));
      const run = { stop, dir, isDone: false };
      this.#runs.set(spec.runnerName, run);
      const print = (line: string) => {
        if (line.includes(RUNNER_ONLINE_MARKER)) this.setOnline(spec.runnerName);
      };
      void runFakeRunner({ jitConfig: spec.jitConfig, workDir: dir, signal: stop.signal, print, printError: () => {}, connectAttempts: 2, retryDelayMs: 200 }).then(
        (code) => {
          run.isDone = true;
          this.exit(spec.runnerName, code);
          if (!this.#runs.has(spec.runnerName)) rmSync(dir, { recursive: true, force: true });
        },
      );
    };
  }

  override async delete(computeId: string): Promise<void> {
    const run = this.#runs.get(computeId);
    this.#runs.delete(computeId);
    // A runner still going removes its directory once it has stopped (see afterCreate).
    run?.stop.abort();
    if (run?.isDone) rmSync(run.dir, { recursive: true, force: true });
    await super.delete(computeId);
  }
}

defineProviderContract('memory', {
  make: (controllerId) => new InProcessRunnerProvider(controllerId),
  capturesOutput: false,
});
