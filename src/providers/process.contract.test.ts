import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { FAKE_RUNNER_SCRIPT } from '../sim/index.ts';
import { BOOKKEEPING_DIR } from './process-bookkeeping.ts';
import { ProcessProvider } from './process-provider.ts';
import { defineProviderContract } from './provider-contract.ts';
import type { ProcessSandboxOptions } from './process-sandbox.ts';

/** The command lines of `pid` and every process below it (a sandbox's monitor, its init, the runner). */
export function treeArgv(pid: number): string[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Exited meanwhile.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree.flatMap((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
    } catch {
      return [];
    }
  });
}

// Both controllers of a suite share one work root, so the isolation test is a real one.
function defineFor(name: string, sandbox: ProcessSandboxOptions): void {
  const workRoot = mkdtempSync(join(tmpdir(), 'jitpool-process-contract-'));
  defineProviderContract(name, {
    make: (controllerId) =>
      new ProcessProvider({ controllerId, command: [process.execPath, FAKE_RUNNER_SCRIPT, 'run'], workRoot, killGraceSeconds: 5, sandbox, logger: silentLogger() }),
    capturesOutput: true,
    async argvOf(computeId) {
      const { pid } = JSON.parse(readFileSync(join(workRoot, BOOKKEEPING_DIR, computeId, 'meta.json'), 'utf8')) as { pid: number };
      return treeArgv(pid);
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
