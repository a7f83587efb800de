import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { FAKE_RUNNER_SCRIPT } from '../sim/index.ts';
import { BOOKKEEPING_DIR } from './process-bookkeeping.ts';
import { argvOf, processTree, readRunnerMeta, sandboxSkipReason } from './process-test-helpers.ts';
import { ProcessProvider } from './process-provider.ts';
import { defineProviderContract } from './provider-contract.ts';
import type { ProcessSandboxOptions } from './process-sandbox.ts';

// Both controllers of a suite share one work root, so the isolation test is a real one.
function defineFor(name: string, sandbox: ProcessSandboxOptions): void {
  const workRoot = mkdtempSync(join(tmpdir(), 'jitpool-process-contract-'));
  defineProviderContract(name, {
    make: (controllerId) =>
      new ProcessProvider({ controllerId, command: [process.execPath, FAKE_RUNNER_SCRIPT, 'run'], workRoot, killGraceSeconds: 5, sandbox, logger: silentLogger() }),
    capturesOutput: true,
    skip: sandbox.kind === 'bwrap' && sandboxSkipReason(),
    async argvOf(computeId) {
      return processTree(readRunnerMeta(workRoot, computeId).pid).flatMap(argvOf);
    },
    async leftovers(computeId) {
      return [join(workRoot, computeId), join(workRoot, BOOKKEEPING_DIR, computeId)].filter((path) => existsSync(path));
    },
    async teardown() {
      rmSync(workRoot, { recursive: true, force: true });
    },
  });
}

defineFor('process (sandboxed)', { kind: 'bwrap' });
defineFor('process (sandbox: none)', { kind: 'none' });
