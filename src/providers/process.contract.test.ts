import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { FAKE_RUNNER_SCRIPT } from '../sim/index.ts';
import { ProcessProvider } from './process-provider.ts';
import { defineProviderContract } from './provider-contract.ts';

// Both controllers share one work root, so the isolation test is a real one.
const workRoot = mkdtempSync(join(tmpdir(), 'jitpool-process-contract-'));

defineProviderContract('process', {
  make: (controllerId) =>
    new ProcessProvider({ controllerId, command: [process.execPath, FAKE_RUNNER_SCRIPT, 'run'], workRoot, killGraceSeconds: 5, logger: silentLogger() }),
  capturesOutput: true,
  async argvOf(computeId) {
    const { pid } = JSON.parse(readFileSync(join(workRoot, computeId, '.jitpool.json'), 'utf8')) as { pid: number };
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
  },
  async leftovers(computeId) {
    return existsSync(join(workRoot, computeId)) ? [`work dir ${computeId}`] : [];
  },
  async teardown() {
    rmSync(workRoot, { recursive: true, force: true });
  },
});
